import datetime

import pytest

from billing.models import ApportionmentPeriod, Bill, PeriodStatus, Posting
from billing.tasks import run_period
from claims.models import Claim, ClaimState
from tests.factories import PlanFactory
from tests.test_billing import approved_claim, members, period_for


@pytest.mark.worker
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_period_runs_through_real_workers_in_chunks_and_pays(celery_worker, investigator):
    plan = PlanFactory(management_fee_bp=800, per_case_cap_fen=10**9, yearly_cap_fen=10**9)
    members(plan, 30)
    claim = approved_claim(plan, investigator, amount_fen=12_345)
    period = period_for(plan)
    run_period.delay(period.pk, period.cutoff_at.isoformat()).get(timeout=60)
    deadline = datetime.datetime.now() + datetime.timedelta(seconds=60)
    while datetime.datetime.now() < deadline:
        period.refresh_from_db()
        if period.status == PeriodStatus.PAID:
            break
    assert period.status == PeriodStatus.PAID
    assert period.chunks_done == period.chunks_total >= 1
    assert sum(Bill.objects.filter(period=period).values_list("gross_fen", flat=True)) == (
        12_345 + 988
    )
    assert Claim.objects.get(pk=claim.pk).state == ClaimState.PAID
    assert ApportionmentPeriod.objects.get(pk=period.pk).charged_fen == 12_345 + 988
    # Then the bills' tree: each chunk's part on the workers, the last part seals, and the
    # root goes into the ledger beside the money.
    while datetime.datetime.now() < deadline and not period.merkle_root:
        period.refresh_from_db()
    assert len(period.merkle_root) == 64 and period.merkle_size == period.members_count == 31
    assert Posting.objects.get(idempotency_key=f"period:{period.pk}:merkle-root").memo


@pytest.mark.worker
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_beat_task_opens_runs_and_pays_a_due_period(celery_worker, investigator):
    from billing.schedule import period_bounds
    from billing.tasks import run_due_periods

    plan = PlanFactory(management_fee_bp=800, per_case_cap_fen=10**9, yearly_cap_fen=10**9)
    members(plan, 5)
    claim = approved_claim(plan, investigator, amount_fen=10_000)
    _, cutoff = period_bounds(plan, claim.decided_at.date())
    after_cutoff = (cutoff + datetime.timedelta(minutes=1)).isoformat()
    run_due_periods.delay(claim.decided_at.isoformat()).get(timeout=60)  # opens the period
    period = ApportionmentPeriod.objects.get(plan=plan, cutoff_at=cutoff)
    assert period.status == PeriodStatus.OPEN
    assert run_due_periods.delay(after_cutoff).get(timeout=60) == [period.pk]
    assert run_due_periods.delay(after_cutoff).get(timeout=60) == []  # claimed only once
    deadline = datetime.datetime.now() + datetime.timedelta(seconds=60)
    while datetime.datetime.now() < deadline and period.status != PeriodStatus.PAID:
        period.refresh_from_db()
    assert period.status == PeriodStatus.PAID
    assert Claim.objects.get(pk=claim.pk).state == ClaimState.PAID
