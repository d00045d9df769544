"""Regressions from the security issue: bad input is a 4xx with a message, never a 500; stored
evidence is named by its checked type; dates are Shanghai's; every /api/ answer is JSON."""

import datetime
import zoneinfo

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django_fsm_log.models import StateLog
from rest_framework.test import APIClient

from claims import services
from claims.evidence import evidence_append
from claims.models import Claim, ClaimState
from tests.claim_steps import PDF, image
from tests.factories import ClaimFactory

pytestmark = pytest.mark.django_db
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
START = datetime.datetime(2018, 12, 7, 10, 0, tzinfo=datetime.UTC)
DEEP_JSON = "[" * 1000 + "]" * 1000


# --- defect 3: deeply nested JSON ---------------------------------------------------------------
def _assert_json_400(response):
    assert response.status_code == 400, response.content[:200]
    assert response["Content-Type"].startswith("application/json")
    assert "detail" in response.json()


def test_deeply_nested_json_to_the_token_endpoint_is_400():
    response = APIClient().post("/api/auth/token/", DEEP_JSON, content_type="application/json")
    _assert_json_400(response)


def test_deeply_nested_json_to_a_member_endpoint_is_400(membership):
    client = APIClient()
    client.force_authenticate(membership.member.user)
    response = client.post("/api/claims/", DEEP_JSON, content_type="application/json")
    _assert_json_400(response)
    assert not Claim.objects.exists()


def test_json_nested_deeper_than_any_payload_needs_is_400_even_below_the_recursion_limit():
    body = '{"username": ' + "[" * 200 + "]" * 200 + "}"
    response = APIClient().post("/api/auth/token/", body, content_type="application/json")
    _assert_json_400(response)
    assert "nested" in response.json()["detail"]


def test_ordinary_json_still_parses(membership):
    response = APIClient().post(
        "/api/auth/token/",
        {"username": membership.member.user.username, "password": "pw"},
        format="json",
    )
    assert response.status_code == 200 and response.json()["token"]


# --- defect 4: bad staff input in the claim admin's buttons ------------------------------------
def _press(client, claim, action, **data):
    url = reverse("admin:claims_claim_act", args=[claim.pk, action])
    response = client.post(url, data, follow=True)
    assert response.status_code == 200
    return [str(m) for m in response.context["messages"]]


@pytest.mark.parametrize("investigator_input", ["abc", "99999999", "99999999999999999999", "-1"])
def test_a_bad_investigator_is_an_admin_message_and_changes_nothing(
    client, reviewer, investigator_input
):
    claim = ClaimFactory()
    client.force_login(reviewer)
    messages = _press(client, claim, "start_investigation", investigator=investigator_input)
    assert any("investigator" in m for m in messages), messages
    claim.refresh_from_db()
    assert claim.state == ClaimState.SUBMITTED and claim.investigator_id is None
    assert not StateLog.objects.filter(object_id=claim.pk).exists()


@pytest.mark.parametrize(
    "amount",
    [
        "Infinity",
        "-Infinity",
        "NaN",
        "sNaN",
        "1e400",
        "1e-400",
        pytest.param("9" * 5000, id="9x5000"),
        "12,5",
    ],
)
def test_a_bad_publicity_amount_is_an_admin_message_and_changes_nothing(client, reviewer, amount):
    claim = ClaimFactory()
    client.force_login(reviewer)
    with time_machine.travel(START, tick=False):
        _press(client, claim, "start_investigation", investigator=reviewer.pk)
        _press(client, claim, "record_investigation", summary="ok")
        messages = _press(client, claim, "publicize", amount_yuan=amount)
    assert any("amount" in m for m in messages), messages
    claim.refresh_from_db()
    assert claim.state == ClaimState.INVESTIGATING
    assert claim.publicity_starts_at is None and claim.amount_approved_fen is None


