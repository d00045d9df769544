"""A copy of my data (issue 22, 4): the seed's mother asks through the API, a real worker builds
the archive, she is told, and she downloads everything held about her household (the people,
memberships, the girl's claim with its documents, bills, notices, and who looked at their
records) and nothing of another family's."""

import datetime
import hashlib
import io
import json
import time
import zipfile

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from billing.models import DataExport, ExportStatus
from claims.evidence import evidence_append
from members import access
from notifications.models import Notice
from tests.claim_steps import PDF, pdf
from tests.factories import ClaimFactory, MemberFactory, MembershipFactory
from tests.test_seed_story import live_the_seed_case, treasure  # noqa: F401 (a fixture)

OTHER_ID = "440101198001010011"
OTHER_DIAGNOSIS = "Another family's myocardial infarction"
NOW = datetime.datetime(2018, 12, 20, tzinfo=datetime.UTC)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_mother_downloads_her_households_data_and_nothing_else(
    celery_worker,
    treasure,  # noqa: F811
    investigator,
    reviewer,
):
    mother, girl, _claim, period = live_the_seed_case(treasure, investigator)
    access.member_national_id_reveal(member_id=girl.pk, by=reviewer, now=NOW)
    other = MembershipFactory(member=MemberFactory(national_id=OTHER_ID))
    theirs = ClaimFactory(membership=other, diagnosis=OTHER_DIAGNOSIS)
    evidence_append(claim_id=theirs.pk, kind="other", upload=pdf(body=b"THEIR FILE"),
                    by=investigator, now=NOW)  # fmt: skip

    own = ClaimFactory(membership=mother.memberships.get(), diagnosis="Her own fracture")
    evidence_append(claim_id=own.pk, kind="medical_certificate",
                    upload=pdf(body=b"MY CERTIFICATE"), by=mother.user, now=NOW)  # fmt: skip
    api = APIClient()
    api.force_authenticate(mother.user)
    asked = api.post("/api/me/data-export/")
    assert asked.status_code == 202, asked.content
    deadline = time.monotonic() + 60
    while DataExport.objects.get(pk=asked.json()["id"]).status == ExportStatus.PREPARING:
        assert time.monotonic() < deadline, "the worker did not build the export"
        time.sleep(0.2)
    status = api.get("/api/me/data-export/").json()
    assert status["status"] == "ready"
    assert Notice.objects.filter(member_id=mother.pk, kind="data_export").count() == 1

    download = api.get(reverse("api-data-export-download"))
    assert download.status_code == 200 and download["Content-Type"] == "application/zip"
    body = b"".join(download.streaming_content)
    assert hashlib.sha256(body).hexdigest() == status["sha256"] and len(body) == status["size"]
    archive = zipfile.ZipFile(io.BytesIO(body))
    data = json.loads(archive.read("data.json"))
    assert {p["national_id"] for p in data["people"]} == {mother.national_id, girl.national_id}
    assert [c["diagnosis"] for c in data["claims"]] == [
        "Craniotomy after an accidental fall",
        "Her own fracture",
    ]
    assert {m["person"] for m in data["memberships"]} == {mother.pk, girl.pk}
    assert data["bills"] and all(b["period"] == period.pk for b in data["bills"])
    assert data["notices"]
    assert {(c["person"], c["purpose"]) for c in data["consents"]} >= {
        (girl.pk, "membership"),
        (mother.pk, "jury"),
    }
    assert all(c["by_guardian"] for c in data["consents"] if c["person"] == girl.pk)
    (look,) = data["who_looked"]
    assert look["whose"] == girl.pk and look["what"] == "national_id"
    assert reviewer.username not in json.dumps(data)  # staff by role, not by name
    (report,) = data["claims"][0]["evidence"]  # the firm's report: listed, not handed out
    assert report["kind"] == "investigation_report" and report["file"] is None
    certificate = data["claims"][1]["evidence"][0]
    assert archive.read(certificate["file"]) == PDF + b"MY CERTIFICATE"
    everything = body + b"".join(archive.read(n) for n in archive.namelist())
    for foreign in [OTHER_ID.encode(), OTHER_DIAGNOSIS.encode(), b"THEIR FILE"]:
        assert foreign not in everything


@pytest.mark.django_db
def test_one_export_at_a_time_and_nothing_to_download_before_it_is_ready(member):
    api = APIClient()
    api.force_authenticate(member.user)
    assert api.get("/api/me/data-export/").status_code == 404
    assert api.post("/api/me/data-export/").status_code == 202
    again = api.post("/api/me/data-export/")
    assert again.status_code == 409 and again.json()["code"] == "export_in_progress"
    early = api.get(reverse("api-data-export-download"))
    assert early.status_code == 404 and early.json()["code"] == "export_not_ready"
    assert DataExport.objects.filter(member=member).count() == 1
    assert APIClient().post("/api/me/data-export/").status_code == 401


@pytest.mark.django_db
def test_an_export_is_built_once_and_deleted_when_it_expires(member):
    from billing.exports import data_export_build, data_exports_expire
    from claims.models import StoredFile

    export = DataExport.objects.create(member=member, requested_at=NOW)
    assert data_export_build(export_id=export.pk, now=NOW)
    assert not data_export_build(export_id=export.pk, now=NOW)  # built once
    export.refresh_from_db()
    assert StoredFile.objects.filter(name=export.file).exists()
    assert data_exports_expire(now=NOW + datetime.timedelta(days=8)) == 1
    assert not StoredFile.objects.filter(name=export.file).exists()
    assert DataExport.objects.get(pk=export.pk).status == ExportStatus.EXPIRED


@pytest.mark.django_db
def test_a_failed_or_lost_build_lets_the_member_ask_again_and_a_removed_person_is_left_out(
    member, monkeypatch
):
    from billing import exports
    from members import services as members_services

    spouse = MemberFactory(payer=member, user=None, relationship="spouse", national_id=OTHER_ID)
    members_services.dependant_remove(member_id=spouse.pk, by=member.user, now=NOW)
    export = exports.data_export_request(by=member.user, now=NOW)
    records = exports._records(exports._people(member))
    assert OTHER_ID not in json.dumps(records)  # an ex-spouse is no longer the holder's

    def broken(**kwargs):
        raise RuntimeError("a chunk that will not open")

    monkeypatch.setattr(exports, "_build", broken)
    with pytest.raises(RuntimeError):
        exports.data_export_build(export_id=export.pk, now=NOW)
    assert DataExport.objects.get(pk=export.pk).status == ExportStatus.FAILED
    lost = exports.data_export_request(by=member.user, now=NOW)  # asked again: allowed
    later = NOW + datetime.timedelta(hours=2)  # its task was lost: after an hour it gives way
    assert exports.data_export_request(by=member.user, now=later).pk != lost.pk
    assert DataExport.objects.get(pk=lost.pk).status == ExportStatus.FAILED
