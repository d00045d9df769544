"""The SQL apportionment against the pure-Python rules (billing/rules/), bill for bill, on
random plans; and the fairness the rules promise."""

import datetime
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from billing import reference, rules, selectors, steps, whatif
from billing.draw import draw_key
from billing.ledger import ledger_verify
from billing.models import ApportionmentPeriod, Bill, Promotion
from claims.models import Claim
from members.models import Membership
from tests.billing_data import (
    active,
    bulk_approved_claims,
    bulk_memberships,
    posted_period_with_bills,
)
from tests.factories import PlanFactory

pytestmark = pytest.mark.django_db
UTC = datetime.UTC
STARTS = datetime.datetime(2019, 3, 1, tzinfo=UTC)
CUTOFF = datetime.datetime(2019, 3, 16, tzinfo=UTC)
HOUR = datetime.timedelta(hours=1)


def at(hours: int) -> datetime.datetime:
    return STARTS + hours * HOUR


member_rows = st.lists(
    st.tuples(
        st.integers(-24 * 800, 24 * 16),  # joined, hours from the period's start
        st.integers(0, 24 * 30),  # entered the pool this much later (a migrated member)
        st.sampled_from(["active", "active", "active", "withdrawn", "lapsed"]),
        st.integers(-24 * 20, 24 * 5),  # ended, hours from the cutoff
        st.integers(0, 30_000),  # charged earlier this year
    ),
    min_size=1,
    max_size=40,
)
case_rows = st.lists(
    st.tuples(
        st.integers(-24 * 30, 24 * 15),  # publicized, hours from the period's start
        st.integers(1, 400_000),  # payout, fen
    ),
    min_size=1,
    max_size=12,
)
promotion_rows = st.lists(
    st.tuples(st.integers(-24 * 400, 24 * 10), st.integers(-24 * 10, 24 * 20)), max_size=2
)
rules_of_plan = st.fixed_dictionaries(
    {
        "management_fee_bp": st.sampled_from([0, 800, 1000, 333]),
        "per_case_cap_fen": st.sampled_from([1, 10, 1_000, 10**9]),
        "yearly_cap_fen": st.sampled_from([0, 50, 18_800, 10**9]),
    }
)


def bills_of(period) -> dict[int, tuple]:
    return {
        row[0]: row[1:]
        for row in Bill.objects.filter(period=period).values_list(
            "membership_id",
            "cases_count",
            "gross_fen",
            "waived_fen",
            "capped_fen",
            "charged_fen",
            "year_to_date_before_fen",
        )
    }


