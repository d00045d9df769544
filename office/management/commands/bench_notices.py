"""Write and dispatch one period's bill notices over N members; print one JSON line.

The plan is bench_apportion's `bench-N-c1` (built once, then reused); each run adds a posted
period whose bills are written directly, and its billing chunks. Writing: every chunk's
INSERT ... SELECT, one after the other in this process (`write_seconds`). Dispatching: one
delivery task per chunk on a real Celery worker (`--concurrency` processes), sharing the
event's batches (claim by conditional UPDATE, SKIP LOCKED), through a gateway that discards
(`DiscardingNotificationGateway`): our side only, not a provider's."""

import datetime
import json
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.utils import timezone

from billing.models import PeriodChunk
from mutual.worker_process import start_worker, stop_worker
from notifications import services
from notifications.models import Notice, NoticeRun
from notifications.tasks import deliver_event
from office import bench_workload as bench


class Command(BaseCommand):
    help = "Benchmark writing and dispatching one period's bill notices over N members."

    def add_arguments(self, parser):
        parser.add_argument("--members", type=int, required=True)
        parser.add_argument("--concurrency", type=int, default=2)
        parser.add_argument("--timeout", type=int, default=3600)

    def handle(self, *args, members, concurrency, timeout, **options):
        started = time.monotonic()
        plan, built = bench.bench_plan(members=members, cohorts=1)
        now = timezone.now()
        period = bench.earlier_period(plan, cutoff_at=now - datetime.timedelta(seconds=1))
        bounds = list(plan.memberships.order_by("pk").values_list("pk", flat=True)[:1]) + list(
            plan.memberships.order_by("-pk").values_list("pk", flat=True)[:1]
        )
        step = settings.APPORTION_CHUNK_IDS
        PeriodChunk.objects.bulk_create(
            PeriodChunk(period=period, index=i, first_id=lo, last_id=min(lo + step - 1, bounds[1]))
            for i, lo in enumerate(range(bounds[0], bounds[1] + 1, step))
        )
        event = f"bill:{period.pk}"
        run = NoticeRun.objects.create(
            event=event,
            kind="bill",
            params={"period_id": period.pk, "period": str(period)},
            created_at=now,
        )
        setup_seconds = time.monotonic() - started

        # The worker boots while the notices are written: its start is not timed.
        gateway = "notifications.gateways.DiscardingNotificationGateway"
        worker = start_worker(
            concurrency=concurrency,
            name="bench-notices",
            extra_env={"MUTUAL_NOTIFICATION_GATEWAY": gateway},
        )
        try:
            return self._measure(run, period, event, worker, now, timeout, concurrency, members,
                                 setup_seconds, built)  # fmt: skip
        finally:
            stop_worker(worker)

    def _measure(self, run, period, event, worker, now, timeout, concurrency, members,
                 setup_seconds, built):  # fmt: skip
        began = time.monotonic()
        written = sum(
            services.run_write_chunk(run_id=run.pk, lo=lo, hi=hi, now=now)
            for lo, hi in services.run_chunks(run_id=run.pk)
        )
        write_seconds = time.monotonic() - began
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {Notice._meta.db_table}")
        time.sleep(max(0.0, 5 - write_seconds))  # a worker needs about 5 s to be ready

        began = time.monotonic()
        for _ in range(period.chunks.count()):
            deliver_event.delay(event)
        pending = Notice.objects.filter(event=event, status__in=["pending", "sending"])
        while pending.exists():
            if time.monotonic() - began > timeout:
                raise CommandError(f"notices still pending after {timeout} s")
            time.sleep(0.2)
        dispatch_seconds = time.monotonic() - began
        sent = Notice.objects.filter(event=event, status="sent").count()
        figures = {
            "members": members,
            "notices": written,
            "sent": sent,
            "chunks": period.chunks.count(),
            "concurrency": concurrency,
            "write_seconds": round(write_seconds, 2),
            "write_per_second": round(written / write_seconds),
            "dispatch_seconds": round(dispatch_seconds, 2),
            "dispatch_per_second": round(sent / dispatch_seconds),
            "setup_seconds": round(setup_seconds, 1),
            "plan_built": built,
        }
        self.stdout.write(json.dumps(figures))
        if sent != written:
            raise CommandError(f"{written} written but {sent} sent")
