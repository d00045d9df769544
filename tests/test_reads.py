"""Issue 13, "reads in the wrong layer": the reads live in selectors, and a list costs the same
number of queries whatever its length."""

import datetime

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from claims import services
from claims.selectors import claim_history, investigators
from tests.claim_steps import pdf
from tests.factories import ClaimFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db
START = datetime.datetime(2018, 12, 7, 10, 0, tzinfo=datetime.UTC)


def _claims_with_history(membership, count: int, investigator) -> None:
    from claims import evidence

    for _ in range(count):
        claim = ClaimFactory(membership=membership)
        services.claim_start_investigation(
            claim_id=claim.pk, investigator_id=investigator.pk, by=investigator, now=START
        )
        evidence.evidence_append(
            claim_id=claim.pk, kind="other", upload=pdf(), by=investigator, now=START
        )


def _list_queries(member) -> int:
    client = APIClient()
    client.force_authenticate(member.user)
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/claims/")
    assert response.status_code == 200
    assert all(claim["history"] and claim["evidence"] for claim in response.json()["results"])
    return len(queries)


def test_the_claim_list_costs_the_same_queries_for_one_claim_or_many(
    plan, investigator, django_assert_num_queries
):
    one, many = MembershipFactory(plan=plan), MembershipFactory(plan=plan)
    _claims_with_history(one, 1, investigator)
    _claims_with_history(many, 6, investigator)
    assert _list_queries(one.member) == _list_queries(many.member)
    client = APIClient()
    client.force_authenticate(many.member.user)
    # the page's count and rows, their evidence, their history, their requests for
    # information, their appeals (the member is the test's own)
    with django_assert_num_queries(6):
        assert len(client.get("/api/claims/").json()["results"]) == 6


def test_a_claims_history_is_in_the_order_it_happened(investigator):
    claim = ClaimFactory()
    services.claim_start_investigation(
        claim_id=claim.pk, investigator_id=investigator.pk, by=investigator, now=START
    )
    services.claim_reject(
        claim_id=claim.pk,
        by=None,
        now=START + datetime.timedelta(hours=1),
        code="misstatement",
        reason="no",
    )
    assert [row.transition for row in claim_history(claim)] == ["start_investigation", "reject"]


def test_investigators_are_those_the_service_accepts(investigator, reviewer, finance):
    own_permission = UserFactory()
    own_permission.user_permissions.add(Permission.objects.get(codename="investigate_claim"))
    superuser = UserFactory(is_superuser=True)
    gone = UserFactory(is_active=False)
    gone.user_permissions.add(Permission.objects.get(codename="investigate_claim"))
    listed = set(investigators())
    assert {investigator, reviewer, own_permission, superuser} <= listed
    assert not {finance, gone} & listed
    for user in listed:
        assert user.has_perm("claims.investigate_claim")
