"""Cover follows age (issue 19, item 3): a claim's cover is the plan's band for the patient's
age on the day of the event; at the plan's maximum age the member's cover ends, or moves to
the plan for 60 to 70 year olds with no new waiting period; either way they share nothing
noticed afterwards in the plan they left. Both tested across a cutoff."""

import datetime
import zoneinfo

import pytest
import time_machine
from rest_framework.test import APIClient

from billing.models import ApportionmentPeriod, Bill
from billing.steps import period_run_inline
from claims import services as claims
from claims.catalogue import catalogue_load_senior
from members import ages
from members.models import EndReason, Membership, MembershipStatus
from mutual.core.errors import ServiceError
from notifications.models import Notice
from tests.billing_data import bulk_approved_claims
from tests.claim_steps import after_window, to_publicized
from tests.factories import MemberFactory, MembershipFactory, PlanFactory

pytestmark = pytest.mark.django_db
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


def local(*args) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=SHANGHAI)


def _illness(membership, *, day, amount, now=None, condition=None):
    return claims.claim_submit(
        membership_id=membership.pk, by=membership.member.payer.user
        if membership.member.payer_id else membership.member.user,
        now=now or local(day.year, day.month, day.day, 12), incident_kind="illness",
        incident_date=day, diagnosis_date=day, diagnosis="lymphoma", hospital="Ruijin",
        amount_requested_fen=amount, condition=condition,
    )  # fmt: skip


def _period(plan, claimant, cases, *, starts, cutoff):
    bulk_approved_claims(plan, claimant, cases, decided_at=cutoff - datetime.timedelta(days=1))
    period = ApportionmentPeriod.objects.create(plan=plan, starts_at=starts, cutoff_at=cutoff)
    return period_run_inline(period_id=period.pk, now=cutoff)


def test_joined_at_39_ill_at_41_is_covered_for_100000_yuan_and_billed_so(plan, investigator):
    member = MemberFactory(birth_date=datetime.date(1980, 1, 1))
    joined = local(2019, 6, 1)  # 39
    membership = MembershipFactory(member=member, plan=plan, joined_at=joined)
    assert membership.cover_fen == 300_000_00  # the band at joining: shown, not what pays
    day = datetime.date(2021, 3, 1)  # 41
    with pytest.raises(ServiceError) as refused:
        _illness(membership, day=day, amount=300_000_00)
    assert refused.value.code == "amount" and "100,000.00" in refused.value.message
    claim = _illness(membership, day=day, amount=100_000_00)
    assert claim.cover_fen == 100_000_00
    # Across the cutoff: the period bills the 100,000 yuan (and its fee), nothing more.
    for _ in range(3):
        MembershipFactory(plan=plan)
    claim = to_publicized(claim, investigator=investigator, now=local(2021, 3, 5, 10))
    claims.claims_close_due_windows(now=after_window(claim))
    period = ApportionmentPeriod.objects.create(
        plan=plan, starts_at=local(2021, 3, 1), cutoff_at=local(2021, 3, 16)
    )
    period = period_run_inline(period_id=period.pk, now=local(2021, 3, 16))
    assert period.cases_total_fen == 100_000_00
    assert sum(Bill.objects.filter(period=period).values_list("gross_fen", flat=True)) == (
        period.total_fen
    )


@pytest.fixture
def main_and_senior():
    senior = PlanFactory(
        code="senior", name="Plan for 60 to 70", min_age_years=60, max_age_years=70,
        per_case_cap_fen=100, bands=[(65, 100_000_00), (70, 50_000_00)],
    )  # fmt: skip
    catalogue_load_senior(plan=senior, since=datetime.date(2018, 10, 1))
    main = PlanFactory(code="main", name="Mutual Treasure", age_successor=senior)
    return main, senior


BIRTHDAY = datetime.date(2019, 3, 10)  # the 60th
STARTS, CUTOFF = local(2019, 3, 1), local(2019, 3, 16)