@hypothesis_settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    plan_rules=rules_of_plan,
    people=member_rows,
    cases=case_rows,
    promotions=promotion_rows,
    chunk_ids=st.integers(1, 25),
    with_previous=st.booleans(),
    # Payouts recovered from earlier claims: none, a fen, part of the cases, more than all.
    recovered=st.sampled_from([0, 0, 1, 9_999, 10**12]),
)
def test_sql_bills_equal_the_reference_rules(
    settings, plan_rules, people, cases, promotions, chunk_ids, with_previous, recovered
):
    settings.APPORTION_CHUNK_IDS = chunk_ids
    plan = PlanFactory(**plan_rules)
    anchor = bulk_memberships(plan, [active(at(-24 * 1000))])[0]  # shares every case
    rows = []
    for joined, later, status, ended, _ in people:
        ended_at = None if status == "active" else CUTOFF + ended * HOUR
        rows.append((at(joined), at(joined + later), status, ended_at))
    memberships = [anchor, *bulk_memberships(plan, rows)]
    for joined_before, cases_before in promotions:
        Promotion.objects.create(
            plan=plan, name="promo", joined_before=at(joined_before), cases_before=at(cases_before)
        )
    bulk_approved_claims(
        plan, anchor, [(at(hours), amount) for hours, amount in cases], decided_at=at(1)
    )
    earlier = {m.pk: charged for m, (*_, charged) in zip(memberships[1:], people, strict=True)}
    if with_previous:
        posted_period_with_bills(plan, cutoff_at=STARTS, charged=earlier)
    if recovered:
        recovery_of(plan, amount_fen=recovered, claim=Claim.objects.filter(plan=plan).first())
    period = ApportionmentPeriod.objects.create(plan=plan, starts_at=STARTS, cutoff_at=CUTOFF)

    period = steps.period_run_inline(period_id=period.pk, now=CUTOFF)
    cases_and_fees = period.cases_total_fen + period.fee_total_fen
    assert period.recovered_fen == min(recovered, cases_and_fees)

    rule_cases = period.rule_cases()
    year_to_date = earlier if with_previous else {}
    expected = reference.reference_bills(
        period_id=period.pk,
        cutoff_at=CUTOFF,
        cases=rule_cases,
        members=[
            rules.Member(m.pk, m.joined_at, m.in_pool_since, m.ended_at)
            for m in Membership.objects.filter(plan=plan)
        ],
        year_to_date=year_to_date,
        per_case_cap_fen=plan.per_case_cap_fen,
        yearly_cap_fen=plan.yearly_cap_fen,
        first_id=anchor.pk,
        chunk_ids=chunk_ids,
    )
    actual = bills_of(period)
    assert actual == {
        membership_id: (
            a.cases_count,
            a.gross_fen,
            a.waived_fen,
            a.capped_fen,
            a.charged_fen,
            year_to_date.get(membership_id, 0),
        )
        for membership_id, a in expected.items()
    }
    # Exact for the period, and every charge within a fen of the rules' exact share.
    assert sum(bill[1] for bill in actual.values()) == period.total_fen
    assert period.charged_fen + period.sponsor_fen == period.total_fen
    sharers = [case.members_count for case in period.cases.order_by("publicized_at", "claim_id")]
    exact_by_member = {}
    exact_of = {}
    for membership in Membership.objects.filter(pk__in=actual):
        exact = reference.exact_charge(
            rules.Member(
                membership.pk, membership.joined_at, membership.in_pool_since, membership.ended_at
            ),
            rule_cases,
            sharers,
            per_case_cap_fen=plan.per_case_cap_fen,
            yearly_cap_fen=plan.yearly_cap_fen,
            year_to_date_fen=year_to_date.get(membership.pk, 0),
        )
        charged = actual[membership.pk][4]
        assert abs(charged - exact) < 1, (membership.pk, charged, exact)
        exact_by_member.setdefault(exact, []).append(charged)
        exact_of[membership.pk] = exact
    for charges in exact_by_member.values():
        assert max(charges) - min(charges) <= 1
    # The bill's page (bill_breakdown) lists the same lines: their exact sum is the rules' exact
    # charge, and with the rounding line they add up to the bill.
    for bill in Bill.objects.filter(period=period).select_related("membership", "period"):
        lines = selectors.bill_breakdown(bill=bill)
        cases_only = [line for line in lines if line.claim_id is not None]
        assert (
            sum((line.charged_fen for line in cases_only), Fraction(0))
            == exact_of[bill.membership_id]
        )
        assert sum((line.charged_fen for line in lines), Fraction(0)) == bill.charged_fen
    # The what-if and the forecast's arithmetic, for the member who shares every case (the
    # anchor), when no promotion waives their share: the same exact charge.
    if actual[anchor.pk][2] == 0:
        outcome = whatif.outcome_for(plan, rule_cases, sharers, year_to_date_fen=0)
        assert outcome.charged_fen == exact_of[anchor.pk]


def recovery_of(plan, *, amount_fen: int, claim) -> None:
    """A payout recovered before the cutoff, as billing.recoveries records one (its claim's
    state is not what this test is about)."""
    from django.contrib.auth.models import User

    from billing.ledger import account_for, ledger_post
    from billing.models import Recovery
    from claims.models import Reason

    posting = ledger_post(
        key=f"test:recovery:{plan.pk}",
        description="recovered",
        now=STARTS,
        lines=[
            (account_for(plan=plan, role="cash"), amount_fen, 0),
            (account_for(plan=plan, role="recovered"), 0, amount_fen),
        ],
    )
    fraud = Reason.objects.get(code="fraud_found")
    Recovery.objects.create(
        plan=plan, claim=claim, amount_fen=amount_fen, reason=fraud,
        note="test", recorded_by=User.objects.create(username=f"fin-{plan.pk}"),
        recorded_at=STARTS, posting=posting,
    )  # fmt: skip


