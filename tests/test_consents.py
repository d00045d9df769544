"""Consents (issue 22, 3): joining records what the member agreed to, with its text version and
time (a child's by their guardian); withdrawing one stops that use from then on (no
investigation, no public notice, no jury draw), and withdrawing the membership consent is
leaving; all through the API, for one's own household only."""

import datetime
from types import SimpleNamespace

import pytest
from rest_framework.test import APIClient

from claims import services as claims
from claims.jury import _eligible_pages
from members import services as members
from members.households import dependant_add
from members.models import Consent, Membership, MembershipStatus
from mutual.core.errors import ServiceError
from tests.claim_steps import to_investigating
from tests.conftest import FixedCreditScores
from tests.factories import ClaimFactory, MemberFactory, MembershipFactory

pytestmark = pytest.mark.django_db
NOW = datetime.datetime(2018, 12, 7, 10, 0, tzinfo=datetime.UTC)
JOINING = {"membership", "public_notice", "investigation", "jury"}


def api_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_joining_records_its_consents_and_a_childs_are_her_guardians(plan, settings):
    settings.MUTUAL_CONSENT_TEXT_VERSION = "terms-2018-10"
    holder = MemberFactory(birth_date=datetime.date(1988, 3, 2))
    members.membership_join(member_id=holder.pk, plan_id=plan.pk, by=holder.user, now=NOW,
                            credit_provider=FixedCreditScores(700))  # fmt: skip
    girl = dependant_add(by=holder.user, full_name="Daughter", national_id="310101201307150027",
                         birth_date=datetime.date(2013, 7, 15), relationship="child",
                         guardian_consent=True, now=NOW)  # fmt: skip
    members.membership_join(member_id=girl.pk, plan_id=plan.pk, by=holder.user, now=NOW,
                            credit_provider=FixedCreditScores(700))  # fmt: skip
    mine = Consent.objects.filter(member=holder)
    hers = Consent.objects.filter(member=girl)
    assert set(mine.values_list("purpose", flat=True)) == JOINING
    assert set(hers.values_list("purpose", flat=True)) == JOINING
    assert {(c.text_version, c.given_at, c.given_by_id) for c in mine} == {
        ("terms-2018-10", NOW, holder.user_id)
    }
    assert all(c.by_guardian and c.given_by_id == holder.user_id for c in hers)
    assert not any(c.by_guardian for c in mine)
    listed = api_for(holder.user).get("/api/me/consents/").json()
    assert len(listed) == 8 and {c["member"] for c in listed} == {holder.pk, girl.pk}


def test_a_withdrawn_consent_stops_its_use_until_it_is_given_again(investigator):
    claim = ClaimFactory()
    patient = claim.membership.member
    api = api_for(patient.user)
    asked = {"person": patient.pk, "purpose": "investigation"}
    withdrawn = api.post("/api/me/consents/withdraw/", asked, format="json")
    assert withdrawn.status_code == 200 and withdrawn.json()["withdrawn_at"]
    with pytest.raises(ServiceError) as refused:
        to_investigating(claim, investigator=investigator, now=NOW)
    assert refused.value.code == "consent_withdrawn"
    given = api.post("/api/me/consents/", {"person": patient.pk, "purpose": "investigation"},
                     format="json")  # fmt: skip
    assert given.status_code == 201
    to_investigating(claim, investigator=investigator, now=NOW)
    api.post("/api/me/consents/withdraw/", {"person": patient.pk, "purpose": "public_notice"},
             format="json")  # fmt: skip
    claims.claim_record_investigation(claim_id=claim.pk, summary="checked", by=investigator,
                                      now=NOW)  # fmt: skip
    with pytest.raises(ServiceError) as refused:
        claims.claim_publicize(claim_id=claim.pk, by=investigator, now=NOW)
    assert refused.value.code == "consent_withdrawn"
    # The history stays: one withdrawn and one given record for the investigation.
    records = Consent.objects.filter(member=patient, purpose="investigation")
    assert records.count() == 2 and records.filter(withdrawn_at__isnull=True).count() == 1


def test_who_withdrew_from_juries_is_not_drawn(plan):
    stays, leaves = MembershipFactory(plan=plan), MembershipFactory(plan=plan)
    api_for(leaves.member.user).post(
        "/api/me/consents/withdraw/", {"person": leaves.member_id, "purpose": "jury"},
        format="json",
    )  # fmt: skip
    claim = ClaimFactory(membership=MembershipFactory(plan=plan))
    draw = SimpleNamespace(committed_at=NOW + datetime.timedelta(days=400))
    eligible = {m for page in _eligible_pages(claim=claim, draw=draw, excluded=set(),
                                              page_size=10) for _, m in page}  # fmt: skip
    assert stays.member_id in eligible and leaves.member_id not in eligible


def test_withdrawing_the_membership_consent_is_leaving(plan):
    holder = MembershipFactory(plan=plan)
    child = MembershipFactory(plan=plan, member=MemberFactory(payer=holder.member, user=None,
                                                               relationship="child"))  # fmt: skip
    answer = api_for(holder.member.user).post(
        "/api/me/consents/withdraw/", {"person": holder.member_id, "purpose": "membership"},
        format="json",
    )  # fmt: skip
    assert answer.status_code == 200
    statuses = set(Membership.objects.filter(pk__in=[holder.pk, child.pk]).values_list(
        "status", flat=True))  # fmt: skip
    assert MembershipStatus.ACTIVE not in statuses


def test_only_my_household_and_only_known_purposes():
    mine, other = MemberFactory(), MemberFactory()
    api = api_for(mine.user)
    theirs = api.post("/api/me/consents/withdraw/", {"person": other.pk, "purpose": "jury"},
                      format="json")  # fmt: skip
    assert theirs.status_code == 400 and theirs.json()["code"] == "not_in_household"
    bad = api.post("/api/me/consents/", {"person": mine.pk, "purpose": "marketing"},
                   format="json")  # fmt: skip
    assert bad.status_code == 400 and "purpose" in bad.json()
    assert not Consent.objects.exists()


def test_joining_another_plan_does_not_undo_a_withdrawal(plan):
    from tests.factories import PlanFactory

    holder = MemberFactory(birth_date=datetime.date(1988, 3, 2))
    members.membership_join(member_id=holder.pk, plan_id=plan.pk, by=holder.user, now=NOW,
                            credit_provider=FixedCreditScores(700))  # fmt: skip
    api_for(holder.user).post("/api/me/consents/withdraw/",
                              {"person": holder.pk, "purpose": "jury"}, format="json")  # fmt: skip
    other = PlanFactory()
    members.membership_join(member_id=holder.pk, plan_id=other.pk, by=holder.user, now=NOW,
                            credit_provider=FixedCreditScores(700))  # fmt: skip
    jury = Consent.objects.filter(member=holder, purpose="jury")
    assert jury.count() == 1 and jury.get().withdrawn_at is not None
