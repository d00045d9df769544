import datetime

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.db.models import Sum
from django.db.utils import IntegrityError

from billing import apportion, steps
from billing.ledger import account_balance, account_for
from billing.models import ApportionmentPeriod, Bill, PostingLine, Promotion
from billing.payouts import period_pay_claims
from claims import services
from claims.models import Claim, ClaimState
from members.services import membership_lapse, membership_withdraw
from tests.claim_steps import after_window, to_publicized
from tests.factories import ClaimFactory, MembershipFactory, PlanFactory

pytestmark = pytest.mark.django_db
UTC = datetime.UTC
NOV_2018 = datetime.datetime(2018, 11, 10, tzinfo=UTC)
DEC_7 = datetime.datetime(2018, 12, 7, 10, 0, tzinfo=UTC)


def approved_claim(plan, investigator, *, amount_fen=300_000_00, publicize_at=DEC_7):
    claimant = MembershipFactory(plan=plan, joined_at=NOV_2018, in_pool_since=NOV_2018)
    claim = ClaimFactory(membership=claimant, amount_requested_fen=amount_fen)
    claim = to_publicized(claim, investigator=investigator, now=publicize_at)
    services.claim_approve(claim_id=claim.pk, by=None, now=after_window(claim))
    return Claim.objects.get(pk=claim.pk)


def period_for(plan, cutoff=datetime.datetime(2018, 12, 15, tzinfo=UTC)):
    return ApportionmentPeriod.objects.create(
        plan=plan, starts_at=cutoff - datetime.timedelta(days=15), cutoff_at=cutoff
    )


def members(plan, count, joined=NOV_2018):
    return MembershipFactory.create_batch(count, plan=plan, joined_at=joined, in_pool_since=joined)


def run(period):
    return steps.period_run_inline(period_id=period.pk, now=period.cutoff_at)


def sums(period):
    return Bill.objects.filter(period=period).aggregate(
        gross=Sum("gross_fen"),
        charged=Sum("charged_fen"),
        waived=Sum("waived_fen"),
        capped=Sum("capped_fen"),
    )


def test_the_seed_scenario_everything_waived_the_sponsor_pays_324000_yuan(investigator):
    plan = PlanFactory(management_fee_bp=800)
    Promotion.objects.create(
        plan=plan,
        name="joined in 2018",
        joined_before=datetime.datetime(2018, 12, 31, 16, tzinfo=UTC),
        cases_before=datetime.datetime(2019, 1, 31, 16, tzinfo=UTC),
    )
    members(plan, 40)
    claim = approved_claim(plan, investigator)
    period = run(period_for(plan))
    assert period.total_fen == 324_000_00
    assert period.charged_fen == 0
    assert period.sponsor_fen == 324_000_00
    assert sums(period)["waived"] == 324_000_00
    assert account_balance(account_for(plan=plan, role="sponsor")) == 324_000_00
    assert account_balance(account_for(plan=plan, role="fund")) == -300_000_00
    assert account_balance(account_for(plan=plan, role="fee_income")) == -24_000_00
    assert account_balance(account_for(plan=plan, role="clearing")) == 0
    call_command("verify_ledger")
    assert period_pay_claims(period_id=period.pk, now=period.cutoff_at) == 1
    assert Claim.objects.get(pk=claim.pk).state == ClaimState.PAID
    assert account_balance(account_for(plan=plan, role="fund")) == 0


def test_per_case_cap_binds_in_a_small_plan_and_the_sponsor_takes_the_rest(investigator):
    plan = PlanFactory(management_fee_bp=800, per_case_cap_fen=10)
    members(plan, 9)
    approved_claim(plan, investigator, amount_fen=1000_00)  # 1,080 yuan over 10 sharers
    period = run(period_for(plan))
    assert period.members_count == 10
    assert Bill.objects.filter(period=period, charged_fen=10).count() == 10
    assert period.charged_fen == 100
    assert period.sponsor_fen == 1080_00 - 100
    assert sums(period)["capped"] == 1080_00 - 100


def test_remainders_go_to_the_lowest_draw_keys_of_the_period(investigator):
    from billing.draw import draw_key

    plan = PlanFactory(management_fee_bp=0, per_case_cap_fen=10**9, yearly_cap_fen=10**9)
    members(plan, 6)
    approved_claim(plan, investigator, amount_fen=100)  # 100 fen over 7 sharers: 14 x 7 + 2
    period = run(period_for(plan))
    shares = dict(Bill.objects.filter(period=period).values_list("membership_id", "charged_fen"))
    by_draw = sorted(shares, key=lambda m: draw_key(membership_id=m, period_id=period.pk))
    assert [shares[m] for m in by_draw] == [15, 15, 14, 14, 14, 14, 14]
    assert sum(shares.values()) == 100


