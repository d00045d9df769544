"""Who saw what: opening an evidence document and showing a national id each write one access
row (who, what, when); national ids are masked in every list and API answer; only
superusers see the log, and nobody can change it."""

import datetime

import pytest
import time_machine
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.utils import IntegrityError
from django.urls import reverse
from rest_framework.test import APIClient

from claims.evidence import evidence_append
from claims.models import EvidenceDocument
from members.models import AccessKind, AccessLog, Member, mask_national_id
from tests.claim_steps import pdf
from tests.factories import ClaimFactory, MemberFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db
NOW = datetime.datetime(2018, 12, 7, 10, 0, tzinfo=datetime.UTC)
NATIONAL_ID = "110101199003071234"
MASKED = "1101**********1234"


@pytest.fixture
def person():
    return MemberFactory(national_id=NATIONAL_ID)


@pytest.fixture
def document(person, investigator):
    claim = ClaimFactory(membership=MembershipFactory(member=person))
    return evidence_append(
        claim_id=claim.pk,
        kind="medical_certificate",
        upload=pdf(body=b"diagnosis"),
        by=investigator,
        now=NOW,
    )


def evidence_url(document) -> str:
    return reverse("admin:claims_claim_evidence", args=[document.claim_id, document.pk])


def reveal_url(member) -> str:
    return reverse("admin:members_member_national_id", args=[member.pk])


def test_masking_keeps_the_first_and_last_four_and_less_of_a_short_id():
    assert mask_national_id(NATIONAL_ID) == MASKED
    assert mask_national_id("ID00000001") == "ID******01"
    assert mask_national_id("AB") == "**"
    assert mask_national_id("") == ""


def test_opening_an_evidence_document_in_the_admin_writes_one_row(client, reviewer, document):
    client.force_login(reviewer)
    with time_machine.travel(NOW, tick=False):
        response = client.get(evidence_url(document))
    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"%PDF-")
    assert "no-store" in response["Cache-Control"]
    row = AccessLog.objects.get()
    assert (row.user, row.kind, row.at) == (reviewer, AccessKind.EVIDENCE_DOCUMENT, NOW)
    assert row.content_type == ContentType.objects.get_for_model(EvidenceDocument)
    assert row.object_id == document.pk
    assert row.member == document.claim.membership.member  # whose record it is

    client.get(evidence_url(document))  # every look is a row
    assert AccessLog.objects.count() == 2


def test_staff_without_the_evidence_permission_are_refused_and_nothing_is_logged(client, document):
    client.force_login(UserFactory(username="clerk", is_staff=True))
    assert client.get(evidence_url(document)).status_code == 403
    assert not AccessLog.objects.exists()


def test_a_document_of_another_claim_is_404_and_not_logged(client, reviewer, document):
    client.force_login(reviewer)
    url = reverse("admin:claims_claim_evidence", args=[ClaimFactory().pk, document.pk])
    assert client.get(url).status_code == 404
    assert not AccessLog.objects.exists()


def result_rows(response) -> str:
    """The list's rows, less the search term typed, which their links carry along."""
    body = response.content.decode()
    start = body.index("<tbody>", body.index('id="result_list"'))
    return body[start : body.index("</tbody>", start)].replace(f"q%3D{NATIONAL_ID}", "")


def test_member_lists_and_pages_show_the_id_masked(client, admin_client, investigator, person):
    client.force_login(investigator)
    changelist = reverse("admin:members_member_changelist")
    for user_client in (admin_client, client):
        page = user_client.get(reverse("admin:members_member_change", args=[person.pk]))
        assert MASKED in page.content.decode()
        assert NATIONAL_ID not in page.content.decode()
        for query in ["", f"?q={NATIONAL_ID}"]:  # search by the exact id still works
            listing = user_client.get(changelist + query)
            assert listing.context["cl"].result_count == 1
            assert MASKED in result_rows(listing)
            assert NATIONAL_ID not in result_rows(listing)
        assert NATIONAL_ID not in user_client.get(changelist).content.decode()
    assert not AccessLog.objects.exists()  # lists and pages are not a look at the id


