"""Recovering a payout found fraudulent (issue 20): compensating entries, never an update, and
the money recovered lowers the plan's next period by exactly that much."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from billing import apportion, recoveries, rules
from billing.ledger import account_balance, account_for, ledger_verify
from billing.models import Bill, Posting, Recovery
from billing.payouts import period_pay_claims
from billing.report import period_report
from claims.models import Claim, ClaimState
from mutual.core.errors import ServiceError
from tests.test_billing import approved_claim, members, period_for, run

pytestmark = pytest.mark.django_db
UTC = datetime.UTC
DEC_15 = datetime.datetime(2018, 12, 15, tzinfo=UTC)
DEC_20 = datetime.datetime(2018, 12, 20, 10, tzinfo=UTC)
DEC_30 = datetime.datetime(2018, 12, 30, tzinfo=UTC)
DEC_23 = datetime.datetime(2018, 12, 23, 10, tzinfo=UTC)


@pytest.fixture
def plan(db):
    from tests.factories import PlanFactory

    # No cap bites: what the members are charged is exactly what they share.
    return PlanFactory(management_fee_bp=800, per_case_cap_fen=10**12, yearly_cap_fen=10**12)


def paid_claim(plan, investigator, *, amount_fen=1_000_00):
    claim = approved_claim(plan, investigator, amount_fen=amount_fen)
    period = run(period_for(plan, cutoff=DEC_15))
    assert period_pay_claims(period_id=period.pk, now=DEC_15) == 1
    return Claim.objects.get(pk=claim.pk)


def recover(claim, by, *, amount_fen, now=DEC_20, code="fraud_found"):
    return recoveries.claim_recover(
        claim_id=claim.pk, amount_fen=amount_fen, reason_code=code,
        note="the hospital's records were forged", by=by, now=now,
    )  # fmt: skip


def test_a_paid_claim_recovered_in_full_lowers_the_next_period_by_exactly_that(
    plan, investigator, finance
):
    members(plan, 39)
    fraud = paid_claim(plan, investigator)
    approved_claim(plan, investigator, amount_fen=2_000_00, publicize_at=DEC_20)
    second = period_for(plan, cutoff=DEC_30)
    without = apportion.period_preview(period_id=second.pk)  # what it would cost: rolled back
    assert without["recovered_fen"] == 0

    recovery = recover(fraud, finance, amount_fen=1_000_00)
    assert account_balance(account_for(plan=plan, role="cash")) == 1_000_00
    assert account_balance(account_for(plan=plan, role="recovered")) == -1_000_00
    assert Claim.objects.get(pk=fraud.pk).state == ClaimState.PAID  # the books, not an edit
    assert recovery.posting.lines.count() == 2

    period = run(second)
    assert period.recovered_fen == 1_000_00
    assert period.cases_total_fen + period.fee_total_fen == without["total_fen"]
    assert period.total_fen == without["total_fen"] - 1_000_00
    assert period.charged_fen == without["charged_fen"] - 1_000_00
    bills = Bill.objects.filter(period=period).aggregate(g=Sum("gross_fen"), c=Sum("charged_fen"))
    assert bills == {"g": period.total_fen, "c": period.charged_fen}
    assert period.cases.get().recovered_fen == 1_000_00
    # Spent: nothing is owed to the members any more, and the ledger verifies.
    assert account_balance(account_for(plan=plan, role="recovered")) == 0
    assert account_balance(account_for(plan=plan, role="clearing")) == 0
    assert ledger_verify() == []
    call_command("verify_ledger")
    # The claimant of the period's case is still paid in full.
    assert period_pay_claims(period_id=period.pk, now=DEC_30) == 1
    assert account_balance(account_for(plan=plan, role="fund")) == 0
    report = period_report(period)
    assert report["totals"]["recovered_fen"] == 1_000_00
    assert report["totals"]["total_fen"] == without["total_fen"] - 1_000_00
    assert report["cases"][0]["recovered_fen"] == 1_000_00


def test_the_public_page_of_the_period_says_what_was_recovered(client, plan, investigator, finance):
    members(plan, 39)
    recover(paid_claim(plan, investigator), finance, amount_fen=500_00)
    approved_claim(plan, investigator, amount_fen=2_000_00, publicize_at=DEC_20)
    period = run(period_for(plan, cutoff=DEC_30))
    page = client.get(reverse("public-period", args=[period.pk])).content.decode()
    assert "payouts recovered from earlier claims" in page
    assert "\u2212500.00" in page  # a minus sign: less to share


def test_what_a_period_cannot_spend_waits_for_the_next(plan, investigator, finance):
    members(plan, 9)
    fraud = paid_claim(plan, investigator, amount_fen=3_000_00)
    recover(fraud, finance, amount_fen=3_000_00)
    small = approved_claim(plan, investigator, amount_fen=1_000_00, publicize_at=DEC_20)
    second = run(period_for(plan, cutoff=DEC_30))
    assert second.recovered_fen == 1_080_00  # the whole period: members owe nothing
    assert second.total_fen == 0 and second.charged_fen == 0
    assert period_pay_claims(period_id=second.pk, now=DEC_30) == 1
    assert Claim.objects.get(pk=small.pk).state == ClaimState.PAID
    approved_claim(plan, investigator, amount_fen=5_000_00, publicize_at=DEC_30)
    third = run(period_for(plan, cutoff=datetime.datetime(2019, 1, 15, tzinfo=UTC)))
    assert third.recovered_fen == 3_000_00 - 1_080_00
    assert third.total_fen == 5_400_00 - (3_000_00 - 1_080_00)
    assert account_balance(account_for(plan=plan, role="recovered")) == 0
    assert ledger_verify() == []


def test_a_recovery_recorded_after_the_cutoff_waits_for_the_next_period(
    plan, investigator, finance
):
    members(plan, 9)
    fraud = paid_claim(plan, investigator)
    approved_claim(plan, investigator, amount_fen=2_000_00, publicize_at=DEC_20)
    recover(fraud, finance, amount_fen=1_000_00, now=DEC_30 + datetime.timedelta(hours=1))
    assert run(period_for(plan, cutoff=DEC_30)).recovered_fen == 0


@pytest.mark.parametrize(
    ("amount_fen", "code", "field"),
    [
        (0, "fraud_found", "amount"),
        (-5, "fraud_found", "amount"),
        (1_000_01, "fraud_found", "amount"),  # more than was paid
        (100, "no_such_code", "reason"),
        (100, "waiting_period", "reason"),  # a refusal's code, not a recovery's
    ],
)
def test_bad_input_is_refused_and_writes_nothing(
    plan, investigator, finance, amount_fen, code, field
):
    members(plan, 9)
    fraud = paid_claim(plan, investigator)
    postings = Posting.objects.count()
    with pytest.raises(ServiceError) as refused:
        recover(fraud, finance, amount_fen=amount_fen, code=code)
    assert refused.value.field == field
    assert Recovery.objects.count() == 0 and Posting.objects.count() == postings


def test_only_a_paid_claim_and_only_what_is_left_of_its_payout(plan, investigator, finance):
    members(plan, 9)
    fraud = paid_claim(plan, investigator)
    approved = approved_claim(plan, investigator, publicize_at=DEC_20)
    with pytest.raises(ServiceError) as refused:
        recover(approved, finance, amount_fen=100)
    assert refused.value.code == "not_paid"
    recover(fraud, finance, amount_fen=600_00)
    with pytest.raises(ServiceError, match=r"400\.00 yuan"):
        recover(fraud, finance, amount_fen=600_00)
    recover(fraud, finance, amount_fen=400_00)
    with pytest.raises(ServiceError) as refused:
        recover(fraud, finance, amount_fen=1)
    assert refused.value.code == "nothing_to_recover"
    assert recoveries.recoverable_fen(claim_id=fraud.pk) == 0
    assert Recovery.objects.aggregate(s=Sum("amount_fen"))["s"] == 1_000_00


def test_only_finance_records_a_recovery(plan, investigator, reviewer, supervisor):
    members(plan, 9)
    fraud = paid_claim(plan, investigator)
    for user in (investigator, reviewer, supervisor, None):
        with pytest.raises(PermissionDenied):
            recover(fraud, user, amount_fen=100)
    assert Recovery.objects.count() == 0


def test_a_recovery_is_never_changed_nor_deleted(plan, investigator, finance):
    members(plan, 9)
    recovery = recover(paid_claim(plan, investigator), finance, amount_fen=100)
    for change in (
        lambda: Recovery.objects.filter(pk=recovery.pk).update(amount_fen=1),
        lambda: Recovery.objects.filter(pk=recovery.pk).delete(),
    ):
        with pytest.raises(IntegrityError), transaction.atomic():
            change()


def test_finance_records_a_recovery_in_the_admin(client, plan, investigator, finance):
    members(plan, 9)
    fraud = paid_claim(plan, investigator)
    client.force_login(finance)
    url = reverse("admin:billing_recovery_add")
    form = {"claim": fraud.pk, "reason": "fraud_found", "note": "forged records"}
    answer = client.post(url, form | {"amount_yuan": "2000.00"})
    assert answer.status_code == 200  # refused, with the reason on the form
    assert "1,000.00 yuan" in answer.content.decode()
    assert Recovery.objects.count() == 0
    answer = client.post(url, form | {"amount_yuan": "abc"})
    assert "a number of yuan" in answer.content.decode()
    answer = client.post(url, form | {"amount_yuan": "1000.00"})
    assert answer.status_code == 302
    assert Recovery.objects.get().amount_fen == 1_000_00
    assert client.get(reverse("admin:billing_recovery_changelist")).status_code == 200


def test_an_investigator_cannot_open_the_recovery_form(client, investigator):
    client.force_login(investigator)
    assert client.get(reverse("admin:billing_recovery_add")).status_code == 403


@given(st.lists(st.integers(0, 10**9), min_size=1, max_size=30), st.data())
def test_recovery_split_adds_up_exactly_and_never_exceeds_a_case(totals, data):
    recovered = data.draw(st.integers(0, sum(totals)))
    parts = rules.recovery_split(totals, recovered)
    assert sum(parts) == recovered
    assert all(0 <= part <= total for part, total in zip(parts, totals, strict=True))
    # In proportion: each part is within one fen of its exact share.
    whole = sum(totals)
    if whole:
        assert all(
            abs(p * whole - t * recovered) < whole for p, t in zip(parts, totals, strict=True)
        )


def test_recovery_split_refuses_to_spend_more_than_the_cases_cost():
    with pytest.raises(ValueError):
        rules.recovery_split([100, 200], 301)
