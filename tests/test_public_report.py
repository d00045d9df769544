"""The public report, read without login: each posted period (HTML in English and Chinese, and
JSON) and the cases in publicity, anonymised: nothing names or numbers a member."""

import datetime
from datetime import UTC

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from billing import steps
from billing.models import ApportionmentPeriod
from claims.models import ClaimState
from tests.billing_data import active, bulk_approved_claims, bulk_memberships
from tests.factories import ClaimFactory, PlanFactory

pytestmark = pytest.mark.django_db
CUTOFF = datetime.datetime(2019, 3, 16, tzinfo=UTC)


@pytest.fixture
def posted(settings):
    settings.APPORTION_CHUNK_IDS = 40
    plan = PlanFactory(management_fee_bp=800)
    early = [active(CUTOFF - datetime.timedelta(days=100))] * 60
    late = [active(CUTOFF - datetime.timedelta(days=4, hours=12))] * 20
    people = bulk_memberships(plan, early + late)
    day = datetime.timedelta(days=1)
    claims = bulk_approved_claims(
        plan, people[0], [(CUTOFF - 5 * day, 12_000_00), (CUTOFF - 4 * day, 99)],
        decided_at=CUTOFF - day,
    )  # fmt: skip
    period = ApportionmentPeriod.objects.create(
        plan=plan, starts_at=CUTOFF - datetime.timedelta(days=15), cutoff_at=CUTOFF
    )
    return steps.period_run_inline(period_id=period.pk, now=CUTOFF), people, claims


def _nothing_personal(text: str, people, claims) -> None:
    person = people[0].member
    assert person.full_name not in text and person.national_id not in text
    assert person.user.username not in text
    for key in ("membership", "member_id", "national_id", "full_name", "claim_id", '"id"'):
        assert key not in text


def test_a_posted_periods_report_in_json_without_login(posted):
    period, people, claims = posted
    answer = APIClient().get(f"/api/public/periods/{period.pk}/")
    assert answer.status_code == 200
    report = answer.json()
    assert report["totals"] == {
        "cases": 2,
        "cases_fen": 12_000_99,
        "fees_fen": period.fee_total_fen,
        "recovered_fen": 0,
        "total_fen": period.total_fen,
        "charged_fen": period.charged_fen,
        "sponsor_fen": period.sponsor_fen,
    }
    assert report["sharers"] == 80
    assert [c["amount_fen"] for c in report["cases"]] == [12_000_00, 99]
    assert {c["age_band"] for c in report["cases"]} == {"20-29"}  # born 1990, ill in 2019
    assert [(s["members"], s["cases"]) for s in report["shares"]] == [(60, 2), (20, 1)]
    assert report["merkle"]["root"] == period.merkle_root and report["merkle"]["size"] == 80
    assert report["merkle"]["previous_root"] is None
    _nothing_personal(answer.content.decode(), people, claims)
    key = APIClient().get("/api/public/signing-key/").json()["public_key"]
    assert key == period.merkle_head["public_key"]
    assert APIClient().get("/api/public/periods/999999/").status_code == 404


def test_the_report_page_speaks_english_and_chinese_without_login(client, posted):
    period, people, claims = posted
    page = client.get(f"/public/periods/{period.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Share per member" in page and period.merkle_root in page
    assert "12,000.00" in page and "sponsor" in page
    _nothing_personal(page, people, claims)
    page = client.get(f"/public/periods/{period.pk}/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    text = page.content.decode()
    assert "每人分摊" in text and "默克尔根" in text and period.merkle_root in text
    index = client.get("/public/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f"/public/periods/{period.pk}/" in index


def test_cases_in_publicity_are_public_and_anonymised(client):
    claim = ClaimFactory(
        state=ClaimState.PUBLICIZED,
        diagnosis="Craniotomy after a fall",
        hospital="Ruijin Hospital",
        amount_approved_fen=250_000_00,
        publicity_starts_at=CUTOFF,
        publicity_ends_at=CUTOFF + datetime.timedelta(days=3),
    )
    ClaimFactory(diagnosis="Not yet public")
    answer = APIClient().get("/api/public/cases/")
    assert answer.status_code == 200
    [case] = answer.json()["results"]
    assert case["illness"] == "Craniotomy after a fall" and case["amount_fen"] == 250_000_00
    _nothing_personal(answer.content.decode(), [claim.membership], [claim])
    page = client.get("/public/cases/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "Craniotomy after a fall" in page and "公示中的案件" in page
    assert "Not yet public" not in page
    # The window's end in Shanghai time, labelled (issue 25: it was UTC, unlabelled); the
    # API keeps the ISO 8601 instant with its offset.
    ends = timezone.localtime(claim.publicity_ends_at)
    page = client.get("/public/cases/").content.decode()
    assert "publicity ends (Shanghai time)" in page and f"{ends:%Y-%m-%d %H:%M}" in page
    assert datetime.datetime.fromisoformat(case["publicity_ends_at"]) == claim.publicity_ends_at