def test_a_null_character_in_an_admin_text_is_a_message_not_a_500(client, reviewer):
    """Found by an attack on issue 10's fixes: `reason=bad\x00reason` on Reject was a 500
    (PostgreSQL cannot store NUL); the API already refused it."""
    claim = ClaimFactory()
    client.force_login(reviewer)
    with time_machine.travel(START, tick=False):
        _press(client, claim, "start_investigation", investigator=reviewer.pk)
        messages = _press(client, claim, "record_investigation", summary="seen\x00it")
        assert any("null characters" in m for m in messages), messages
        messages = _press(
            client, claim, "reject", refusal_code="misstatement", reason="bad\x00reason"
        )
        assert any("null characters" in m for m in messages), messages
    claim.refresh_from_db()
    assert claim.state == ClaimState.INVESTIGATING and not claim.investigation_summary


@pytest.mark.parametrize(
    ("amount", "fen"), [("1234.5", 1234_50), ("300000.00", 300_000_00), (" 0.01 ", 1)]
)
def test_a_good_publicity_amount_is_exact_in_fen(client, reviewer, amount, fen):
    claim = ClaimFactory()
    client.force_login(reviewer)
    with time_machine.travel(START, tick=False):
        _press(client, claim, "start_investigation", investigator=reviewer.pk)
        _press(client, claim, "record_investigation", summary="ok")
        _press(client, claim, "publicize", amount_yuan=amount)
    claim.refresh_from_db()
    assert claim.state == ClaimState.PUBLICIZED and claim.amount_approved_fen == fen


# --- defect 5: evidence is stored under the extension of its checked type -----------------------
@pytest.mark.parametrize(
    ("client_name", "body", "extension"),
    [
        ("run.sh", PDF, ".pdf"),
        ("page.html", PDF, ".pdf"),
        ("photo.pdf", image("PNG"), ".png"),
        ("scan.html", image("JPEG"), ".jpg"),
        ("no-extension", PDF, ".pdf"),
    ],
)
def test_evidence_is_stored_under_the_extension_of_its_detected_type(
    investigator, client_name, body, extension
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    claim = ClaimFactory()
    upload = SimpleUploadedFile(client_name, body, content_type="text/html")
    document = evidence_append(
        claim_id=claim.pk, kind="other", upload=upload, by=investigator, now=START
    )
    name = document.file.name
    assert name.startswith("evidence/") and name.endswith(extension), name
    assert name.count(".") == 1 and client_name.split(".")[0] not in name
    with document.file.open("rb") as stored:
        assert stored.read() == body


# --- defect 6: "diagnosis date in the future" uses Shanghai's calendar ---------------------------
def _submit_same_day(membership, now, day):
    return services.claim_submit(
        membership_id=membership.pk,
        by=membership.member.user,
        now=now,
        incident_kind="accident",
        incident_date=day,
        diagnosis_date=day,
        diagnosis="fracture",
        hospital="Ruijin",
        amount_requested_fen=100_00,
    )


def test_a_same_day_claim_at_1am_shanghai_is_accepted(membership):
    # 01:00 on 8 December in Shanghai is still 7 December (17:00) in UTC.
    now = datetime.datetime(2018, 12, 8, 1, 0, tzinfo=SHANGHAI).astimezone(datetime.UTC)
    claim = _submit_same_day(membership, now, datetime.date(2018, 12, 8))
    assert claim.state == ClaimState.SUBMITTED


def test_tomorrow_in_shanghai_is_still_the_future(membership):
    from mutual.core.errors import ServiceError

    # 23:30 in Shanghai is 15:30 UTC, the same day in both.
    now = datetime.datetime(2018, 12, 8, 23, 30, tzinfo=SHANGHAI).astimezone(datetime.UTC)
    with pytest.raises(ServiceError) as error:
        _submit_same_day(membership, now, datetime.date(2018, 12, 9))
    assert error.value.code == "future_date"


def test_a_same_day_claim_through_the_api_at_1am_shanghai_is_accepted(membership):
    client = APIClient()
    client.force_authenticate(membership.member.user)
    with time_machine.travel(datetime.datetime(2018, 12, 8, 1, 0, tzinfo=SHANGHAI), tick=False):
        response = client.post(
            "/api/claims/",
            {
                "membership": membership.pk,
                "incident_kind": "accident",
                "incident_date": "2018-12-08",
                "diagnosis_date": "2018-12-08",
                "diagnosis": "fracture",
                "hospital": "Ruijin",
                "amount_requested_fen": 100_00,
            },
            format="json",
        )
    assert response.status_code == 201, response.json()


# --- defect 9: every /api/ answer is JSON ------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/nope/"),
        ("get", "/api/nope"),
        ("post", "/api/nope/"),
        ("get", "/api/claims/1/nope/"),
        ("delete", "/api/auth/nope/deeper/"),
    ],
)
def test_unknown_api_paths_are_a_json_404(method, path):
    response = getattr(APIClient(), method)(path, follow=True)
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == {"detail": "Not found."}


