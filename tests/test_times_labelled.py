"""Issue 25: every time shown to a person carries its zone. The admin's pages and the public
ones, in English and in Chinese, are read for a date and time of day with no offset or zone
after it."""

import datetime
import re

import pytest
import time_machine
from django.urls import reverse

from billing import recoveries, steps
from billing.models import ApportionmentPeriod
from billing.payouts import period_pay_claims
from claims import evidence, requests, services
from tests.claim_steps import after_window, pdf, to_publicized
from tests.factories import ClaimFactory, MembershipFactory, PlanFactory, UserFactory

pytestmark = pytest.mark.django_db
NOW = datetime.datetime(2030, 12, 2, 2, 0, tzinfo=datetime.UTC)
# A date with a time of day, and what must follow it: an offset, or a named zone.
MOMENT = re.compile(
    r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?"  # ISO, as our formats print
    r"|\b\d{1,2}(:\d{2})? [ap]\.m\.|\bnoon\b|\bmidnight\b"  # Django's English default
    r"|\d{4}年\d{1,2}月\d{1,2}日 ?\d{1,2}:\d{2}"  # and its Chinese one
)
ZONE = re.compile(r"\s*(\+0800|\+08:00|Z\b|\(Shanghai|\uff08上海|Shanghai|上海)")


def unzoned(html: str) -> list[str]:
    text = re.sub(r"<script.*?</script>|<style.*?</style>", "", html, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", text)  # what a person reads, not attributes
    found = []
    for match in MOMENT.finditer(text):
        if not ZONE.match(text, match.end()):
            found.append(text[max(0, match.start() - 60) : match.end() + 20].strip())
    return found


@pytest.fixture
def office(investigator, finance):
    plan = PlanFactory(management_fee_bp=800)
    MembershipFactory.create_batch(4, plan=plan)
    with time_machine.travel(NOW, tick=False):
        claim = ClaimFactory(membership__plan=plan)
        claim = to_publicized(claim, investigator=investigator, now=NOW)
        services.claim_approve(claim_id=claim.pk, by=None, now=after_window(claim))
        period = ApportionmentPeriod.objects.create(
            plan=plan, starts_at=NOW - datetime.timedelta(days=15),
            cutoff_at=NOW + datetime.timedelta(days=4),
        )  # fmt: skip
        at = period.cutoff_at
        steps.period_run_inline(period_id=period.pk, now=at)
        period_pay_claims(period_id=period.pk, now=at)
        recoveries.claim_recover(
            claim_id=claim.pk, amount_fen=100, reason_code="paid_in_error", note="twice",
            by=finance, now=at,
        )  # fmt: skip
        other = ClaimFactory(membership__plan=plan)
        services.claim_start_investigation(
            claim_id=other.pk, investigator_id=investigator.pk, by=investigator, now=NOW
        )
        evidence.evidence_append(
            claim_id=other.pk, kind="invoice", upload=pdf(), by=investigator, now=NOW
        )
        requests.claim_request_info(
            claim_id=other.pk, documents=["invoice"], deadline=NOW + datetime.timedelta(days=5),
            by=investigator, now=NOW,
        )  # fmt: skip
        # A claim on the desk's clock, with its due time in the list.
        ClaimFactory(membership__plan=plan, due_at=NOW + datetime.timedelta(days=2))
    return claim, other, period


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_no_time_without_its_zone_on_the_staff_and_public_pages(client, office, language):
    claim, other, period = office
    boss = UserFactory(username="boss", is_staff=True, is_superuser=True)
    pages = [
        reverse("admin:claims_claim_changelist"),
        reverse("admin:claims_claim_change", args=[claim.pk]),
        reverse("admin:claims_claim_change", args=[other.pk]),
        reverse("admin:claims_inforequest_changelist"),
        reverse("admin:billing_apportionmentperiod_changelist"),
        reverse("admin:billing_apportionmentperiod_change", args=[period.pk]),
        reverse("admin:billing_recovery_changelist"),
        reverse("admin:billing_bill_changelist"),
        reverse("admin:members_membership_changelist"),
        reverse("admin:index"),
        "/public/",
        "/public/cases/",
        f"/public/periods/{period.pk}/",
    ]
    found = {}
    with time_machine.travel(NOW + datetime.timedelta(days=5), tick=False):
        client.force_login(boss)
        for path in pages:
            answer = client.get(path, HTTP_ACCEPT_LANGUAGE=language)
            assert answer.status_code == 200, path
            if bare := unzoned(answer.content.decode()):
                found[path] = bare
    assert not found, found
