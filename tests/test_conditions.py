"""The illness list (issue 19, item 4): each plan's covered conditions, in force on dates; a
claim names one in force on its event day, and is paid at most what it pays. The real plan's
rules: from May 2019 a mild thyroid cancer paid 50,000 yuan; from 1 January 2020 the mild
thyroid and prostate cancers left the list and five rare diseases joined it."""

import datetime

import pytest
from rest_framework.test import APIClient

from claims import services
from claims.catalogue import (
    LIST_CHANGE_2020,
    RARE_DISEASES_2020,
    STANDARD_2020,
    catalogue_load_standard,
)
from claims.models import Claim, Condition, ConditionCategory
from mutual.core.errors import ServiceError
from tests.claim_steps import to_investigating
from tests.factories import MembershipFactory, PlanFactory

pytestmark = pytest.mark.django_db
SINCE = datetime.date(2018, 10, 16)


@pytest.fixture
def treasure():
    plan = PlanFactory(code="mutual-treasure")
    catalogue_load_standard(plan=plan, since=SINCE, real_plan_changes=True)
    return plan


@pytest.fixture
def member(treasure):
    return MembershipFactory(
        plan=treasure, joined_at=datetime.datetime(2018, 11, 1, tzinfo=datetime.UTC)
    )


def claim(membership, day, condition, amount, kind="illness"):
    return services.claim_submit(
        membership_id=membership.pk, by=membership.member.user,
        now=datetime.datetime.combine(day, datetime.time(12), tzinfo=datetime.UTC),
        incident_kind=kind, incident_date=day, diagnosis_date=day, diagnosis="as diagnosed",
        hospital="Ruijin", amount_requested_fen=amount, condition=condition,
    )  # fmt: skip


def test_the_standard_list_has_28_severe_and_3_mild_conditions(treasure):
    assert len(STANDARD_2020) == 31
    day = datetime.date(2021, 1, 1)
    listed = APIClient().get(f"/api/plans/{treasure.pk}/conditions/", {"on": day}).json()
    categories = [c["category"] for c in listed["results"]]
    severe = categories.count("severe") + categories.count("accident")
    assert (severe, categories.count("mild")) == (28 + len(RARE_DISEASES_2020), 3)
    assert {"name_en", "name_zh", "pays_fen", "in_force_from"} <= set(listed["results"][0])


def test_a_mild_thyroid_cancer_diagnosed_in_june_2019_pays_at_most_50000_yuan(member):
    day = datetime.date(2019, 6, 10)
    with pytest.raises(ServiceError) as refused:
        claim(member, day, "thyroid-cancer-mild", 300_000_00)
    assert refused.value.code == "amount" and "50,000.00" in refused.value.message
    accepted = claim(member, day, "thyroid-cancer-mild", 50_000_00)
    assert accepted.cover_fen == 50_000_00
    assert accepted.condition.category == ConditionCategory.MILD


def test_the_same_condition_diagnosed_in_february_2020_is_refused_as_not_covered(member):
    with pytest.raises(ServiceError) as refused:
        claim(member, datetime.date(2020, 2, 10), "thyroid-cancer-mild", 50_000_00)
    assert refused.value.code == "not_covered" and refused.value.field == "condition"
    assert not Claim.objects.exists()


def test_a_condition_added_on_1_january_2020_is_accepted_from_that_day(member):
    code = RARE_DISEASES_2020[0][0]
    with pytest.raises(ServiceError) as refused:
        claim(member, LIST_CHANGE_2020 - datetime.timedelta(days=1), code, 300_000_00)
    assert refused.value.code == "not_covered"
    assert claim(member, LIST_CHANGE_2020, code, 300_000_00).cover_fen == 300_000_00


def test_a_rule_change_never_rejudges_an_earlier_case(member, investigator):
    earlier = claim(member, datetime.date(2019, 6, 10), "thyroid-cancer-mild", 50_000_00)
    to_investigating(earlier, investigator=investigator, now=earlier.submitted_at)
    later_day = datetime.datetime(2020, 3, 1, tzinfo=datetime.UTC)
    services.claim_record_investigation(
        claim_id=earlier.pk, summary="confirmed", by=investigator, now=later_day
    )
    # Publicized in 2020, after the condition left the list: judged by the list of 2019.
    with pytest.raises(ServiceError) as above:
        services.claim_publicize(
            claim_id=earlier.pk, by=investigator, now=later_day, amount_fen=60_000_00
        )
    assert above.value.code == "amount"
    publicized = services.claim_publicize(claim_id=earlier.pk, by=investigator, now=later_day)
    assert publicized.amount_approved_fen == 50_000_00


@pytest.mark.parametrize(
    ("condition", "kind", "code"),
    [
        ("no-such-condition", "illness", "not_covered"),
        ("brain-injury-severe", "illness", "condition_needs_accident"),
        (None, "illness", "condition_required"),
    ],
)
def test_a_claim_naming_no_condition_or_a_wrong_one_is_refused(member, condition, kind, code):
    with pytest.raises(ServiceError) as refused:
        claim(member, datetime.date(2019, 6, 10), condition, 1_000_00, kind=kind)
    assert refused.value.code == code
    assert not Claim.objects.exists()


def test_a_condition_of_another_plan_is_a_400_through_the_api(member):
    other = PlanFactory()
    Condition.objects.create(
        plan=other, code="other-plan-only", name_en="x", name_zh="x",
        category=ConditionCategory.SEVERE, in_force_from=SINCE,
    )  # fmt: skip
    api = APIClient()
    api.force_authenticate(member.member.user)
    answer = api.post(
        "/api/claims/",
        {"membership": member.pk, "incident_kind": "illness", "incident_date": "2019-06-10",
         "diagnosis_date": "2019-06-10", "diagnosis": "x", "hospital": "Ruijin",
         "amount_requested_fen": 1_000_00, "condition": "other-plan-only"},
        format="json",
    )  # fmt: skip
    assert answer.status_code == 400 and answer.json()["code"] == "not_covered"
    assert "condition" in answer.json()
    assert not Claim.objects.exists()


def test_the_list_keeps_its_history(treasure, admin_user):
    condition = Condition.objects.get(plan=treasure, code="thyroid-cancer-mild")
    condition.pays_fen = 40_000_00
    condition.save()
    assert [h.pays_fen for h in condition.history.order_by("history_id")] == [
        50_000_00,
        40_000_00,
    ]


def test_a_bad_date_for_the_list_is_a_400(treasure):
    answer = APIClient().get(f"/api/plans/{treasure.pk}/conditions/", {"on": "2019-02-30"})
    assert answer.status_code == 400 and "on" in answer.json()


def test_staff_read_the_list_in_the_admin(client, reviewer, treasure):
    from django.urls import reverse

    client.force_login(reviewer)
    page = client.get(
        reverse("admin:claims_condition_changelist"), {"plan__id__exact": treasure.pk}
    )
    assert page.status_code == 200 and "Thyroid cancer, mild" in page.content.decode()
    assert page.context["cl"].result_count == 31 + 2 + 5
    condition = Condition.objects.get(plan=treasure, code="thyroid-cancer-mild")
    change = client.get(reverse("admin:claims_condition_change", args=[condition.pk]))
    assert change.status_code == 200
    assert (
        client.post(reverse("admin:claims_condition_change", args=[condition.pk]), {}).status_code
        == 403
    )