def test_an_api_path_missing_its_slash_still_redirects(membership):
    client = APIClient()
    client.force_authenticate(membership.member.user)
    response = client.get("/api/plans?page=1")
    assert response.status_code == 301 and response["Location"] == "/api/plans/?page=1"
    assert client.get("/api/plans/").status_code == 200


def test_admin_and_other_404s_stay_html(client, admin_user):
    assert client.get("/nope/")["Content-Type"].startswith("text/html")
    assert client.get("/nope/").status_code == 404
    client.force_login(admin_user)
    response = client.get("/admin/claims/claim/999999/change/", follow=True)
    assert response["Content-Type"].startswith("text/html")
    response = client.get("/admin/nope/")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")


# --- defect 8: oversized uploads are refused before they are read -------------------------------
class CountingStream:
    """A request body that records how much of it was read (and never holds 200 MB)."""

    def __init__(self, size: int):
        self.size, self.read_bytes = size, 0

    def read(self, size: int = -1) -> bytes:
        left = self.size - self.read_bytes
        size = left if size is None or size < 0 else min(size, left)
        self.read_bytes += size
        return b"x" * size

    def readline(self, size: int = -1) -> bytes:
        return self.read(1)


def _post_declaring(client, path: str, size: int, content_type: str) -> tuple:
    body = CountingStream(size)
    extra = {"wsgi.input": body, "CONTENT_LENGTH": str(size)}
    response = client.generic("POST", path, b"", content_type=content_type, **extra)
    return response, body


TWO_HUNDRED_MB = 200 * 1024 * 1024


def test_a_200_mb_evidence_upload_is_a_json_413_without_its_body_being_read(membership):
    claim = ClaimFactory(membership=membership)
    client = APIClient()
    client.force_authenticate(membership.member.user)
    response, body = _post_declaring(
        client,
        f"/api/claims/{claim.pk}/evidence/",
        TWO_HUNDRED_MB,
        "multipart/form-data; boundary=xyz",
    )
    assert response.status_code == 413
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["code"] == "too_large"
    assert body.read_bytes == 0
    assert not claim.evidence.exists()
    # Hop-by-hop headers are the server's: runserver (wsgiref) turns one into a 500.
    assert not response.has_header("Connection")


def test_a_large_json_body_is_a_json_413_without_being_read():
    response, body = _post_declaring(
        APIClient(), "/api/auth/token/", 30 * 1024 * 1024, "application/json"
    )
    assert response.status_code == 413 and response.json()["code"] == "too_large"
    assert body.read_bytes == 0


def test_a_200_mb_admin_upload_is_a_413_without_its_body_being_read(client, investigator):
    claim = ClaimFactory()
    client.force_login(investigator)
    path = reverse("admin:claims_claim_act", args=[claim.pk, "add_evidence"])
    response, body = _post_declaring(
        client, path, TWO_HUNDRED_MB, "multipart/form-data; boundary=xyz"
    )
    assert response.status_code == 413 and body.read_bytes == 0
    assert not claim.evidence.exists()


def test_the_limit_is_the_evidence_limit_plus_the_form_around_it(settings, membership):
    settings.EVIDENCE_MAX_BYTES = 1024 * 1024
    claim = ClaimFactory(membership=membership)
    client = APIClient()
    client.force_authenticate(membership.member.user)
    path = f"/api/claims/{claim.pk}/evidence/"
    limit = settings.EVIDENCE_MAX_BYTES + settings.EVIDENCE_UPLOAD_OVERHEAD_BYTES
    response, body = _post_declaring(client, path, limit + 1, "multipart/form-data; boundary=x")
    assert response.status_code == 413 and body.read_bytes == 0
    # A file just over the evidence limit is read, and refused by the service with its rule.
    upload = SimpleUploadedFile("big.pdf", PDF + b"0" * settings.EVIDENCE_MAX_BYTES)
    response = client.post(path, {"kind": "other", "file": upload}, format="multipart")
    assert response.status_code == 400 and response.json()["code"] == "too_large"


