"""A reviewer works a claim from submitted to approved with the change page's buttons."""

import datetime

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from claims.models import Claim, ClaimState
from tests.claim_steps import pdf
from tests.factories import ClaimFactory

pytestmark = pytest.mark.django_db
START = datetime.datetime(2018, 12, 7, 10, 0, tzinfo=datetime.UTC)


def press(client, claim, action, **data):
    url = reverse("admin:claims_claim_act", args=[claim.pk, action])
    response = client.post(url, data, follow=True)
    assert response.status_code == 200
    return response


def buttons(client, claim) -> set[str]:
    page = client.get(reverse("admin:claims_claim_change", args=[claim.pk]))
    assert page.status_code == 200
    return {a.name for a in page.context["claim_actions"]}


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_reviewer_moves_a_claim_from_submitted_to_approved(client, reviewer, investigator):
    claim = ClaimFactory()
    reviewer_client, investigator_client = client, client.__class__()
    reviewer_client.force_login(reviewer)
    investigator_client.force_login(investigator)

    with time_machine.travel(START, tick=False):
        assert "start_investigation" in buttons(reviewer_client, claim)
        press(reviewer_client, claim, "start_investigation", investigator=investigator.pk)
        assert Claim.objects.get(pk=claim.pk).state == ClaimState.INVESTIGATING

        # The third-party investigator uploads the report and records findings on the same page.
        assert {"add_evidence", "record_investigation"} <= buttons(investigator_client, claim)
        press(investigator_client, claim, "add_evidence", kind="investigation_report", file=pdf())
        press(investigator_client, claim, "record_investigation", summary="hospital confirmed")

        assert "publicize" in buttons(reviewer_client, claim)
        response = press(reviewer_client, claim, "publicize", amount_yuan="300000.00")
        # In the zone of every other screen, and said (issue 25: it was UTC, unlabelled).
        ends = timezone.localtime(START + datetime.timedelta(days=3))
        assert f"Publicized until {ends:%Y-%m-%d %H:%M} (Shanghai time)." in messages_of(response)
        assert buttons(reviewer_client, claim) == set()  # nothing to decide while it is public

    with time_machine.travel(START + datetime.timedelta(days=3, minutes=1), tick=False):
        assert "approve" in buttons(reviewer_client, claim)
        response = press(reviewer_client, claim, "approve")
        assert "Claim approved." in messages_of(response)

    claim.refresh_from_db()
    assert claim.state == ClaimState.APPROVED
    assert claim.amount_approved_fen == 300_000_00


def test_the_investigator_sees_no_approve_button_and_a_forged_post_is_refused(client, investigator):
    claim = ClaimFactory()
    client.force_login(investigator)
    with time_machine.travel(START, tick=False):
        press(client, claim, "start_investigation", investigator=investigator.pk)
        response = press(client, claim, "reject", refusal_code="misstatement", reason="forged")
    assert "reject" not in buttons(client, claim)
    assert any("may not" in m for m in messages_of(response))
    assert Claim.objects.get(pk=claim.pk).state == ClaimState.INVESTIGATING


def test_bad_amount_gets_a_clear_admin_message(client, reviewer, investigator):
    claim = ClaimFactory()
    client.force_login(reviewer)
    press(client, claim, "start_investigation", investigator=reviewer.pk)
    press(client, claim, "record_investigation", summary="ok")
    response = press(client, claim, "publicize", amount_yuan="12.345")
    assert any("two decimals" in m for m in messages_of(response))
    assert Claim.objects.get(pk=claim.pk).state == ClaimState.INVESTIGATING
    # Left empty, nothing is approved by default (issue 25): the amount is asked for.
    response = press(client, claim, "publicize", amount_yuan="")
    assert any("enter the amount to approve" in m for m in messages_of(response))
    assert Claim.objects.get(pk=claim.pk).state == ClaimState.INVESTIGATING
    # The box shows the amount asked, visibly, as its value (not a placeholder).
    page = client.get(reverse("admin:claims_claim_change", args=[claim.pk])).content.decode()
    assert 'name="amount_yuan" size="12" required value="300,000.00"' in page
    # ... which is accepted as typed, separators and all.
    response = press(client, claim, "publicize", amount_yuan="1,000.00")
    assert Claim.objects.get(pk=claim.pk).amount_approved_fen == 1_000_00


def test_claim_changelist_renders_for_a_reviewer(client, reviewer):
    ClaimFactory.create_batch(3)
    client.force_login(reviewer)
    response = client.get(reverse("admin:claims_claim_changelist") + "?state=submitted")
    assert response.status_code == 200
    assert response.context["cl"].result_count == 3


def test_a_claim_with_no_evidence_shows_no_green_check(client, reviewer):
    """Issue 25: "0 documents verified" in green said something that had not happened."""
    claim = ClaimFactory()
    client.force_login(reviewer)
    page = client.get(reverse("admin:claims_claim_change", args=[claim.pk])).content.decode()
    assert "no documents yet" in page and "documents verified" not in page


def test_a_claim_with_no_jury_shows_no_empty_jury_table(client, reviewer):
    from claims.models import JurySeat

    claim = ClaimFactory()
    client.force_login(reviewer)
    url = reverse("admin:claims_claim_change", args=[claim.pk])
    assert 'id="jury-group"' not in client.get(url).content.decode()
    JurySeat.objects.create(
        claim=claim, member=claim.membership.member, drawn_at=claim.submitted_at
    )
    assert 'id="jury-group"' in client.get(url).content.decode()
