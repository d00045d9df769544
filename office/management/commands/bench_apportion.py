"""Apportion one period over N members through real Celery workers; print one JSON line.

The workload is the real product's (office/bench_workload.py): members in cohorts over two years and
joining through the period, thousands of cases publicized across it, a promotion, and an
earlier posted period this year so that the yearly cap binds for some members.

`seconds` is the apportionment alone: from enqueueing the period to its ledger posting (the
member set-up and the worker start are not timed). `tree_seconds` is what the bills' Merkle tree
adds after it (issue 12: at most 30% of `seconds`): from the posting to the signed head, the
payouts included. Peak RSS is sampled every 0.1 s. The workers' queue is drained, untimed,
before the clock starts (`backlog_seconds`) and after the seal (`drained_seconds`: the
period's notices and payouts), so that a run never shares its workers with an earlier one's."""

import datetime
import json
import resource
import threading
import time

import psutil
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connection
from django.utils import timezone

from billing.ledger import account_balance, account_for, ledger_verify
from billing.models import FINISHED, AccountRole, ApportionmentPeriod, PeriodStatus
from billing.tasks import run_period
from mutual.celery import app
from mutual.worker_process import start_worker, stop_worker
from office import bench_workload as bench


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
            "--cohorts",
            type=int,
            default=48,
            help="entry cohorts over two years, the last joining through the period",
        )
        parser.add_argument(
            "--simple",
            action="store_true",
            help="no promotion and no earlier period this year (the easy workload)",
        )
        parser.add_argument(
            "--concurrency", type=int, default=2, help="worker processes sharing the chunks"
        )
        parser.add_argument("--timeout", type=int, default=900)
        parser.add_argument(
            "--leavers",
            type=float,
            default=0.0,
            help="this share of the members leaves during the fortnight of the notices (0.05)",
        )
        parser.add_argument(
            "--history",
            type=int,
            default=0,
            help="posted periods the database holds before the run (12: half a year); kept",
        )
        parser.add_argument(
            "--no-households",
            action="store_true",
            help="every member an account holder (plan bench-N-cK-solo), not 30%% dependants",
        )

    def handle(self, *args, members, cases, cohorts, simple, concurrency, timeout, **options):
        if members < cohorts or cases < 1 or cohorts < 1:
            raise CommandError("need at least one case and one cohort, and a member per cohort")
        leavers, history = options["leavers"], options["history"]
        if not 0 <= leavers < 1 or history < 0:
            raise CommandError("--leavers is a share below 1, --history zero or more")
        started = time.monotonic()
        plan, built = bench.bench_plan(
            members=members, cohorts=cohorts, households=not options["no_households"]
        )
        history_added = bench.history(plan, periods=history, before=timezone.now())
        left = bench.leavers(plan, share=leavers, now=timezone.now())
        unfinished = ApportionmentPeriod.objects.filter(
            plan=plan, cutoff_at__lt=timezone.now()
        ).exclude(status__in=FINISHED)
        if unfinished.exists():
            raise CommandError(f"{plan.code} has an unfinished period from an earlier run: drop it")
        now = timezone.now()
        if not simple:
            bench.promotion(plan)
            bench.earlier_period(plan, cutoff_at=now - datetime.timedelta(seconds=1))
        now = timezone.now()
        bench.approved_cases(plan=plan, count=cases, now=now)
        period = ApportionmentPeriod.objects.create(
            plan=plan,
            starts_at=now - datetime.timedelta(minutes=1),
            cutoff_at=now + datetime.timedelta(seconds=1),
        )
        self._checkpoint()
        setup_seconds = time.monotonic() - started

        stale = self._unacked()  # no worker runs yet: whatever is held is a dead worker's
        worker = start_worker(concurrency=concurrency, name="bench")
        sampler = RssSampler(psutil.Process(worker.pid))
        try:
            # What an earlier run left queued (its notices' delivery) is done before the clock
            # starts: it would share the workers with this period, which production never sees.
            backlog_seconds = self._drain(timeout, stale=stale)
            sampler.start()
            began = time.monotonic()
            run_period.delay(period.pk, period.cutoff_at.isoformat())
            while time.monotonic() - began < timeout:
                period.refresh_from_db()
                if period.status in (*FINISHED, PeriodStatus.FAILED):
                    break
                time.sleep(0.05)
            seconds = time.monotonic() - began
            while period.status in FINISHED and time.monotonic() - began < timeout:
                if period.merkle_root:
                    break
                time.sleep(0.05)
                period.refresh_from_db()
            sealed_seconds = time.monotonic() - began
            sampler.running = False
            # The rest of the period's work (payouts, its notices), untimed, so that the next
            # run starts on a quiet queue.
            drained_seconds = self._drain(timeout, stale=stale)
        finally:
            sampler.running = False
            if sampler.is_alive():
                sampler.join()
            stop_worker(worker)
        if period.status == PeriodStatus.FAILED:
            raise CommandError(f"period {period.pk} failed: {period.failure}")
        if period.status not in FINISHED:
            raise CommandError(f"period {period.pk} did not post within {timeout} s")

        if not period.merkle_root:
            raise CommandError(f"period {period.pk} was not sealed within {timeout} s")
        exact = self._exact(period)
        figures = {
            "members": members,
            "bills": period.members_count,
            "cases": cases,
            "cohorts": cohorts,
            "workload": "simple" if simple else "promotion, earlier period, yearly cap",
            "member_cohorts": period.cohorts.count(),
            **self._biting(period),
            "chunks": period.chunks_total,
            "concurrency": concurrency,
            "seconds": round(seconds, 2),
            "members_per_second": round(members / seconds),
            "tree_seconds": round(sealed_seconds - seconds, 2),
            "tree_share": round((sealed_seconds - seconds) / seconds, 3),
            "peak_rss_mb": {
                "worker_largest_process": round(sampler.max_process, 1),
                "worker_all_processes": round(sampler.max_tree, 1),
                "command": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            },
            "exact": exact,
            "setup_seconds": round(setup_seconds, 1),
            "backlog_seconds": round(backlog_seconds, 1),
            "drained_seconds": round(drained_seconds, 1),
            "plan_built": built,
            "households": not options["no_households"],
            "dependants": self._dependants(plan),
            "leavers": left if leavers else 0,
            "leaver_bills": self._leaver_bills(period),
            "history_periods": self._history(plan, period),
            "history_added": history_added,
        }
        self.stdout.write(json.dumps(figures))
        if not exact:
            raise CommandError("apportionment was not exact")

    def _dependants(self, plan) -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM members_membership m JOIN members_member p "
                "ON p.id = m.member_id WHERE m.plan_id = %s AND p.payer_id IS NOT NULL",
                [plan.pk],
            )
            return cursor.fetchone()[0]

    def _leaver_bills(self, period) -> int:
        """Bills of members whose cover ended before the cutoff: they share what was noticed
        while they were covered."""
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM billing_bill b JOIN members_membership m "
                "ON m.id = b.membership_id WHERE b.period_id = %s AND m.ended_at < %s",
                [period.pk, period.cutoff_at],
            )
            return cursor.fetchone()[0]

    def _history(self, plan, period) -> int:
        return (
            ApportionmentPeriod.objects.filter(plan=plan, status__in=FINISHED)
            .exclude(pk=period.pk)
            .count()
        )

    def _unacked(self) -> int:
        with app.connection_for_write() as conn:
            channel = conn.default_channel
            return channel.client.hlen(channel.unacked_key)

    def _drain(self, timeout: int, *, stale: int = 0) -> float:
        """Wait until the workers' queue is empty and no message is held by a worker (the Redis
        transport's unacked set, less the `stale` ones a worker killed earlier left there for
        the visibility timeout); return how long that took."""
        began = time.monotonic()
        with app.connection_for_write() as conn:
            channel = conn.default_channel
            queue = settings.CELERY_TASK_DEFAULT_QUEUE
            while time.monotonic() - began < timeout:
                held = channel.client.hlen(channel.unacked_key) - stale
                if not channel._size(queue) and held <= 0:
                    break
                time.sleep(0.2)
            else:
                raise CommandError(f"the workers' queue did not drain within {timeout} s")
        return time.monotonic() - began

    def _checkpoint(self) -> None:
        """Flush what the set-up wrote (ten million earlier bills) before the clock starts, so
        that the run does not pay for writing the set-up's pages. Needs a superuser (the
        embedded server's); elsewhere the run is timed without it."""
        try:
            with connection.cursor() as cursor:
                cursor.execute("CHECKPOINT")
        except DatabaseError as error:
            self.stderr.write(f"no CHECKPOINT before the run: {error}")

    def _biting(self, period: ApportionmentPeriod) -> dict[str, int]:
        """How many bills the promotion, the caps and the year to date touched."""
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FILTER (WHERE waived_fen > 0), "
                "count(*) FILTER (WHERE capped_fen > 0), "
                "count(*) FILTER (WHERE year_to_date_before_fen > 0) "
                "FROM billing_bill WHERE period_id = %s",
                [period.pk],
            )
            waived, capped, with_year_to_date = cursor.fetchone()
        return {
            "bills_waived": waived,
            "bills_capped": capped,
            "bills_with_year_to_date": with_year_to_date,
            "sponsor_fen": period.sponsor_fen,
        }

    def _exact(self, period: ApportionmentPeriod) -> bool:
        """Bills recounted from the table, against the cases, the chunks and the ledger."""
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*), coalesce(sum(gross_fen), 0), coalesce(sum(charged_fen), 0) "
                "FROM billing_bill WHERE period_id = %s",
                [period.pk],
            )
            count, gross, charged = cursor.fetchone()
        return (
            count == period.members_count
            and gross == period.total_fen == period.charged_fen + period.sponsor_fen
            and charged == period.charged_fen
            and account_balance(account_for(plan=period.plan, role=AccountRole.CLEARING)) == 0
            and not ledger_verify()
        )