def test_a_big_upload_streams_to_a_temporary_file(settings, membership, monkeypatch):
    from claims import api as claims_api

    received = []
    real_append = claims_api.evidence.evidence_append

    def recording_append(**kwargs):
        received.append(type(kwargs["upload"]).__name__)
        return real_append(**kwargs)

    monkeypatch.setattr(claims_api.evidence, "evidence_append", recording_append)
    claim = ClaimFactory(membership=membership)
    client = APIClient()
    client.force_authenticate(membership.member.user)
    size = settings.FILE_UPLOAD_MAX_MEMORY_SIZE + 1
    upload = SimpleUploadedFile("scan.pdf", PDF + b"0" * size)
    response = client.post(
        f"/api/claims/{claim.pk}/evidence/", {"kind": "other", "file": upload}, format="multipart"
    )
    assert response.status_code == 201, response.content[:300]
    assert received == ["TemporaryUploadedFile"]
    assert settings.FILE_UPLOAD_MAX_MEMORY_SIZE <= 4 * 1024 * 1024


# --- defect 9 (continued): Django's own errors under /api/ are JSON too -------------------------
def test_a_server_error_under_api_is_a_json_500(monkeypatch):
    from members.api import PlanViewSet

    def crash(self, request, *args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(PlanViewSet, "list", crash)
    response = APIClient(raise_request_exception=False).get("/api/plans/")
    assert response.status_code == 500
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == {"detail": "Server error."}
    assert b"boom" not in response.content


def test_while_the_database_is_away_the_answer_is_503_with_retry_after(monkeypatch, client):
    """Issue 24: a lost database connection answered 500; it is a 503 a client retries."""
    from django.db import OperationalError

    from members.api import PlanViewSet

    def away(self, request, *args, **kwargs):
        raise OperationalError("connection to server failed: Connection refused")

    monkeypatch.setattr(PlanViewSet, "list", away)
    response = APIClient(raise_request_exception=False).get("/api/plans/")
    assert response.status_code == 503 and response["Retry-After"] == "30"
    assert response.json()["code"] == "database_unavailable"
    assert b"Connection refused" not in response.content
    monkeypatch.setattr(PlanViewSet, "list", lambda *a, **k: (_ for _ in ()).throw(RuntimeError()))
    assert APIClient(raise_request_exception=False).get("/api/plans/").status_code == 500


def test_a_server_error_elsewhere_stays_djangos_html_page():
    from django.test import RequestFactory

    from mutual.http_errors import server_error

    response = server_error(RequestFactory().get("/admin/"))
    assert response.status_code == 500 and response["Content-Type"].startswith("text/html")


def test_a_form_field_over_djangos_limit_under_api_is_a_json_400(settings, membership):
    # Not a file: Django refuses the field (RequestDataTooBig), past DRF, with its 400 page.
    claim = ClaimFactory(membership=membership)
    client = APIClient()
    client.force_authenticate(membership.member.user)
    kind = "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    response = client.post(
        f"/api/claims/{claim.pk}/evidence/",
        {"kind": kind, "file": SimpleUploadedFile("a.pdf", PDF)},
        format="multipart",
    )
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert not claim.evidence.exists()


# --- defect 10: unknown filter values are a 400; the schema documents error statuses ------------
@pytest.mark.parametrize("value", ["Z", "yes", "2", "truee", pytest.param("", id="empty")])
def test_an_unknown_boolean_filter_value_is_a_400(value):
    response = APIClient().get(f"/api/plans/?accepting_members={value}")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert "accepting_members" in response.json()


def test_known_boolean_filter_values_still_filter():
    from tests.factories import PlanFactory

    open_plan = PlanFactory(accepting_members=True)
    closed_plan = PlanFactory(accepting_members=False)
    client = APIClient()

    def ids(query):
        response = client.get(f"/api/plans/{query}")
        assert response.status_code == 200
        return {plan["id"] for plan in response.json()["results"]}

    for value in ["true", "True", "1"]:
        assert open_plan.pk in ids(f"?accepting_members={value}")
        assert closed_plan.pk not in ids(f"?accepting_members={value}")
    for value in ["false", "0"]:
        assert closed_plan.pk in ids(f"?accepting_members={value}")
        assert open_plan.pk not in ids(f"?accepting_members={value}")
    assert {open_plan.pk, closed_plan.pk} <= ids("")


