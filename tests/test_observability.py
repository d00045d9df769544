"""Failures seen by people: JSON log lines with the request, user, task and period ids; Sentry
events scrubbed of national ids and medical text; failed and retried tasks kept for the
admin; the dashboard's list of what needs a person."""

import datetime
import io
import json
import logging
import logging.config

import pytest
import sentry_sdk
from celery import shared_task
from django.conf import settings
from django.utils import timezone
from django_celery_results.models import TaskResult
from rest_framework.test import APIClient
from sentry_sdk.transport import Transport

from claims.models import Claim, ClaimState
from mutual.observability import scrub_event
from notifications import services as notices
from notifications.models import Notice
from office import attention
from tests.factories import ClaimFactory, UserFactory

pytestmark = pytest.mark.django_db
NATIONAL_ID = "110101199003071234"
DIAGNOSIS = "Glioblastoma multiforme, grade IV"


@pytest.fixture
def json_lines():
    """The console handler's formatter and filter, writing to a buffer."""
    config = settings.LOGGING
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    formatter = config["formatters"]["json"]
    handler.setFormatter(
        logging.config.DictConfigurator({}).configure_custom(dict(formatter))  # type: ignore[attr-defined]
    )
    from mutual.observability import ContextFilter

    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    level, root.level = root.level, logging.INFO
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)
    root.level = level


def test_a_request_logs_one_json_line_with_its_request_and_user_ids(membership, json_lines):
    client = APIClient()
    client.force_authenticate(membership.member.user)
    response = client.get("/api/me/", HTTP_X_REQUEST_ID="req-0123456789")
    assert response.status_code == 200 and response["X-Request-ID"] == "req-0123456789"
    (line,) = [x for x in json_lines() if x["logger"] == "mutual.request"]
    assert line["request_id"] == "req-0123456789"
    assert line["user_id"] == membership.member.user_id
    assert line["status"] == 200 and line["path"] == "/api/me/" and "duration_ms" in line


def test_a_request_without_an_id_gets_one(client, json_lines):
    response = client.get("/healthz")
    assert len(response["X-Request-ID"]) == 32
    (line,) = [x for x in json_lines() if x["logger"] == "mutual.request"]
    assert line["request_id"] == response["X-Request-ID"] and line["user_id"] is None


@shared_task
def logs_for_a_period(period_id: int) -> None:
    logging.getLogger("tests.task").info("working on it")


@shared_task
def always_fails(period_id: int) -> None:
    raise RuntimeError("disk full")


def test_a_task_logs_its_task_and_period_ids(json_lines):
    result = logs_for_a_period.apply(args=[42])
    (line,) = [x for x in json_lines() if x["logger"] == "tests.task"]
    assert line["task_id"] == result.id and line["period_id"] == 42
    assert line["request_id"] is None


def test_a_failed_task_is_kept_for_the_admin(admin_client):
    result = always_fails.apply(args=[7])
    row = TaskResult.objects.get(task_id=result.id)
    assert row.status == "FAILURE" and "disk full" in row.traceback
    assert row.task_name.endswith("always_fails")
    page = admin_client.get("/admin/django_celery_results/taskresult/")
    assert page.status_code == 200 and result.id in page.content.decode()


class Captured(Transport):
    envelopes: list = []

    def capture_envelope(self, envelope):
        self.envelopes.append(envelope)


def test_a_sentry_event_carries_no_national_id_and_no_diagnosis():
    Captured.envelopes = []
    sentry_sdk.init(
        dsn="https://public@sentry.invalid/1",
        transport=Captured,
        before_send=scrub_event,
        include_local_variables=True,
    )
    try:
        national_id, diagnosis = NATIONAL_ID, DIAGNOSIS  # locals Sentry would report

        try:
            raise ValueError(f"member {national_id} has {diagnosis!r}: cannot price")
        except ValueError:
            sentry_sdk.capture_exception()
        sentry_sdk.capture_message(f"claim for {national_id}")
        sentry_sdk.flush()
    finally:
        sentry_sdk.init(dsn=None)
    payloads = b"".join(
        item.get_bytes() for envelope in Captured.envelopes for item in envelope.items
    )
    assert payloads and b"ValueError" in payloads  # the event went out
    assert NATIONAL_ID.encode() not in payloads
    assert b"Glioblastoma" not in payloads


def test_scrubbing_drops_request_bodies_and_private_keys():
    event = {
        "request": {"data": {"diagnosis": DIAGNOSIS}, "cookies": "sessionid=x", "url": "/api/"},
        "extra": {"national_id": NATIONAL_ID, "claim": {"hospital": "Ruijin", "id": 3}},
        "message": f"id {NATIONAL_ID}",
    }
    text = json.dumps(scrub_event(event))
    assert NATIONAL_ID not in text and "Glioblastoma" not in text and "Ruijin" not in text
    assert '"id": 3' in text and "/api/" in text


def test_the_dashboard_lists_undelivered_notices_and_claims_waiting_on_a_reviewer(
    membership, settings
):
    now = timezone.now()
    notices.notify(
        member_ids=[membership.member_id], kind="lapse", event="lapse:1",
        payload={"plan": "p", "reason": "r"}, now=now - datetime.timedelta(minutes=30),
    )  # fmt: skip
    notices.notify(
        member_ids=[membership.member_id], kind="lapse", event="lapse:2",
        payload={"plan": "p", "reason": "r"}, now=now,
    )  # fmt: skip
    rows = attention.undelivered_notices(now=now)
    assert [(r["kind"], r["status"], r["n"]) for r in rows] == [("lapse", "pending", 1)]
    assert Notice.objects.count() == 2

    settings.MUTUAL_REVIEW_WAIT_HOURS = 48
    waiting = ClaimFactory(membership=membership)
    Claim.objects.filter(pk=waiting.pk).update(
        state=ClaimState.DISPUTED, publicity_ends_at=now - datetime.timedelta(hours=50)
    )
    recent = ClaimFactory(membership=membership)
    Claim.objects.filter(pk=recent.pk).update(
        state=ClaimState.DISPUTED, publicity_ends_at=now - datetime.timedelta(hours=2)
    )
    assert [c["claim"] for c in attention.claims_waiting_on_review(now=now)] == [f"#{waiting.pk}"]
    staff = UserFactory(is_staff=True, is_superuser=True)
    listed = attention.attention_for(staff, now=now)
    assert listed["notices"] and listed["reviews"] and listed["stuck"] == []


def test_the_admin_index_shows_what_needs_a_person(admin_client, membership):
    notices.notify(
        member_ids=[membership.member_id], kind="bill", event="bill:1",
        payload={"period": "p", "charged_fen": 10},
        now=timezone.now() - datetime.timedelta(hours=1),
    )  # fmt: skip
    page = admin_client.get("/admin/").content.decode()
    assert 'id="needs-a-person"' in page and "undelivered notices" in page
