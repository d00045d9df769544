"""Retention and erasure (issue 22, 5): the seed's family five years after they left. Their
identities become pseudonyms and the girl's medical records go, each deletion recorded; the
ledger, the evidence chain (what remains of it) and the mother's old Merkle proof still
verify; a dry run says what would go and changes nothing; nobody is erased early, nor while a
claim or someone they cover holds them."""

import datetime
import json
from io import StringIO

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from rest_framework.test import APIClient

from billing import tree
from claims.models import Claim, EvidenceErasure, StoredFile
from claims.retention import erase_due
from members import services as members
from members.models import Member, Membership
from members.notices import notify_cover_ended
from mutual import verify
from mutual.core.personal_data import blind_index
from notifications.models import Notice
from tests.factories import ClaimFactory, MemberFactory, MembershipFactory
from tests.test_seed_story import at, live_the_seed_case, treasure  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db
GIRL_ID = "310101201307150027"
FIVE_YEARS = datetime.timedelta(days=5 * 365 + 1)


def run(command: str, *args: str) -> dict | str:
    out = StringIO()
    call_command(command, *args, stdout=out)
    text = out.getvalue()
    return json.loads(text) if text.startswith("{") else text


def test_the_seed_family_five_years_after_leaving(treasure, investigator):  # noqa: F811
    mother, girl, claim, period = live_the_seed_case(treasure, investigator)
    api = APIClient()
    api.force_authenticate(mother.user)
    hers = Membership.objects.get(member=girl)
    proof = api.get(f"/api/me/bills/{period.pk}/proof/?membership={hers.pk}")
    assert proof.status_code == 200, proof.content
    proof = proof.json()
    left = at(3, 1, year=2019)
    for membership in Membership.objects.filter(member__in=[girl, mother]).order_by("-pk"):
        members.membership_withdraw(membership_id=membership.pk, by=mother.user, now=left)
    notify_cover_ended(membership=hers, reason="left the plan", now=left)  # the mother is told
    assert Notice.objects.filter(payload__person="Daughter").exists()
    files = list(claim.evidence.values_list("file", flat=True))
    assert files and StoredFile.objects.filter(name__in=files).count() == len(files)

    # A day early: nothing is due.
    assert (
        erase_due(now=left + FIVE_YEARS - datetime.timedelta(days=1), dry_run=True)["people"] == 0
    )

    LogEntry.objects.log_action(  # the admin's history of an edit of the girl's page
        user_id=investigator.pk, content_type_id=ContentType.objects.get_for_model(Member).pk,
        object_id=girl.pk, object_repr=str(girl), action_flag=CHANGE,
    )  # fmt: skip
    due = left + FIVE_YEARS + datetime.timedelta(days=1)
    listed = erase_due(now=due, dry_run=True)
    assert (listed["claims"], listed["people"], listed["files"]) == (1, 2, len(files))
    assert Member.objects.filter(national_id_index=blind_index(GIRL_ID)).exists()  # dry

    done = erase_due(now=due)
    assert (done["claims"], done["people"], done["files"]) == (1, 2, len(files))
    girl.refresh_from_db()
    mother.refresh_from_db()
    assert not Member.objects.filter(national_id_index=blind_index(GIRL_ID)).exists()
    assert girl.full_name == mother.full_name == "Erased person" and girl.erased_at == due
    assert girl.national_id == f"ERASED-{girl.pk}"
    assert not Notice.objects.filter(payload__person="Daughter").exists()
    assert not LogEntry.objects.filter(object_repr__contains="Daughter").exists()
    assert not mother.user.is_active and not mother.user.has_usable_password()
    login = APIClient().post("/api/auth/token/", {"username": mother.user.username,
                                                   "password": "anything"})  # fmt: skip
    assert login.status_code == 400
    claim.refresh_from_db()
    assert (claim.diagnosis, claim.investigation_summary) == ("", "")
    assert not StoredFile.objects.filter(name__in=files).exists()
    assert EvidenceErasure.objects.filter(document__claim=claim).count() == len(files)

    # What remains verifies: the books, the chain's links, and the old proof.
    assert "balance" in run("verify_ledger").lower()
    assert "no mismatch" in run("verify_evidence")
    assert verify.verify(proof, verify.load_public_key(tree.public_key_hex())).startswith("OK: ")
    served = APIClient().get(f"/api/public/periods/{period.pk}/")
    assert served.status_code == 200 and GIRL_ID not in served.content.decode()

    again = run("erase_due")  # the next day's run: nothing left to do
    assert (again["claims"], again["people"]) == (0, 0)


def test_an_open_claim_or_a_covered_dependant_keeps_a_person(plan):
    long_ago = datetime.datetime(2018, 1, 1, tzinfo=datetime.UTC)
    now = long_ago + FIVE_YEARS + datetime.timedelta(days=30)
    Member.objects.update(created_at=long_ago)
    holder = MemberFactory()
    child = MemberFactory(payer=holder, user=None, relationship="child")
    kept_by_child = MembershipFactory(member=child, plan=plan)
    with_claim = MembershipFactory(plan=plan)
    ClaimFactory(membership=with_claim)  # submitted: still open
    Member.objects.update(created_at=long_ago)
    Membership.objects.exclude(pk=kept_by_child.pk).update(status="withdrawn", ended_at=long_ago)
    listed = erase_due(now=now, dry_run=True)
    assert holder.pk not in listed["person_ids"]  # their child is still covered
    assert with_claim.member_id not in listed["person_ids"]  # a claim is open
    Claim.objects.update(state="withdrawn", decided_at=long_ago)
    Membership.objects.filter(pk=kept_by_child.pk).update(status="withdrawn", ended_at=long_ago)
    listed = erase_due(now=now, dry_run=True)
    assert {holder.pk, with_claim.member_id, kept_by_child.member_id} <= set(listed["person_ids"])
