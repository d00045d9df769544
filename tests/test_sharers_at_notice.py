"""Who shares a case (issue 19, item 2; issue 18, defect 3): the members covered at the start
of its notice. Leaving or lapsing after the notice does not take a member out of its share, and
the period bills them for it; joining after the notice does not add one. What collection cannot
recover from a member who left is borne by the sponsor."""

import datetime

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from billing import debits, whatif
from billing.ledger import account_balance, account_for, ledger_verify
from billing.models import AccountRole, ApportionmentPeriod, Bill
from billing.steps import period_run_inline
from claims import services as claim_services
from members import services
from members.models import MembershipStatus
from mutual.core.errors import ServiceError
from tests.billing_data import bulk_approved_claims
from tests.conftest import FixedCreditScores
from tests.factories import MemberFactory, MembershipFactory, PlanFactory

pytestmark = pytest.mark.django_db
UTC = datetime.UTC
STARTS = datetime.datetime(2019, 3, 1, tzinfo=UTC)
CUTOFF = datetime.datetime(2019, 3, 16, tzinfo=UTC)
DAY = datetime.timedelta(days=1)
NOTICE_A, NOTICE_B = STARTS + 3 * DAY, STARTS + 8 * DAY


@pytest.fixture
def pool():
    plan = PlanFactory(management_fee_bp=0, per_case_cap_fen=10**9, yearly_cap_fen=10**9)
    veterans = [MembershipFactory(plan=plan) for _ in range(8)]
    return plan, veterans


def _period(plan, claimant, cases):
    bulk_approved_claims(plan, claimant, cases, decided_at=CUTOFF - DAY)
    period = ApportionmentPeriod.objects.create(plan=plan, starts_at=STARTS, cutoff_at=CUTOFF)
    return period_run_inline(period_id=period.pk, now=CUTOFF)


def test_the_leaver_pays_and_the_newcomer_does_not(pool):
    plan, veterans = pool
    leaver, claimant = veterans[0], veterans[1]
    # Case A is noticed on day 3, case B on day 8; the leaver leaves on day 5 (after A,
    # before B and the cutoff); the newcomer joins on day 4 (after A, before B).
    services.membership_withdraw(
        membership_id=leaver.pk, by=leaver.member.user, now=STARTS + 5 * DAY
    )
    joined = STARTS + 4 * DAY
    newcomer = MembershipFactory(plan=plan, joined_at=joined, in_pool_since=joined)
    period = _period(plan, claimant, [(NOTICE_A, 8_000_00), (NOTICE_B, 8_000_00)])

    bills = {b.membership_id: b for b in Bill.objects.filter(period=period)}
    assert bills[leaver.pk].cases_count == 1  # A only: covered at its notice
    assert bills[leaver.pk].gross_fen == 1_000_00  # 8,000 over the 8 covered at A
    assert bills[newcomer.pk].cases_count == 1  # B only: not covered at A's notice
    assert bills[newcomer.pk].gross_fen == 1_000_00  # 8,000 over the 8 covered at B
    assert bills[veterans[2].pk].gross_fen == 2_000_00
    # Exact to the fen: the cases are paid by their sharers and no one else.
    assert sum(b.gross_fen for b in bills.values()) == period.total_fen == 16_000_00
    sharers = dict(period.cases.values_list("publicized_at", "members_count"))
    assert sharers == {NOTICE_A: 8, NOTICE_B: 8}
    report = APIClient().get(f"/api/public/periods/{period.pk}/").json()
    assert report["sharers"] == 9  # the leaver among them
    assert {(s["cover_ended_after"], s["members"]) for s in report["shares"]} >= {
        (NOTICE_A.date().isoformat(), 1)
    }
    assert ledger_verify() == []


def test_leaving_the_day_before_the_cutoff_saves_nothing(pool):
    """The auditor's free ride: watch the public list, leave before the cutoff."""
    plan, veterans = pool
    services.membership_withdraw(
        membership_id=veterans[0].pk, by=veterans[0].member.user, now=CUTOFF - DAY
    )
    period = _period(plan, veterans[1], [(NOTICE_A, 8_000_00), (NOTICE_B, 8_000_00)])
    bill = Bill.objects.get(period=period, membership=veterans[0])
    assert (bill.cases_count, bill.gross_fen) == (2, 2_000_00)