def _uniform_plan(count: int):
    """`count` members who all share the same cases, and a claimant."""
    plan = PlanFactory(management_fee_bp=0, per_case_cap_fen=10**9, yearly_cap_fen=10**9)
    people = bulk_memberships(plan, [active(at(-24 * 100))] * count)
    return plan, people


def _extra_fen_holders(plan, claimant, *, cutoff, amount_fen) -> set[int]:
    bulk_approved_claims(
        plan, claimant, [(cutoff - 5 * 24 * HOUR, amount_fen)], decided_at=cutoff - 24 * HOUR
    )
    period = ApportionmentPeriod.objects.create(
        plan=plan, starts_at=cutoff - 15 * 24 * HOUR, cutoff_at=cutoff
    )
    period = steps.period_run_inline(period_id=period.pk, now=cutoff)
    charges = dict(period.bills.values_list("membership_id", "charged_fen"))
    base = min(charges.values())
    assert set(charges.values()) == {base, base + 1}
    return {m for m, charged in charges.items() if charged == base + 1}


def test_who_pays_the_extra_fen_is_drawn_afresh_each_period_as_chance_predicts():
    """2,000 members owe 3.5 fen each: 1,000 pay 4. Drawn independently each period, the two
    periods' 1,000 overlap in 500 on average (hypergeometric, sd 11.2); the old rule (lowest
    ids) put the same 1,000 members on it every time."""
    plan, people = _uniform_plan(2_000)
    claimant = people[0]
    first = _extra_fen_holders(plan, claimant, cutoff=CUTOFF, amount_fen=7_000)
    second = _extra_fen_holders(plan, claimant, cutoff=CUTOFF + 15 * 24 * HOUR, amount_fen=7_000)
    assert len(first) == len(second) == 1_000
    assert abs(len(first & second) - 500) < 5 * 11.2
    lowest_ids = {m.pk for m in sorted(people, key=lambda m: m.pk)[:1_000]}
    assert abs(len(first & lowest_ids) - 500) < 5 * 11.2
    assert abs(len(second & lowest_ids) - 500) < 5 * 11.2


def test_the_draw_is_the_documented_key_recomputable_without_the_database():
    plan, people = _uniform_plan(50)
    holders = _extra_fen_holders(plan, people[0], cutoff=CUTOFF, amount_fen=50 * 7 + 20)
    period = ApportionmentPeriod.objects.get(plan=plan)
    by_key = sorted(
        (m.pk for m in people), key=lambda m: draw_key(membership_id=m, period_id=period.pk)
    )
    assert holders == set(by_key[:20])