@pytest.mark.parametrize("moves", [True, False])
def test_turning_60_moves_on_or_ends_and_shares_nothing_afterwards(main_and_senior, moves):
    main, senior = main_and_senior
    person = MemberFactory(birth_date=datetime.date(1959, 3, 10))
    old = MembershipFactory(member=person, plan=main, move_at_age_limit=moves)
    claimant = MembershipFactory(plan=main)
    with time_machine.travel(local(2019, 3, 10, 0, 30), tick=False):
        assert ages.memberships_at_age_limit(now=local(2019, 3, 10, 0, 30)) == {
            "moved": int(moves),
            "ended": int(not moves),
        }
        assert ages.memberships_at_age_limit(now=local(2019, 3, 10, 1, 30)) == {
            "moved": 0, "ended": 0,
        }  # fmt: skip
    old.refresh_from_db()
    assert old.status == MembershipStatus.WITHDRAWN and old.end_reason == EndReason.AGE_LIMIT
    assert old.ended_at == local(2019, 3, 10)
    moved = Membership.objects.filter(member=person, plan=senior).first()
    notice = Notice.objects.get(member=person, kind="cover")
    if moves:
        assert moved.status == MembershipStatus.ACTIVE and moved.migrated_from == old
        assert moved.cover_fen == 100_000_00 and moved.waiting_until <= local(2019, 3, 10)
        assert notice.payload["moved_to"] == senior.name
    else:
        assert moved is None and "moved_to" not in notice.payload
    # Across the cutoff: noticed on the 5th (before the birthday) and on the 12th (after).
    period = _period(
        main, claimant, [(local(2019, 3, 5, 10), 10_000_00), (local(2019, 3, 12, 10), 10_000_00)],
        starts=STARTS, cutoff=CUTOFF,
    )  # fmt: skip
    bill = Bill.objects.get(period=period, membership=old)
    assert bill.cases_count == 1  # the case noticed on the 5th only
    sharers = dict(period.cases.values_list("publicized_at", "members_count"))
    assert sharers == {local(2019, 3, 5, 10): 2, local(2019, 3, 12, 10): 1}


def test_a_claim_follows_the_age_and_the_plan_on_each_side_of_the_birthday(main_and_senior):
    main, senior = main_and_senior
    person = MemberFactory(birth_date=datetime.date(1959, 3, 10))
    old = MembershipFactory(member=person, plan=main)
    ages.memberships_at_age_limit(now=local(2019, 3, 10, 0, 30))
    new = Membership.objects.get(member=person, plan=senior)
    # Diagnosed the day before the 60th birthday: on the membership that covered it then,
    # at 59's band, even though it has ended since.
    before = _illness(old, day=datetime.date(2019, 3, 9), amount=100_000_00,
                      now=local(2019, 3, 20, 9))  # fmt: skip
    assert before.cover_fen == 100_000_00
    with pytest.raises(ServiceError) as after:
        _illness(old, day=datetime.date(2019, 3, 11), amount=1_00, now=local(2019, 3, 20, 9))
    assert after.value.code == "not_live"
    # In the plan for 60 to 70: cancer only.
    with pytest.raises(ServiceError) as refused:
        _illness(new, day=datetime.date(2019, 3, 11), amount=1_00, now=local(2019, 3, 20, 9))
    assert refused.value.code == "condition_required"
    cancer = _illness(
        new, day=datetime.date(2019, 3, 11), amount=100_000_00, now=local(2019, 3, 20, 9),
        condition="malignant-tumour-severe",
    )  # fmt: skip
    assert cancer.cover_fen == 100_000_00


def test_the_member_turns_moving_on_off_through_the_api(main_and_senior):
    main, _senior = main_and_senior
    membership = MembershipFactory(plan=main)
    api = APIClient()
    api.force_authenticate(membership.member.user)
    url = f"/api/memberships/{membership.pk}/"
    answer = api.patch(url, {"move_at_age_limit": False}, format="json")
    assert answer.status_code == 200 and answer.json()["move_at_age_limit"] is False
    bad = api.patch(url, {"move_at_age_limit": "no"}, format="json")
    assert bad.status_code == 400 and "move_at_age_limit" in bad.json()
    other = APIClient()
    other.force_authenticate(MembershipFactory(plan=main).member.user)
    assert other.patch(url, {"move_at_age_limit": True}, format="json").status_code == 404