def test_withdraw_rejoin_and_claim_does_not_drop_the_cases_already_noticed(pool, investigator):
    """Issue 18, defect 3, the auditor's sequence: withdraw, rejoin and claim an accident
    today, in one second. The member stays a sharer of the cases noticed while they were
    covered (cases 9 and 10), rejoining serves a new waiting period, and their new membership
    shares only what is noticed after it. So no cool-off is needed for a rejoin within a
    period: leaving and rejoining gains nothing, and the member is uncovered in between."""
    plan, veterans = pool
    member = veterans[0]
    now = STARTS + 9 * DAY
    left = services.membership_withdraw(membership_id=member.pk, by=member.member.user, now=now)
    again = services.membership_join(
        member_id=member.member_id, plan_id=plan.pk, by=member.member.user, now=now,
        credit_provider=FixedCreditScores(700),
    )  # fmt: skip
    assert again.waiting_until == now + datetime.timedelta(days=90)
    accident = timezone.localtime(now + datetime.timedelta(minutes=1))
    claim = claim_services.claim_submit(
        membership_id=again.pk, by=member.member.user, now=now + datetime.timedelta(minutes=2),
        incident_kind="accident", incident_date=accident.date(), incident_time=accident.time(),
        diagnosis_date=accident.date(), diagnosis="fracture", hospital="Ruijin",
        amount_requested_fen=1_000_00,
    )  # fmt: skip
    assert claim.membership == again
    period = _period(plan, veterans[1], [(NOTICE_A, 8_000_00), (NOTICE_B, 8_000_00)])
    old = Bill.objects.get(period=period, membership=left)
    assert old.cases_count == 2  # cases noticed on days 3 and 8, before leaving on day 9
    assert not Bill.objects.filter(period=period, membership=again).exists()


def test_a_lapsed_member_is_billed_and_what_cannot_be_collected_goes_to_the_sponsor(pool):
    plan, veterans = pool
    lapsed = veterans[0]
    services.membership_lapse(
        membership_id=lapsed.pk, by=None, now=STARTS + 5 * DAY, reason="unpaid"
    )
    period = _period(plan, veterans[1], [(NOTICE_A, 8_000_00), (NOTICE_B, 9_000_00)])
    period.refresh_from_db()
    bill = Bill.objects.get(period=period, membership=lapsed)
    assert bill.charged_fen == 1_000_00

    class Declines:
        def debit(self, *, account_id, membership_id, amount_fen, reference):
            ok = membership_id != lapsed.pk
            return debits.DebitResult(ok=ok, error="" if ok else "declined")

    for chunk in period.chunks.all():
        debits.collect_chunk(chunk_id=chunk.pk, now=period.bills_told_at, gateway=Declines())
    receivable = account_for(plan=plan, role=AccountRole.RECEIVABLE)
    assert account_balance(receivable) == 1_000_00  # the leaver's bill, still owed
    grace = datetime.timedelta(days=plan.payment_grace_days)
    assert debits.lapse_unpaid(period_id=period.pk, now=period.bills_told_at + grace) == 0
    bill.refresh_from_db()
    assert bill.written_off_at == period.bills_told_at + grace and bill.paid_at is None
    assert account_balance(receivable) == 0
    sponsor = account_for(plan=plan, role=AccountRole.SPONSOR)
    assert account_balance(sponsor) == 1_000_00
    assert ledger_verify() == []
    # Written off once, never debited again.
    assert debits.bills_write_off(period_id=period.pk, now=period.bills_told_at + 2 * grace) == 0


def test_the_forecast_counts_the_members_covered_at_each_notice(pool, investigator):
    plan, veterans = pool
    from tests.claim_steps import to_publicized
    from tests.factories import ClaimFactory

    now = datetime.datetime(2019, 3, 5, tzinfo=UTC)
    to_publicized(ClaimFactory(membership=veterans[1]), investigator=investigator, now=now)
    services.membership_withdraw(
        membership_id=veterans[0].pk, by=veterans[0].member.user, now=now + DAY
    )
    later = now + 2 * DAY
    MembershipFactory(plan=plan, joined_at=later, in_pool_since=later)
    outcome = whatif.plan_forecast(plan=plan, now=later)
    assert outcome.members == 8  # the leaver in, the later joiner out


def test_rejoining_after_a_lapse_serves_a_new_waiting_period(plan):
    """The real plan's known case: a lapse, a rejoin 47 days later, and an illness diagnosed in
    the new wait, which is refused."""
    member = MemberFactory()
    first = datetime.datetime(2019, 1, 10, 9, 0, tzinfo=UTC)
    old = services.membership_join(
        member_id=member.pk, plan_id=plan.pk, by=member.user, now=first,
        credit_provider=FixedCreditScores(700),
    )  # fmt: skip
    lapsed_at = first + 200 * DAY
    services.membership_lapse(membership_id=old.pk, by=None, now=lapsed_at, reason="unpaid")
    rejoined_at = lapsed_at + 47 * DAY
    new = services.membership_join(
        member_id=member.pk, plan_id=plan.pk, by=member.user, now=rejoined_at,
        credit_provider=FixedCreditScores(700),
    )  # fmt: skip
    assert new.waiting_until == rejoined_at + 90 * DAY
    diagnosed = (rejoined_at + 30 * DAY).date()
    with pytest.raises(ServiceError) as refused:
        claim_services.claim_submit(
            membership_id=new.pk, by=member.user, now=rejoined_at + 31 * DAY,
            incident_kind="illness", incident_date=diagnosed, diagnosis_date=diagnosed,
            diagnosis="gastric cancer", hospital="Ruijin", amount_requested_fen=100_000_00,
        )  # fmt: skip
    assert refused.value.code == "waiting_period"
    old.refresh_from_db()
    assert old.status == MembershipStatus.LAPSED