def test_a_5000_case_period_with_a_promotion_and_caps_is_exact(settings):
    """Thousands of cases with members joining between them: the statements do not grow with
    the cases (arrays as parameters), and the bills equal the reference."""
    settings.APPORTION_CHUNK_IDS = 400
    plan = PlanFactory(management_fee_bp=800, per_case_cap_fen=3, yearly_cap_fen=4_000)
    rows = [active(at(-24 * 700 + i * 24)) for i in range(900)]  # cohorts over two years
    rows += [active(at(i)) for i in range(0, 360, 2)]  # one by one through the period
    people = bulk_memberships(plan, rows)
    Promotion.objects.create(
        plan=plan, name="early", joined_before=at(-24 * 500), cases_before=at(24 * 7)
    )
    cases = [(at(i * 360 // 5_000), 1_000_00 + i * 37) for i in range(5_000)]
    bulk_approved_claims(plan, people[0], cases, decided_at=at(1))
    previous = posted_period_with_bills(
        plan, cutoff_at=STARTS, charged={m.pk: (m.pk * 7919) % 4_100 for m in people}
    )
    period = ApportionmentPeriod.objects.create(plan=plan, starts_at=STARTS, cutoff_at=CUTOFF)
    period = steps.period_run_inline(period_id=period.pk, now=CUTOFF)
    assert period.cases.count() == 5_000 and period.cohorts.count() > 100
    assert period.previous_period_id == previous.pk
    bills = bills_of(period)
    assert sum(bill[1] for bill in bills.values()) == period.total_fen
    assert period.charged_fen + period.sponsor_fen == period.total_fen
    assert any(bill[2] for bill in bills.values()), "the promotion waived nothing"
    assert any(bill[3] for bill in bills.values()), "no cap bit"
    assert ledger_verify() == []
    expected = reference.reference_bills(
        period_id=period.pk,
        cutoff_at=CUTOFF,
        cases=period.rule_cases(),
        members=[rules.Member(m.pk, m.joined_at, m.in_pool_since) for m in people],
        year_to_date={m.pk: (m.pk * 7919) % 4_100 for m in people},
        per_case_cap_fen=plan.per_case_cap_fen,
        yearly_cap_fen=plan.yearly_cap_fen,
        first_id=people[0].pk,
        chunk_ids=400,
    )
    assert {m: bill[:5] for m, bill in bills.items()} == {
        m: (a.cases_count, a.gross_fen, a.waived_fen, a.capped_fen, a.charged_fen)
        for m, a in expected.items()
    }


def test_group_rounding_is_exact_and_within_a_fen_of_the_fractions():
    """The cohort arithmetic alone, against Fraction sums, on awkward sharer counts."""
    cases = [
        rules.Case(1, at(0), 100, 7),
        rules.Case(2, at(1), 99_999, 0, at(-5)),
        rules.Case(3, at(1), 1, 0),
        rules.Case(4, at(2), 300_000_00, 24_000_00),
    ]
    calendar = rules.Calendar.of(cases)
    per_cohort = {0: 7, 1: 3, 2 * calendar.classes: 11, 3 * calendar.classes + 1: 13}
    sharers = rules.sharers_per_case(cases, calendar, per_cohort)
    assert sharers == [10, 10, 10, 21]  # the last cohort came after every case
    shares = rules.cohort_shares(cases, calendar, sharers, per_case_cap_fen=500, cohorts=per_cohort)
    for cohort, share in shares.cohorts.items():
        skipped, waiver_class = divmod(cohort, calendar.classes)
        shared = [
            (c, n)
            for c, n in zip(cases, sharers, strict=True)
            if calendar.publicity.index(c.publicized_at) >= skipped
        ]
        gross = sum((Fraction(c.total_fen, n) for c, n in shared), Fraction(0))
        assert shares.fen(share.gross) == gross
        waived = sum(
            (
                Fraction(c.total_fen, n)
                for c, n in shared
                if c.waive_if_joined_before and waiver_class == 0
            ),
            Fraction(0),
        )
        assert shares.fen(share.net) == gross - waived
    groups = {(0, c): n for c, n in per_cohort.items() if c // calendar.classes < 4}
    extras = rules.group_extras(
        shares, groups, total_fen=sum(c.total_fen for c in cases), period_id=1
    )
    paid = sum(
        groups[key] * shares.base(shares.cohorts[key[1]].gross) + extra.gross
        for key, extra in extras.items()
    )
    assert paid == sum(c.total_fen for c in cases)
    for key, extra in extras.items():
        share = shares.cohorts[key[1]]
        for draw in range(1, groups[key] + 1):
            amounts = rules.member_amounts(
                share, shares, draw=draw, extras=extra, year_to_date_fen=0, yearly_cap_fen=10**9
            )
            assert amounts.waived_fen >= 0 and amounts.capped_fen >= 0
            assert abs(amounts.gross_fen - shares.fen(share.gross)) < 1
            assert abs(amounts.charged_fen - shares.fen(share.payable)) < 1