def test_unreadable_choice_and_id_filter_values_are_a_400(membership):
    client = APIClient()
    client.force_authenticate(membership.member.user)
    for query in ["state=Z", "state=", "plan=abc", "plan=1.5"]:
        response = client.get(f"/api/claims/?{query}")
        assert response.status_code == 400 and query.split("=")[0] in response.json(), query
    # A well-formed id that names no plan (or not one of mine) matches nothing.
    response = client.get("/api/claims/?plan=0")
    assert response.status_code == 200 and response.json()["results"] == []


def test_an_empty_page_number_is_an_invalid_page_like_any_other():
    for page in ["", "abc", "0"]:
        response = APIClient().get(f"/api/plans/?page={page}")
        assert response.status_code == 404 and response.json() == {"detail": "Invalid page."}


def _schema():
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


def _statuses(schema, path, method):
    return set(schema["paths"][path][method]["responses"])


def test_the_schema_documents_error_statuses_where_they_occur():
    schema = _schema()
    assert _statuses(schema, "/api/claims/", "post") == {
        "201",
        "400",
        "401",
        "403",
        "413",
        "415",
        "429",
    }
    assert _statuses(schema, "/api/claims/", "get") == {"200", "400", "401", "403", "404"}
    assert _statuses(schema, "/api/claims/{id}/", "get") == {"200", "401", "403", "404"}
    assert {"400", "404", "409", "413", "429"} <= _statuses(
        schema, "/api/claims/{id}/withdraw/", "post"
    )
    assert {"400", "404", "409"} <= _statuses(schema, "/api/cases/{id}/disputes/", "post")
    # Public: no 403 for reading, but a bad token is still a 401; a bad filter value a 400.
    assert _statuses(schema, "/api/plans/", "get") == {"200", "400", "401", "404"}
    assert {"400", "401", "429"} <= _statuses(schema, "/api/auth/token/", "post")
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert "401" in operation["responses"], (method, path)


def test_the_error_body_is_one_documented_component():
    schema = _schema()
    error = schema["components"]["schemas"]["Error"]
    assert set(error["properties"]) == {"detail", "code"}
    assert error["additionalProperties"]["type"] == "array"
    response = schema["paths"]["/api/claims/{id}/withdraw/"]["post"]["responses"]["409"]
    assert response["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
    assert "state" in response["description"]


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/api/plans/999999/", {"HTTP_ACCEPT": "text/html"}),
        ("/api/plans/999999/?format=api", {}),
        ("/api/claims/?format=api", {}),
        ("/api/plans/?accepting_members=Z", {"HTTP_ACCEPT": "text/html"}),
    ],
)
def test_api_errors_are_json_even_when_the_client_asks_for_html(client, path, headers):
    """Found by an attack on issue 10's fixes: DRF's browsable API answered these in HTML."""
    response = client.get(path, **headers)
    assert response.status_code in (400, 401, 403, 404)
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]


def test_a_format_suffix_on_a_bill_is_json_not_a_500(membership):
    """Schemathesis found /api/me/bills/0.5/ (period 0, format "5") and .json: the views did
    not take the format keyword, a 500."""
    client = APIClient()
    client.force_authenticate(membership.member.user)
    for path in ["/api/me/bills/0.5/", "/api/me/bills/1.json", "/api/me/bills/1/proof.json"]:
        response = client.get(path)
        assert response.status_code == 404, path
        assert response["Content-Type"].startswith("application/json"), path


def test_notification_switches_are_json_booleans_only(membership):
    client = APIClient()
    client.force_authenticate(membership.member.user)
    url = "/api/me/notification-preferences/"
    refused = client.patch(url, {"lapse": 0}, format="json")
    assert refused.status_code == 400 and "lapse" in refused.json()
    assert client.patch(url, {"lapse": False}, format="json").json()["lapse"] is False
