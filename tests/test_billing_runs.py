"""Periods as they run for real: the seed's case through the plan's calendar, and a run that
fails, is shown, and is retried to exact."""

import datetime

import pytest

from billing import apportion_sql, payouts, schedule, services, steps
from billing.ledger import account_balance, account_for, ledger_verify
from billing.models import FINISHED, ApportionmentPeriod, PeriodStatus, Posting, Promotion
from claims import services as claim_services
from claims.models import Claim, ClaimState
from mutual.core.timezones import local_date, local_midnight
from tests.billing_data import active, bulk_approved_claims, bulk_memberships
from tests.claim_steps import after_window, to_publicized
from tests.factories import ClaimFactory, MembershipFactory, PlanFactory
from tests.test_billing import members

pytestmark = pytest.mark.django_db
UTC = datetime.UTC


def test_the_seed_case_is_paid_on_14_december_2018_all_waived_the_sponsor_pays_324000_yuan(
    investigator,
):
    """Publicized 7 to 10 December, paid on the 14th; the 2018 joiners' promotion waives every
    share, so the sponsor pays the 300,000 yuan and the 8% fee."""
    plan = PlanFactory(management_fee_bp=800, cutoff_days=[14, 28], payout_delay_days=0)
    Promotion.objects.create(
        plan=plan,
        name="joined by 31 December 2018: cases to 31 January 2019 are on Ant Financial",
        joined_before=local_midnight(datetime.date(2019, 1, 1)),
        cases_before=local_midnight(datetime.date(2019, 2, 1)),
    )
    joined = datetime.datetime(2018, 11, 1, tzinfo=UTC)
    members(plan, 99, joined=joined)
    girl = MembershipFactory(plan=plan, joined_at=joined, in_pool_since=joined)
    claim = ClaimFactory(membership=girl, amount_requested_fen=300_000_00)
    dec_7 = local_midnight(datetime.date(2018, 12, 7)) + datetime.timedelta(hours=20)
    claim = to_publicized(claim, investigator=investigator, now=dec_7)
    assert local_date(claim.publicity_ends_at) == datetime.date(2018, 12, 10)
    claim_services.claims_close_due_windows(now=after_window(claim))

    schedule.periods_ensure(now=dec_7)
    period = ApportionmentPeriod.objects.get(plan=plan)
    assert str(period) == f"{plan.code} to 2018-12-14"
    assert local_date(period.starts_at) == datetime.date(2018, 11, 28)
    dec_14 = local_midnight(datetime.date(2018, 12, 14)) + datetime.timedelta(minutes=5)
    assert schedule.periods_claim_due(now=dec_14 - datetime.timedelta(minutes=10)) == []
    assert schedule.periods_claim_due(now=dec_14) == [period.pk]

    period = steps.period_run_inline(period_id=period.pk, now=dec_14)
    assert payouts.period_pay_claims(period_id=period.pk, now=dec_14) == 1
    assert period.total_fen == 324_000_00
    assert (period.charged_fen, period.sponsor_fen) == (0, 324_000_00)
    assert period.members_count == 100
    assert set(period.bills.values_list("charged_fen", "waived_fen", "capped_fen")) <= {
        (0, 324_000_00 // 100, 0)
    }
    assert Claim.objects.get(pk=claim.pk).state == ClaimState.PAID
    payout = Posting.objects.get(idempotency_key=f"claim:{claim.pk}:payout")
    assert local_date(payout.posted_at) == datetime.date(2018, 12, 14)
    assert account_balance(account_for(plan=plan, role="sponsor")) == 324_000_00
    assert account_balance(account_for(plan=plan, role="fund")) == 0
    assert ledger_verify() == []


def _period_with_cases(plan, *, cutoff):
    people = bulk_memberships(plan, [active(cutoff - datetime.timedelta(days=100))] * 30)
    bulk_approved_claims(
        plan,
        people[0],
        [(cutoff - datetime.timedelta(days=5), 12_345), (cutoff - datetime.timedelta(days=4), 999)],
        decided_at=cutoff - datetime.timedelta(days=1),
    )
    return ApportionmentPeriod.objects.create(
        plan=plan, starts_at=cutoff - datetime.timedelta(days=15), cutoff_at=cutoff
    )


def test_a_failed_chunk_marks_its_period_failed_blocks_the_next_and_a_retry_ends_exact(
    settings, monkeypatch, finance, django_capture_on_commit_callbacks
):
    settings.APPORTION_CHUNK_IDS = 10  # three chunks
    plan = PlanFactory(management_fee_bp=800)
    cutoff = datetime.datetime(2019, 3, 16, tzinfo=UTC)
    period = _period_with_cases(plan, cutoff=cutoff)
    later = ApportionmentPeriod.objects.create(
        plan=plan, starts_at=cutoff, cutoff_at=cutoff + datetime.timedelta(days=15)
    )
    chunk_ids = steps.period_chunks_to_bill(period_id=period.pk, now=cutoff)
    assert len(chunk_ids) == 3
    steps.period_bill_chunk(chunk_id=chunk_ids[0], now=cutoff)

    real_statement = apportion_sql.chunk_statement

    def disk_full(*args, **kwargs):
        raise OSError("could not extend file: No space left on device")

    monkeypatch.setattr(apportion_sql, "chunk_statement", disk_full)
    with pytest.raises(OSError):
        steps.period_bill_chunk(chunk_id=chunk_ids[1], now=cutoff)
    period.refresh_from_db()
    assert period.status == PeriodStatus.FAILED
    assert "No space left on device" in period.failure and period.failed_at == cutoff
    # Nothing of the failed chunk was written; beat neither resumes it nor bills the next.
    assert period.chunks.filter(done_at__isnull=False).count() == 1
    much_later = later.cutoff_at + datetime.timedelta(days=1)
    assert schedule.periods_claim_due(now=much_later) == []
    assert steps.period_chunks_to_bill(period_id=period.pk, now=cutoff) is None

    monkeypatch.setattr(apportion_sql, "chunk_statement", real_statement)  # the cause is fixed
    with django_capture_on_commit_callbacks() as callbacks:
        services.period_retry(period_id=period.pk, by=finance, now=much_later)
    assert len(callbacks) == 1  # run_period, enqueued once after the commit
    assert ApportionmentPeriod.objects.get(pk=period.pk).status == PeriodStatus.RUNNING
    period = steps.period_run_inline(period_id=period.pk, now=much_later)
    assert period.status in FINISHED and not period.failure
    assert sum(period.bills.values_list("gross_fen", flat=True)) == period.total_fen
    assert period.charged_fen + period.sponsor_fen == period.total_fen == 12_345 + 999 + 988 + 80
    assert ledger_verify() == []
    assert schedule.periods_claim_due(now=much_later) == [later.pk]  # the next one may go


def test_a_retry_needs_a_failed_period_and_the_right_to_run_periods(reviewer, finance):
    from django.core.exceptions import PermissionDenied

    from mutual.core.errors import ServiceError

    plan = PlanFactory()
    period = _period_with_cases(plan, cutoff=datetime.datetime(2019, 3, 16, tzinfo=UTC))
    with pytest.raises(ServiceError, match="not failed"):
        services.period_retry(period_id=period.pk, by=finance, now=period.cutoff_at)
    steps.period_record_failure(period_id=period.pk, error=ValueError("x"), now=period.cutoff_at)
    with pytest.raises(PermissionDenied):
        services.period_retry(period_id=period.pk, by=reviewer, now=period.cutoff_at)
    assert ApportionmentPeriod.objects.get(pk=period.pk).status == PeriodStatus.FAILED


def _billed_period(settings, investigator):
    """A period prepared in several chunks, none billed yet."""
    from tests.test_billing import approved_claim, period_for

    settings.APPORTION_CHUNK_IDS = 4
    plan = PlanFactory(management_fee_bp=800)
    members(plan, 11)
    approved_claim(plan, investigator, amount_fen=1_000_00)
    period = period_for(plan)
    ids = steps.period_chunks_to_bill(period_id=period.pk, now=period.cutoff_at)
    assert len(ids) >= 3
    return period, ids


def test_the_chunk_that_finds_every_chunk_billed_posts_the_period(settings, investigator):
    """Issue 24: the period was posted by a chord's callback, which needs each chunk's result
    in Redis; an outage between a chunk's commit and its result left the period billed and
    unposted until beat's 15-minute rule. No result is needed now: the last chunk posts."""
    from unittest import mock

    from billing import tasks

    period, ids = _billed_period(settings, investigator)
    queued = []  # the tree's parts and the payout, which the posting sends on
    with (
        mock.patch.object(tasks.build_chunk_tree, "delay", lambda *a: queued.append(a)),
        mock.patch.object(tasks.seal_period, "delay", lambda *a: queued.append(a)),
        mock.patch.object(tasks.pay_period, "delay", lambda *a: queued.append(a)),
    ):
        for chunk_id in ids[:-1]:
            tasks.apportion_chunk.apply(args=[chunk_id, period.cutoff_at.isoformat()]).get()
            assert ApportionmentPeriod.objects.get(pk=period.pk).status == PeriodStatus.RUNNING
        tasks.apportion_chunk.apply(args=[ids[-1], period.cutoff_at.isoformat()]).get()
    period.refresh_from_db()
    assert period.status == PeriodStatus.POSTED and queued
    assert tasks.apportion_chunk.ignore_result  # nothing of a chunk waits on Redis
    assert ledger_verify() == []


def test_beat_posts_a_period_whose_chunks_are_all_billed(settings, investigator):
    """The last chunk's task died after its commit: beat's next round (every five minutes)
    posts the period, not the 15-minute stale rule."""
    from unittest import mock

    from billing import tasks

    period, ids = _billed_period(settings, investigator)
    for chunk_id in ids:
        steps.period_bill_chunk(chunk_id=chunk_id, now=period.cutoff_at)
    sent = []
    with mock.patch.object(tasks.finish_period, "delay", lambda *a: sent.append(a)):
        tasks.run_due_periods((period.cutoff_at + datetime.timedelta(minutes=5)).isoformat())
    assert sent == [
        (None, period.pk, (period.cutoff_at + datetime.timedelta(minutes=5)).isoformat())
    ]


def test_a_lost_database_connection_is_retried_not_recorded_as_a_failure(settings, investigator):
    """Issue 24: during a database outage a period was neither finished nor marked failed, and
    sat running until beat's 15-minute rule. A lost connection is now no failure of the
    period: the chunk's task is sent again (backing off to 30 s) and the run goes on."""
    from unittest import mock

    from django.db import OperationalError

    from billing import tasks

    period, ids = _billed_period(settings, investigator)
    real = steps.period_bill_chunk
    calls = []

    def outage_once(**kwargs):
        calls.append(kwargs["chunk_id"])
        if len(calls) == 1:
            with steps.failures_recorded(period_id=period.pk, now=period.cutoff_at):
                raise OperationalError("server closed the connection unexpectedly")
        return real(**kwargs)

    with mock.patch.object(steps, "period_bill_chunk", outage_once):
        result = tasks.apportion_chunk.apply(args=[ids[0], period.cutoff_at.isoformat()])
    assert result.get() is True and calls == [ids[0], ids[0]]  # retried, then billed
    period.refresh_from_db()
    assert period.status == PeriodStatus.RUNNING and period.failure == ""
    assert (
        tasks.apportion_chunk.max_retries == 240 and tasks.apportion_chunk.retry_backoff_max == 30
    )


def test_any_other_error_still_fails_the_period_at_once(settings, investigator):
    period, _ids = _billed_period(settings, investigator)
    with (
        pytest.raises(ValueError),
        steps.failures_recorded(period_id=period.pk, now=period.cutoff_at),
    ):
        raise ValueError("a bug")
    period.refresh_from_db()
    assert period.status == PeriodStatus.FAILED and "a bug" in period.failure