def test_the_api_shows_the_member_their_id_masked(person, document):
    api = APIClient()
    api.force_authenticate(person.user)
    me = api.get("/api/me/").json()
    assert me["national_id_masked"] == MASKED
    for url in ["/api/me/", "/api/memberships/", "/api/claims/", "/api/cases/"]:
        response = api.get(url)
        assert response.status_code == 200
        assert NATIONAL_ID not in response.content.decode()


def test_show_national_id_is_a_deliberate_post_that_writes_one_row(client, investigator, person):
    client.force_login(investigator)
    page = client.get(reverse("admin:members_member_change", args=[person.pk])).content.decode()
    assert reveal_url(person) in page and "Show national id" in page

    assert client.get(reveal_url(person)).status_code == 404  # a link, a prefetch: nothing
    assert not AccessLog.objects.exists()

    with time_machine.travel(NOW, tick=False):
        response = client.post(reveal_url(person))
    assert response.status_code == 200
    assert NATIONAL_ID in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    row = AccessLog.objects.get()
    assert (row.user, row.kind, row.at, row.member) == (
        investigator,
        AccessKind.NATIONAL_ID,
        NOW,
        person,
    )
    assert (row.content_type.model_class(), row.object_id) == (Member, person.pk)


def test_staff_without_the_national_id_permission_see_no_button_and_are_refused(
    client, finance, person
):
    client.force_login(finance)
    page = client.get(reverse("admin:members_member_change", args=[person.pk])).content.decode()
    assert "Show national id" not in page
    assert client.post(reveal_url(person)).status_code == 403
    assert not AccessLog.objects.exists()


def test_only_superusers_see_the_access_log_and_nobody_changes_it(
    client, admin_client, admin_user, investigator, reviewer, document
):
    client.force_login(reviewer)
    client.get(evidence_url(document))
    row = AccessLog.objects.get()
    changelist = reverse("admin:members_accesslog_changelist")
    change = reverse("admin:members_accesslog_change", args=[row.pk])

    listing = admin_client.get(changelist)
    assert listing.status_code == 200 and listing.context["cl"].result_count == 1
    assert admin_client.get(change).status_code == 200  # a read-only view
    assert admin_client.get(reverse("admin:members_accesslog_add")).status_code == 403
    assert admin_client.post(change, {"kind": "national_id"}).status_code == 403
    delete = reverse("admin:members_accesslog_delete", args=[row.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert AccessLog.objects.get().kind == AccessKind.EVIDENCE_DOCUMENT

    for staff in (investigator, reviewer):
        client.force_login(staff)
        assert client.get(changelist).status_code == 403
        assert client.get(change).status_code == 403
        assert "accesslog" not in client.get(reverse("admin:index")).content.decode()


def test_the_database_refuses_to_change_or_delete_access_rows(reviewer, document, client):
    client.force_login(reviewer)
    client.get(evidence_url(document))
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        AccessLog.objects.update(at=NOW)
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        AccessLog.objects.all().delete()


def test_only_staff_who_may_see_full_ids_may_search_by_one(client, investigator, finance, person):
    """Found by an attack on issue 10's fixes: finance (no members.view_national_id) could
    confirm a guessed id by exact search, with nothing logged; with the birth date in the list
    and eight digits in the mask, about ten guesses found it."""
    lists = [
        reverse("admin:members_member_changelist"),
        reverse("admin:members_membership_changelist"),
        reverse("admin:claims_claim_changelist"),
    ]
    ClaimFactory(membership=MembershipFactory(member=person))
    client.force_login(finance)
    for url in lists:
        for guess in [NATIONAL_ID, "110101199003071235"]:
            assert client.get(f"{url}?q={guess}").context["cl"].result_count == 0, url
    client.force_login(investigator)  # may see full ids: the exact search works
    for url in lists:
        assert client.get(f"{url}?q={NATIONAL_ID}").context["cl"].result_count == 1, url
