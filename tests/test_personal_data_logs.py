"""No national id, diagnosis or document content in a log line or a CSV export (issue 22, 6):
the seed's case lived from joining to payout, with the girl added and a document uploaded
through the API, the claim and the person opened in the admin and the full id revealed, a
refused request, and the period's bills exported; every log record of every logger, at DEBUG,
written through the JSON formatter, then searched."""

import io
import json
import logging
import logging.config

import pytest
import time_machine
from django.conf import settings
from django.urls import reverse
from rest_framework.test import APIClient

from mutual.observability import ContextFilter
from tests.claim_steps import pdf
from tests.test_seed_story import at, live_the_seed_case, treasure  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db
SPOUSE_ID = "310101198801020035"
DOCUMENT_TEXT = b"PATHOLOGY: B-cell acute lymphoblastic leukaemia"


@pytest.fixture
def every_log_line():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    formatter = dict(settings.LOGGING["formatters"]["json"])
    handler.setFormatter(logging.config.DictConfigurator({}).configure_custom(formatter))  # type: ignore[attr-defined]
    handler.addFilter(ContextFilter())
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(handler)
    levels = {name: logging.getLogger(name).level for name in logging.root.manager.loggerDict}
    level, root.level = root.level, logging.DEBUG
    for name in levels:
        logging.getLogger(name).setLevel(logging.DEBUG)
    yield stream.getvalue
    root.removeHandler(handler)
    root.level = level
    for name, old in levels.items():
        logging.getLogger(name).setLevel(old)


def test_a_claims_whole_life_logs_no_national_id_diagnosis_or_document(
    treasure,  # noqa: F811
    investigator,
    reviewer,
    admin_client,
    every_log_line,
):
    mother, girl, claim, period = live_the_seed_case(treasure, investigator)
    api = APIClient()
    api.force_authenticate(mother.user)
    with time_machine.travel(at(12, 20), tick=False):
        added = api.post(
            "/api/me/dependants/",
            {"full_name": "Father", "national_id": SPOUSE_ID, "birth_date": "1988-01-02",
             "relationship": "spouse"},
            format="json",
        )  # fmt: skip
        assert added.status_code == 201, added.content
        again = api.post(
            "/api/me/dependants/",
            {"full_name": "Father", "national_id": SPOUSE_ID, "birth_date": "1988-01-02",
             "relationship": "spouse"},
            format="json",
        )  # fmt: skip
        assert again.status_code == 400  # refused: already registered, and logged as a 4xx
        upload = api.post(
            f"/api/claims/{claim.pk}/evidence/",
            {"kind": "medical_certificate", "file": pdf(body=DOCUMENT_TEXT)},
            format="multipart",
        )
        assert upload.status_code < 500, upload.content
    document = claim.evidence.first()
    opened = admin_client.get(reverse("admin:claims_claim_evidence", args=[claim.pk, document.pk]))
    assert opened.status_code == 200
    assert (
        admin_client.get(reverse("admin:claims_claim_change", args=[claim.pk])).status_code == 200
    )
    assert (
        admin_client.get(reverse("admin:members_member_change", args=[girl.pk])).status_code == 200
    )
    revealed = admin_client.post(reverse("admin:members_member_national_id", args=[girl.pk]))
    assert revealed.status_code == 200 and girl.national_id.encode() in revealed.content
    found = admin_client.get(reverse("admin:members_member_changelist"), {"q": girl.national_id})
    assert found.context["cl"].result_count == 1
    exported = admin_client.get(reverse("admin:billing_period_csv", args=[period.pk]))
    csv_text = b"".join(exported.streaming_content).decode()
    assert exported.status_code == 200 and csv_text.count("\n") >= 3

    logged = every_log_line()
    lines = [json.loads(line) for line in logged.splitlines()]
    assert any(line["logger"] == "mutual.request" for line in lines)  # it did capture
    assert any(line.get("status") == 400 for line in lines)
    secrets = [mother.national_id, girl.national_id, SPOUSE_ID, claim.diagnosis,
               "Craniotomy", DOCUMENT_TEXT.decode(), "leukaemia", "visited hospital"]  # fmt: skip
    for secret in secrets:
        assert secret not in logged, secret
        assert secret not in csv_text, secret
