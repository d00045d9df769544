"""Households (issue 19, item 1): an account holder covers and pays for a spouse, children and
parents, through the API; bad input is a 4xx with nothing written."""

import datetime

import pytest
from rest_framework.test import APIClient

from billing import debits
from members import services
from members.households import dependant_add
from members.models import EndReason, Member, Membership, MembershipStatus
from notifications.models import Notice, NoticeKind
from tests.conftest import FixedCreditScores
from tests.factories import MemberFactory, MembershipFactory, PlanFactory

pytestmark = pytest.mark.django_db
NOW = datetime.datetime(2018, 11, 10, 2, 0, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def good_credit_everywhere(settings):
    settings.MUTUAL_CREDIT_PROVIDER = "tests.conftest.FixedCreditScores700"


@pytest.fixture
def holder(plan):
    member = MemberFactory(birth_date=datetime.date(1985, 1, 1))
    MembershipFactory(member=member, plan=plan)
    return member


def api_for(member) -> APIClient:
    client = APIClient()
    client.force_authenticate(member.user)
    return client


def child(**extra) -> dict:
    return {
        "full_name": "Xiao Mei", "national_id": "310101201307150027",
        "birth_date": "2013-07-15", "relationship": "child", "guardian_consent": True, **extra,
    }  # fmt: skip


def test_the_holder_adds_a_child_joins_her_to_a_plan_and_sees_the_household(holder, plan):
    api = api_for(holder)
    added = api.post("/api/me/dependants/", child(), format="json")
    assert added.status_code == 201, added.json()
    girl = Member.objects.get(pk=added.json()["id"])
    assert girl.payer == holder and girl.user is None and girl.guardian_consent_at is not None
    joined = api.post("/api/memberships/", {"plan": plan.pk, "member": girl.pk}, format="json")
    assert joined.status_code == 201, joined.json()
    assert joined.json()["person"] == {"id": girl.pk, "full_name": "Xiao Mei",
                                       "relationship": "child"}  # fmt: skip
    household = api.get("/api/me/household/").json()
    assert household["holder"]["id"] == holder.pk
    assert [d["id"] for d in household["dependants"]] == [girl.pk]
    assert len(household["memberships"]) == 2
    assert {m["person"]["id"] for m in api.get("/api/memberships/").json()["results"]} == {
        holder.pk,
        girl.pk,
    }


@pytest.mark.parametrize(
    ("payload", "field", "code"),
    [
        (child(guardian_consent=False), "guardian_consent", "guardian_consent"),
        (child(birth_date="1970-01-01"), "birth_date", "bad_age"),  # older than the holder
        (child(relationship="parent", birth_date="2000-01-01"), "birth_date", "bad_age"),
        (child(relationship="spouse", birth_date="2012-01-01"), "birth_date", "bad_age"),
        (child(relationship="self"), "relationship", None),
        (child(relationship="cousin"), "relationship", None),
        (child(birth_date="2099-01-01"), "birth_date", "bad_date"),
        (child(guardian_consent="yes"), "guardian_consent", None),
        (child(national_id=12345), "national_id", None),
    ],
)
def test_a_bad_dependant_is_a_400_naming_the_field_and_writes_nothing(holder, payload, field, code):
    before = Member.objects.count()
    answer = api_for(holder).post("/api/me/dependants/", payload, format="json")
    assert answer.status_code == 400 and field in answer.json(), answer.json()
    if code:
        assert answer.json()["code"] == code
    assert Member.objects.count() == before


def test_a_second_spouse_and_a_known_national_id_are_refused(holder):
    api = api_for(holder)
    spouse = child(relationship="spouse", birth_date="1986-02-02", national_id="S1")
    assert api.post("/api/me/dependants/", spouse, format="json").status_code == 201
    again = api.post("/api/me/dependants/", {**spouse, "national_id": "S2"}, format="json")
    assert again.status_code == 400 and again.json()["code"] == "too_many"
    taken = child(national_id=holder.national_id)
    answer = api.post("/api/me/dependants/", taken, format="json")
    assert answer.status_code == 400 and answer.json()["code"] == "already_registered"


def test_another_holders_dependant_is_out_of_reach(holder, plan):
    girl = dependant_add(
        by=holder.user, now=NOW, **{**child(), "birth_date": datetime.date(2013, 7, 15)}
    )
    stranger = MemberFactory()
    MembershipFactory(member=stranger, plan=plan)
    api = api_for(stranger)
    join = api.post("/api/memberships/", {"plan": plan.pk, "member": girl.pk}, format="json")
    assert join.status_code == 400 and join.json()["code"] == "not_in_household"
    assert api.delete(f"/api/me/dependants/{girl.pk}/").status_code == 404
    assert api.get(f"/api/me/dependants/{girl.pk}/").status_code == 404
    assert not Membership.objects.filter(member=girl).exists()


def test_a_dependant_joins_only_while_the_holder_is_covered(plan):
    member = MemberFactory(birth_date=datetime.date(1985, 1, 1))
    girl = dependant_add(
        by=member.user, now=NOW, **{**child(), "birth_date": datetime.date(2013, 7, 15)}
    )
    answer = api_for(member).post("/api/memberships/", {"plan": plan.pk, "member": girl.pk})
    assert answer.status_code == 400 and answer.json()["code"] == "holder_not_covered"


def test_only_the_holder_is_credit_scored_and_each_person_keeps_the_plans_age_rules(holder, plan):
    """A payer of 33 in the main plan covers a mother of 64 in the plan for 60 to 70."""
    senior = PlanFactory(
        min_age_years=60, max_age_years=70, bands=[(65, 100_000_00), (70, 50_000_00)]
    )
    mother = dependant_add(
        by=holder.user, full_name="Mother", national_id="M1", relationship="parent",
        birth_date=datetime.date(1954, 3, 1), now=NOW,
    )  # fmt: skip

    class HolderOnly(FixedCreditScores):
        def score(self, *, national_id):
            assert national_id == holder.national_id
            return 700

    def join(target, plan_):
        return services.membership_join(
            member_id=target.pk, plan_id=plan_.pk, by=holder.user, now=NOW,
            credit_provider=HolderOnly(700),
        )  # fmt: skip

    with pytest.raises(services.EligibilityError) as refused:
        join(mother, plan)
    assert refused.value.code == "too_old"
    assert join(mother, senior).cover_fen == 100_000_00
    with pytest.raises(services.EligibilityError) as young:
        join(holder, senior)
    assert young.value.code == "too_young"


def test_the_holder_leaving_takes_the_household_out_dependants_first_each_told(holder, plan):
    girl = dependant_add(
        by=holder.user, now=NOW, **{**child(), "birth_date": datetime.date(2013, 7, 15)}
    )
    hers = MembershipFactory(member=girl, plan=plan)
    own = holder.memberships.get()
    services.membership_withdraw(membership_id=own.pk, by=holder.user, now=NOW)
    hers.refresh_from_db()
    own.refresh_from_db()
    assert hers.status == MembershipStatus.WITHDRAWN and hers.end_reason == EndReason.HOUSEHOLD
    assert own.status == MembershipStatus.WITHDRAWN and own.end_reason == EndReason.LEFT
    assert hers.ended_at == own.ended_at == NOW
    notice = Notice.objects.get(member=girl)
    assert notice.kind == NoticeKind.COVER and notice.payload["person"] == "Xiao Mei"
    listed = api_for(holder).get("/api/me/notifications/").json()["results"]
    assert [n["kind"] for n in listed] == ["cover"]


def test_a_holders_lapse_lapses_the_household(holder, plan):
    girl = dependant_add(
        by=holder.user, now=NOW, **{**child(), "birth_date": datetime.date(2013, 7, 15)}
    )
    hers = MembershipFactory(member=girl, plan=plan)
    services.membership_lapse(
        membership_id=holder.memberships.get().pk, by=None, now=NOW, reason="unpaid"
    )
    hers.refresh_from_db()
    assert hers.status == MembershipStatus.LAPSED and hers.end_reason == EndReason.HOUSEHOLD


def test_removing_a_dependant_ends_their_cover_and_keeps_their_records(holder, plan):
    girl = dependant_add(
        by=holder.user, now=NOW, **{**child(), "birth_date": datetime.date(2013, 7, 15)}
    )
    hers = MembershipFactory(member=girl, plan=plan)
    api = api_for(holder)
    assert api.delete(f"/api/me/dependants/{girl.pk}/").status_code == 204
    hers.refresh_from_db()
    girl.refresh_from_db()
    assert hers.status == MembershipStatus.WITHDRAWN and girl.removed_at is not None
    assert api.get("/api/me/dependants/").json()["results"] == []
    assert holder.memberships.get().status == MembershipStatus.ACTIVE


def test_the_holders_account_is_debited_own_bill_first_then_in_joining_order(holder, plan):
    from billing.models import Bill
    from tests.billing_data import posted_period_with_bills

    girl = dependant_add(
        by=holder.user, now=NOW, **{**child(), "birth_date": datetime.date(2013, 7, 15)}
    )
    son = dependant_add(
        by=holder.user, now=NOW, full_name="Son", national_id="S9", relationship="child",
        birth_date=datetime.date(2015, 1, 1), guardian_consent=True,
    )  # fmt: skip
    later, earlier = (
        MembershipFactory(member=son, plan=plan, joined_at=NOW + datetime.timedelta(days=2)),
        MembershipFactory(member=girl, plan=plan, joined_at=NOW + datetime.timedelta(days=1)),
    )
    own = holder.memberships.get()
    period = posted_period_with_bills(
        plan, cutoff_at=NOW + datetime.timedelta(days=20),
        charged={later.pk: 300, earlier.pk: 200, own.pk: 100},
    )  # fmt: skip
    from billing.models import ApportionmentPeriod, PeriodChunk

    ApportionmentPeriod.objects.filter(pk=period.pk).update(bills_told_at=period.posted_at)
    chunk = PeriodChunk.objects.create(
        period=period, index=0, first_id=min(own.pk, earlier.pk, later.pk),
        last_id=max(own.pk, earlier.pk, later.pk),
    )  # fmt: skip
    seen = []

    class Records:
        def debit(self, *, account_id, membership_id, amount_fen, reference):
            seen.append((account_id, membership_id))
            return debits.DebitResult(ok=membership_id != own.pk, error="declined")

    debits.collect_chunk(chunk_id=chunk.pk, now=period.posted_at, gateway=Records())
    # One account; its own bill first; declined, so its others wait for the retry.
    assert seen == [(holder.pk, own.pk)]
    waiting = Bill.objects.get(period=period, membership=earlier)
    assert waiting.last_debit_error == debits.NOT_TRIED and waiting.debit_attempts == 0
    seen.clear()

    class Pays:
        def debit(self, *, account_id, membership_id, amount_fen, reference):
            seen.append((account_id, membership_id))
            return debits.DebitResult(ok=True)

    debits.collect_chunk(
        chunk_id=chunk.pk, now=period.posted_at + datetime.timedelta(days=2), gateway=Pays()
    )
    assert seen == [(holder.pk, own.pk), (holder.pk, earlier.pk), (holder.pk, later.pk)]
