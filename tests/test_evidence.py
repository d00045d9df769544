import datetime
import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.db.utils import IntegrityError

from claims.evidence import evidence_append, evidence_verify_claim
from claims.models import GENESIS_LINK, EvidenceDocument, StoredChunk, StoredFile
from claims.storage import _seal
from mutual.core.errors import ServiceError
from tests.claim_steps import PDF, pdf
from tests.factories import ClaimFactory

NOW = datetime.datetime(2018, 12, 1, tzinfo=datetime.UTC)
pytestmark = pytest.mark.django_db


@pytest.fixture
def chain(investigator):
    claim = ClaimFactory()
    docs = [
        evidence_append(
            claim_id=claim.pk, kind=kind, upload=pdf(body=kind.encode()), by=investigator, now=NOW
        )
        for kind in ("medical_certificate", "discharge_summary", "surgical_record")
    ]
    return claim, docs


def test_documents_form_a_chain(chain):
    _, docs = chain
    assert [d.position for d in docs] == [1, 2, 3]
    assert docs[0].previous_link == GENESIS_LINK
    assert docs[1].previous_link == docs[0].link_hash
    assert docs[2].previous_link == docs[1].link_hash
    assert len({d.sha256 for d in docs}) == 3
    assert "evidence/" in docs[0].file.name and "report" not in docs[0].file.name


def test_verify_evidence_passes_on_an_intact_chain(chain, capsys):
    call_command("verify_evidence")
    assert "no mismatch" in capsys.readouterr().out


def forge(document, data: bytes) -> None:
    """What someone with the database and the key could do: another file in its place."""
    StoredChunk.objects.filter(file__name=document.file.name).update(token=_seal(data))


@pytest.mark.parametrize("tamper", ["with the key", "without the key"])
def test_a_tampered_file_fails_naming_claim_and_document(chain, tamper):
    claim, docs = chain
    if tamper == "with the key":
        forge(docs[1], PDF + b"forged")
    else:  # one byte of the ciphertext changed: it no longer opens
        chunk = StoredChunk.objects.get(file__name=docs[1].file.name)
        token = bytearray(chunk.token)
        token[40] ^= 1
        StoredChunk.objects.filter(pk=chunk.pk).update(token=bytes(token))
    with pytest.raises(CommandError):
        call_command("verify_evidence", "--claim", str(claim.pk))
    from claims.evidence import evidence_verify_claim

    problems = evidence_verify_claim(claim.pk)
    assert [(p.claim_id, p.document_id) for p in problems] == [(claim.pk, docs[1].pk)]
    assert f"claim {claim.pk}, document {docs[1].pk}" in str(problems[0])


def test_a_tampered_chain_link_fails(chain):
    _, docs = chain
    with connection.cursor() as cursor:
        # Bypass the append-only trigger, as an attacker with database access could.
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(
            "UPDATE claims_evidencedocument SET sha256 = %s WHERE id = %s", ["0" * 64, docs[0].pk]
        )
        cursor.execute("SET LOCAL session_replication_role = origin")
    with pytest.raises(CommandError, match="evidence problem"):
        call_command("verify_evidence")


def test_the_database_refuses_to_change_or_delete_evidence(chain):
    _, docs = chain
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        EvidenceDocument.objects.filter(pk=docs[0].pk).update(kind="other")
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        EvidenceDocument.objects.filter(pk=docs[0].pk).delete()


def test_a_file_that_is_not_pdf_png_or_jpeg_is_refused(investigator):
    from django.core.files.uploadedfile import SimpleUploadedFile

    claim = ClaimFactory()
    fake = SimpleUploadedFile("x.pdf", b"MZ\x90\x00 not a pdf", content_type="application/pdf")
    with pytest.raises(ServiceError) as error:
        evidence_append(claim_id=claim.pk, kind="other", upload=fake, by=investigator, now=NOW)
    assert error.value.code == "bad_type"
    assert not EvidenceDocument.objects.exists()


def test_a_file_over_the_size_limit_is_refused(investigator, settings):
    settings.EVIDENCE_MAX_BYTES = 100
    claim = ClaimFactory()
    with pytest.raises(ServiceError) as error:
        evidence_append(
            claim_id=claim.pk, kind="other", upload=pdf(body=b"x" * 200), by=investigator, now=NOW
        )
    assert error.value.code == "too_large"


def stored_files(settings) -> list[str]:
    """What the storage holds, and that nothing is on disk."""
    assert not [p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()]
    return sorted(StoredFile.objects.values_list("name", flat=True))


def append_then_roll_back(claim, investigator) -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        document = evidence_append(
            claim_id=claim.pk, kind="other", upload=pdf(body=b"gone"), by=investigator, now=NOW
        )
        assert document.file.storage.exists(document.file.name)
        raise RuntimeError("the caller fails after the append")


def test_a_file_whose_row_is_rolled_back_to_a_savepoint_is_gone(investigator, settings):
    claim = ClaimFactory()
    kept = evidence_append(
        claim_id=claim.pk, kind="other", upload=pdf(body=b"kept"), by=investigator, now=NOW
    )
    append_then_roll_back(claim, investigator)
    assert stored_files(settings) == [kept.file.name]
    assert list(EvidenceDocument.objects.filter(claim=claim)) == [kept]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_file_whose_transaction_is_rolled_back_is_gone(investigator, settings):
    claim = ClaimFactory()
    kept = evidence_append(
        claim_id=claim.pk, kind="other", upload=pdf(body=b"kept"), by=investigator, now=NOW
    )
    append_then_roll_back(claim, investigator)
    assert stored_files(settings) == [kept.file.name]
    assert list(EvidenceDocument.objects.filter(claim=claim)) == [kept]


def test_a_hosts_files_left_on_disk_are_copied_in_and_removed(chain, tmp_path):
    """What migration 0023 does on the host that runs it, and the command on every other."""
    claim, docs = chain
    body = docs[1].file.open("rb").read()
    StoredFile.objects.filter(name=docs[1].file.name).delete()  # it was on another host
    on_disk = tmp_path / docs[1].file.name
    on_disk.parent.mkdir(parents=True)
    on_disk.write_bytes(body)
    out = StringIO()
    call_command("evidence_import_from_disk", "--root", str(tmp_path), stdout=out)
    assert json.loads(out.getvalue()) == {"copied": 1, "already": 2, "missing": []}
    assert not on_disk.exists()
    assert evidence_verify_claim(claim.pk) == []