def test_exact_across_several_chunks(investigator, settings):
    settings.APPORTION_CHUNK_IDS = 3
    plan = PlanFactory(management_fee_bp=800, per_case_cap_fen=10**9, yearly_cap_fen=10**9)
    members(plan, 20)
    approved_claim(plan, investigator, amount_fen=12_345)
    approved_claim(
        plan, investigator, amount_fen=999, publicize_at=DEC_7 + datetime.timedelta(hours=1)
    )
    period = run(period_for(plan))
    assert period.chunks_total > 3
    assert sums(period)["gross"] == period.total_fen == 12_345 + 999 + 988 + 80
    assert period.charged_fen == period.total_fen


def test_the_yearly_cap_stops_a_member_at_188_yuan(investigator):
    plan = PlanFactory(management_fee_bp=0, per_case_cap_fen=10**9, yearly_cap_fen=18_800)
    capped = members(plan, 1)
    capped.append(approved_claim(plan, investigator).membership)  # 150,000 yuan each
    first = run(period_for(plan, datetime.datetime(2018, 12, 15, tzinfo=UTC)))
    assert first.charged_fen == 2 * 18_800
    approved_claim(
        plan,
        investigator,
        amount_fen=3_000,
        publicize_at=datetime.datetime(2018, 12, 16, tzinfo=UTC),
    )
    second = run(period_for(plan, datetime.datetime(2018, 12, 31, tzinfo=UTC)))
    at_cap = Bill.objects.filter(period=second, membership__in=capped)
    assert list(at_cap.values_list("charged_fen", "year_to_date_before_fen")) == [(0, 18_800)] * 2
    assert second.charged_fen == 1_000  # only the new claimant, who had paid nothing this year
    assert second.sponsor_fen == 2_000


def test_late_joiners_leavers_and_other_plans_are_not_charged(investigator):
    plan, other = PlanFactory(), PlanFactory()
    stayers = members(plan, 3)
    late = members(plan, 1, joined=DEC_7 + datetime.timedelta(hours=1))[0]
    leaver = members(plan, 1)[0]
    membership_lapse(membership_id=leaver.pk, by=None, now=DEC_7, reason="unpaid")
    quitter = members(plan, 1)[0]
    membership_withdraw(membership_id=quitter.pk, by=quitter.member.user, now=DEC_7)
    outsiders = members(other, 5)
    approved_claim(plan, investigator, amount_fen=10_000)
    period = run(period_for(plan))
    billed = set(Bill.objects.filter(period=period).values_list("membership_id", flat=True))
    assert {m.pk for m in stayers} <= billed
    assert late.pk not in billed and leaver.pk not in billed and quitter.pk not in billed
    assert not billed & {m.pk for m in outsiders}


def test_running_a_period_or_a_chunk_twice_changes_nothing(investigator):
    plan = PlanFactory()
    members(plan, 5)
    approved_claim(plan, investigator, amount_fen=10_000)
    period = run(period_for(plan))
    lines_before = PostingLine.objects.count()
    bills_before = list(Bill.objects.order_by("pk").values_list("pk", "charged_fen"))
    assert run(period).status == period.status
    chunk = period.chunks.get()
    assert apportion.chunk_apportion(chunk_id=chunk.pk, now=period.cutoff_at) is False
    assert PostingLine.objects.count() == lines_before
    assert list(Bill.objects.order_by("pk").values_list("pk", "charged_fen")) == bills_before


def test_the_database_refuses_to_change_a_posted_line(investigator):
    plan = PlanFactory()
    members(plan, 2)
    approved_claim(plan, investigator, amount_fen=10_000)
    run(period_for(plan))
    line = PostingLine.objects.first()
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        PostingLine.objects.filter(pk=line.pk).update(debit_fen=1)
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        PostingLine.objects.filter(pk=line.pk).delete()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_verify_ledger_fails_on_a_hand_broken_posting(investigator):
    """Committed data, broken afterwards behind the triggers' back, as a rogue DBA could."""
    plan = PlanFactory()
    members(plan, 2)
    approved_claim(plan, investigator, amount_fen=10_000)
    run(period_for(plan))
    line = PostingLine.objects.filter(debit_fen__gt=0).first()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")  # past the triggers
        cursor.execute(
            "UPDATE billing_postingline SET debit_fen = debit_fen + 1 WHERE id = %s", [line.pk]
        )
    with pytest.raises(CommandError, match="ledger problem"):
        call_command("verify_ledger")


def test_the_database_refuses_an_unbalanced_posting_at_commit():
    from billing.models import Posting

    plan = PlanFactory()
    with pytest.raises(IntegrityError, match="does not balance"), transaction.atomic():
        posting = Posting.objects.create(idempotency_key="bad", description="x", posted_at=DEC_7)
        PostingLine.objects.create(
            posting=posting, account=account_for(plan=plan, role="fund"), debit_fen=5
        )
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def test_ledger_post_refuses_unbalanced_lines_before_writing():
    from billing.ledger import UnbalancedPosting, ledger_post
    from billing.models import Posting

    plan = PlanFactory()
    with pytest.raises(UnbalancedPosting):
        ledger_post(
            key="k",
            description="d",
            now=DEC_7,
            lines=[
                (account_for(plan=plan, role="fund"), 5, 0),
                (account_for(plan=plan, role="sponsor"), 0, 4),
            ],
        )
    assert not Posting.objects.filter(idempotency_key="k").exists()


