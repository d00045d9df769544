"""Apportion one period over N members through real Celery workers; print one JSON line.

`seconds` is the apportionment alone: from enqueueing the period to its ledger posting (the
member set-up and the worker start are not timed). Peak RSS is sampled every 0.1 s."""

import datetime
import json
import resource
import threading
import time

import psutil
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.utils import timezone

from billing import bench
from billing.ledger import account_balance, account_for, ledger_verify
from billing.models import AccountRole, ApportionmentPeriod, PeriodStatus
from billing.tasks import run_period
from mutual.worker_process import start_worker, stop_worker


class RssSampler(threading.Thread):
    """Largest single process and largest process tree seen, in MB."""

    def __init__(self, root: psutil.Process):
        super().__init__(daemon=True)
        self.root, self.max_process, self.max_tree, self.running = root, 0.0, 0.0, True

    def run(self):
        while self.running:
            try:
                tree = [self.root, *self.root.children(recursive=True)]
                sizes = [p.memory_info().rss / 2**20 for p in tree]
            except psutil.NoSuchProcess:
                sizes = [0.0]
            self.max_process = max(self.max_process, *sizes)
            self.max_tree = max(self.max_tree, sum(sizes))
            time.sleep(0.1)


class Command(BaseCommand):
    help = "Benchmark one apportionment period over N members through real Celery workers."

    def add_arguments(self, parser):
        parser.add_argument("--members", type=int, required=True)
        parser.add_argument("--cases", type=int, default=3)
        parser.add_argument(
            "--concurrency", type=int, default=2, help="worker processes sharing the chunks"
        )
        parser.add_argument("--timeout", type=int, default=900)

    def handle(self, *args, members, cases, concurrency, timeout, **options):
        if members < cases + 1 or cases < 1:
            raise CommandError("need at least one case and more members than cases")
        now = timezone.now()
        started = time.monotonic()
        plan, built = bench.bench_plan(members=members, joined=now - datetime.timedelta(days=1))
        bench.approved_cases(plan=plan, count=cases, now=now)
        period = ApportionmentPeriod.objects.create(
            plan=plan,
            starts_at=now - datetime.timedelta(minutes=1),
            cutoff_at=now + datetime.timedelta(seconds=1),
        )
        setup_seconds = time.monotonic() - started

        worker = start_worker(concurrency=concurrency, name="bench")
        sampler = RssSampler(psutil.Process(worker.pid))
        sampler.start()
        try:
            began = time.monotonic()
            run_period.delay(period.pk, period.cutoff_at.isoformat())
            while time.monotonic() - began < timeout:
                period.refresh_from_db()
                if period.status in (PeriodStatus.POSTED, PeriodStatus.PAID):
                    break
                time.sleep(0.05)
            seconds = time.monotonic() - began
        finally:
            sampler.running = False
            sampler.join()
            stop_worker(worker)
        if period.status not in (PeriodStatus.POSTED, PeriodStatus.PAID):
            raise CommandError(f"period {period.pk} did not post within {timeout} s")

        exact = self._exact(period, expected_members=members)
        figures = {
            "members": members,
            "cases": cases,
            "chunks": period.chunks_total,
            "concurrency": concurrency,
            "seconds": round(seconds, 2),
            "members_per_second": round(members / seconds),
            "peak_rss_mb": {
                "worker_largest_process": round(sampler.max_process, 1),
                "worker_all_processes": round(sampler.max_tree, 1),
                "command": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            },
            "exact": exact,
            "setup_seconds": round(setup_seconds, 1),
            "plan_built": built,
        }
        self.stdout.write(json.dumps(figures))
        if not exact:
            raise CommandError("apportionment was not exact")

    def _exact(self, period: ApportionmentPeriod, *, expected_members: int) -> bool:
        """Bills recounted from the table, against the cases, the chunks and the ledger."""
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*), coalesce(sum(gross_fen), 0), coalesce(sum(charged_fen), 0) "
                "FROM billing_bill WHERE period_id = %s",
                [period.pk],
            )
            count, gross, charged = cursor.fetchone()
        return (
            count == period.members_count == expected_members
            and gross == period.total_fen == period.charged_fen + period.sponsor_fen
            and charged == period.charged_fen
            and account_balance(account_for(period.plan, AccountRole.CLEARING)) == 0
            and not ledger_verify()
        )
