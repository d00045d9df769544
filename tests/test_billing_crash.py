"""A real worker killed with SIGKILL in the middle of a period; beat resumes it, without
anyone purging the queue, and it ends exact."""

import datetime
import os
import signal
import time

import psutil
import pytest
from django.db.models import Count
from django.utils import timezone

from billing.ledger import account_balance, account_for, ledger_verify
from billing.models import FINISHED, ApportionmentPeriod, Bill, PeriodStatus, Posting
from billing.tasks import run_due_periods
from mutual.worker_process import start_worker, stop_worker
from office import bench_workload as bench

MEMBERS = 120_000
SMALL_CHUNKS = {"MUTUAL_APPORTION_CHUNK_IDS": "4000"}  # 30 chunks, a few seconds in all


def wait_for(condition, seconds=120):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def kill_tree(process):
    for child in psutil.Process(process.pid).children(recursive=True):
        os.kill(child.pid, signal.SIGKILL)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_sigkill_mid_run_then_beat_resumes_it_exact_without_purging_the_queue():
    plan, _ = bench.bench_plan(members=MEMBERS, cohorts=12)
    bench.promotion(plan)
    now = timezone.now()
    bench.approved_cases(plan=plan, count=300, now=now)
    period = ApportionmentPeriod.objects.create(
        plan=plan,
        starts_at=now - datetime.timedelta(minutes=1),
        cutoff_at=now + datetime.timedelta(seconds=1),
    )

    def chunks_done():
        return ApportionmentPeriod.objects.get(pk=period.pk).chunks_done

    due = period.cutoff_at + datetime.timedelta(seconds=1)
    worker = start_worker(concurrency=1, name="doomed", extra_env=SMALL_CHUNKS)
    try:
        assert run_due_periods(due.isoformat()) == [period.pk]  # beat hands it to the worker
        wait_for(lambda: chunks_done() >= 3)
    finally:
        kill_tree(worker)
    period.refresh_from_db()
    assert period.status == PeriodStatus.RUNNING
    assert 3 <= period.chunks_done < period.chunks_total, "the kill came too late to prove much"
    # The queue keeps whatever the dead worker left (its unacknowledged chunks, the rest of its
    # chord): nothing is purged. Beat takes the run as stale 15 minutes on and resumes it.
    assert run_due_periods((due + datetime.timedelta(minutes=5)).isoformat()) == []

    worker = start_worker(concurrency=2, name="rescuer", extra_env=SMALL_CHUNKS)
    try:
        # Beat resumes the stale run, unless the rescuer, taking the messages the dead worker
        # left (its unacknowledged chunk is delivered again), already finished the old chord.
        claimed = run_due_periods((due + datetime.timedelta(minutes=16)).isoformat())
        assert claimed == [period.pk] or (
            ApportionmentPeriod.objects.get(pk=period.pk).status in FINISHED
        )
        wait_for(lambda: ApportionmentPeriod.objects.get(pk=period.pk).status in FINISHED)
    finally:
        stop_worker(worker)

    period.refresh_from_db()
    bills = Bill.objects.filter(period=period)
    assert bills.count() == period.members_count > MEMBERS * 0.9
    assert not bills.values("membership_id").annotate(n=Count("pk")).filter(n__gt=1).exists()
    assert sum(bills.values_list("gross_fen", flat=True)) == period.total_fen
    chunk_postings = Posting.objects.filter(
        idempotency_key__startswith=f"period:{period.pk}:chunk:"
    )
    assert chunk_postings.count() == period.chunks_total
    assert account_balance(account_for(plan=plan, role="clearing")) == 0
    assert ledger_verify() == []