def test_the_year_to_date_is_carried_from_the_last_period_only(investigator):
    plan = PlanFactory(management_fee_bp=0, per_case_cap_fen=10**9, yearly_cap_fen=10**9)
    members(plan, 4)
    approved_claim(plan, investigator, amount_fen=1_000)  # 200 fen each
    first = run(period_for(plan))
    empty = run(period_for(plan, datetime.datetime(2018, 12, 31, tzinfo=UTC)))  # no case
    approved_claim(
        plan, investigator, amount_fen=600, publicize_at=datetime.datetime(2019, 1, 2, tzinfo=UTC)
    )
    approved_claim(  # the year ends: the year to date starts again
        plan, investigator, amount_fen=700, publicize_at=datetime.datetime(2019, 1, 3, tzinfo=UTC)
    )
    third = period_for(plan, datetime.datetime(2019, 1, 15, tzinfo=UTC))
    assert empty.members_count == 0
    assert set(first.bills.values_list("year_to_date_before_fen", flat=True)) == {0}
    third = run(third)
    assert third.previous_period is None
    assert set(third.bills.values_list("year_to_date_before_fen", flat=True)) == {0}
    approved_claim(
        plan, investigator, amount_fen=800, publicize_at=datetime.datetime(2019, 1, 20, tzinfo=UTC)
    )
    fourth = run(period_for(plan, datetime.datetime(2019, 1, 31, tzinfo=UTC)))
    assert fourth.previous_period_id == third.pk
    carried = dict(third.bills.values_list("membership_id", "charged_fen"))
    for membership_id, before in fourth.bills.values_list(
        "membership_id", "year_to_date_before_fen"
    ):
        assert before == carried.get(membership_id, 0)


def assert_breakdowns_add_up(period):
    from billing.selectors import bill_breakdown

    for bill in Bill.objects.filter(period=period).select_related("membership", "period__plan"):
        rows = bill_breakdown(bill=bill)
        assert len([r for r in rows if r.claim_id is not None]) == bill.cases_count
        rounding = [r for r in rows if r.claim_id is None]
        assert all(abs(r.charged_fen) < 1 for r in rounding)  # under a fen
        assert sum(r.share_fen for r in rows) == bill.gross_fen
        assert sum(r.waived_fen for r in rows) == bill.waived_fen
        assert sum(r.case_capped_fen + r.year_capped_fen for r in rows) == bill.capped_fen
        assert sum(r.charged_fen for r in rows) == bill.charged_fen


def test_breakdowns_rebuild_every_bill_with_caps_remainders_and_promotions(investigator):
    plan = PlanFactory(management_fee_bp=800, per_case_cap_fen=40, yearly_cap_fen=80)
    Promotion.objects.create(
        plan=plan,
        name="early birds",
        joined_before=NOV_2018,
        cases_before=datetime.datetime(2019, 1, 31, tzinfo=UTC),
    )
    members(plan, 3, joined=NOV_2018 - datetime.timedelta(days=30))  # waived
    members(plan, 4)  # paying
    approved_claim(plan, investigator, amount_fen=101)
    approved_claim(
        plan, investigator, amount_fen=777, publicize_at=DEC_7 + datetime.timedelta(hours=1)
    )
    first = run(period_for(plan))
    assert_breakdowns_add_up(first)
    approved_claim(
        plan,
        investigator,
        amount_fen=5_000,
        publicize_at=datetime.datetime(2018, 12, 16, tzinfo=UTC),
    )
    second = run(period_for(plan, datetime.datetime(2018, 12, 31, tzinfo=UTC)))
    assert Bill.objects.filter(period=second, year_to_date_before_fen__isnull=False).exists()
    assert second.sponsor_fen > 0 and Bill.objects.filter(period=second, capped_fen__gt=0).exists()
    assert_breakdowns_add_up(second)


def test_preview_shows_the_exact_figures_and_writes_nothing(investigator):
    plan = PlanFactory(management_fee_bp=800, per_case_cap_fen=10)
    members(plan, 9)
    approved_claim(plan, investigator, amount_fen=1000_00)
    period = period_for(plan)
    preview = apportion.period_preview(period_id=period.pk)
    assert not Bill.objects.exists() and not period.cases.exists() and not period.chunks.exists()
    assert ApportionmentPeriod.objects.get(pk=period.pk).status == "open"
    posted = run(period)
    assert preview["total_fen"] == posted.total_fen == 1080_00
    assert (preview["members"], preview["charged_fen"], preview["sponsor_fen"]) == (
        posted.members_count,
        posted.charged_fen,
        posted.sponsor_fen,
    )
    assert preview["cases"][0]["share_fen"] == 1080_00 // 10
