"""Issue 10, defect 2: staff without the permission could add evidence. Every admin act checks its
own permission (not just the permission to view the claim), and so does every service."""

import datetime

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from rest_framework.test import APIClient

from claims import evidence, services
from claims.admin_actions import ACTIONS
from claims.models import Claim, ClaimState, EvidenceDocument
from mutual.core.errors import ServiceError
from tests.claim_steps import pdf, to_investigating
from tests.factories import ClaimFactory, UserFactory

pytestmark = pytest.mark.django_db
START = datetime.datetime(2018, 12, 7, 10, 0, tzinfo=datetime.UTC)


def act(client, claim, action, **data):
    return client.post(
        reverse("admin:claims_claim_act", args=[claim.pk, action]), data, follow=True
    )


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


@pytest.mark.parametrize("role", ["finance", "reviewer"])
def test_staff_without_the_permission_cannot_add_evidence_in_the_admin(client, role, request):
    user = request.getfixturevalue(role)
    assert not user.has_perm("claims.add_evidencedocument")
    claim = ClaimFactory()
    client.force_login(user)
    response = act(client, claim, "add_evidence", kind="other", file=pdf())
    assert response.status_code == 200
    assert any("may not add evidence" in m for m in messages_of(response))
    assert not EvidenceDocument.objects.filter(claim=claim).exists()


def test_the_service_refuses_staff_without_the_permission(finance, reviewer):
    claim = ClaimFactory()
    for user in (finance, reviewer, None):
        with pytest.raises(PermissionDenied):
            evidence.evidence_append(
                claim_id=claim.pk, kind="other", upload=pdf(), by=user, now=START
            )
    assert not EvidenceDocument.objects.filter(claim=claim).exists()


def test_an_investigator_and_the_claimant_may_add_evidence(investigator):
    claim = ClaimFactory()
    evidence.evidence_append(
        claim_id=claim.pk, kind="other", upload=pdf(), by=investigator, now=START
    )
    evidence.evidence_append(
        claim_id=claim.pk,
        kind="discharge_summary",
        upload=pdf(body=b"mine"),
        by=claim.membership.member.user,
        now=START,
    )
    assert claim.evidence.count() == 2


def test_another_member_may_not_add_evidence_to_a_claim(membership):
    claim = ClaimFactory()
    with pytest.raises(PermissionDenied):
        evidence.evidence_append(
            claim_id=claim.pk, kind="other", upload=pdf(), by=membership.member.user, now=START
        )


def test_members_still_add_evidence_to_their_own_claim_through_the_api():
    claim = ClaimFactory()
    client = APIClient()
    client.force_authenticate(claim.membership.member.user)
    response = client.post(
        f"/api/claims/{claim.pk}/evidence/",
        {"kind": "discharge_summary", "file": pdf()},
        format="multipart",
    )
    assert response.status_code == 201
    assert claim.evidence.count() == 1


def test_every_button_names_a_permission_that_exists():
    from django.contrib.auth.models import Permission

    for action in ACTIONS.values():
        app_label, codename = action.permission.split(".")
        assert Permission.objects.filter(
            content_type__app_label=app_label, codename=codename
        ).exists(), action.name


def test_a_user_who_may_only_view_claims_can_press_no_button(client):
    viewer = UserFactory(username="auditor", is_staff=True)
    viewer.groups.add(Group.objects.get(name="finance"))  # finance views claims, decides none
    claim = ClaimFactory()
    client.force_login(viewer)
    with time_machine.travel(START, tick=False):
        for action in ACTIONS:
            response = act(client, claim, action, investigator=str(viewer.pk), reason="x")
            assert any("may not" in m for m in messages_of(response)), action
    assert Claim.objects.get(pk=claim.pk).state == ClaimState.SUBMITTED


def test_findings_need_the_investigator_role_still(investigator):
    claim = ClaimFactory()
    to_investigating(claim, investigator=investigator, now=START)
    investigator.groups.clear()  # left the team after being assigned
    investigator = type(investigator).objects.get(pk=investigator.pk)  # no cached permissions
    with pytest.raises(PermissionDenied):
        services.claim_record_investigation(
            claim_id=claim.pk, summary="late findings", by=investigator, now=START
        )


def test_bulk_actions_are_offered_only_with_their_permission(client, finance, investigator):
    def offered() -> set[str]:
        form = client.get(reverse("admin:claims_claim_changelist")).context["action_form"]
        return set(dict(form.fields["action"].choices)) if form is not None else set()

    client.force_login(finance)
    assert not offered() & {"take_for_investigation", "approve_closed_windows"}
    client.force_login(investigator)
    assert "take_for_investigation" in offered() and "approve_closed_windows" not in offered()


def test_only_the_member_submits_a_claim_on_their_membership(membership, investigator):
    today = datetime.date(2018, 12, 7)
    values = dict(
        membership_id=membership.pk,
        now=START,
        incident_kind="accident",
        incident_date=today,
        diagnosis_date=today,
        diagnosis="fracture",
        hospital="Ruijin",
        amount_requested_fen=100_00,
    )
    for someone_else in (None, investigator):
        with pytest.raises(ServiceError) as error:  # the same answer as for no membership
            services.claim_submit(by=someone_else, **values)
        assert error.value.code == "not_your_membership"
    assert not Claim.objects.filter(membership=membership).exists()
