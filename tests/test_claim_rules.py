"""Issue 13, "each rule in one place": the buttons a claim's page offers are exactly the acts
its services accept, and the API answers a refused rule the same way whichever layer meets it
first."""

import datetime

import pytest
import time_machine
from django.db import transaction
from django.urls import reverse
from rest_framework.test import APIClient

from claims import evidence, requests, review, services
from claims.models import Claim
from claims.rules import REFUSALS
from claims.selectors import STAFF_ACTS
from members.services import membership_withdraw
from mutual.core.errors import ServiceError
from tests.claim_steps import (
    after_window,
    dispute_by_a_fellow_member,
    pdf,
    to_disputed,
    to_investigating,
    to_publicized,
)
from tests.factories import ClaimFactory, MembershipFactory, PlanFactory

pytestmark = pytest.mark.django_db
START = datetime.datetime(2018, 12, 7, 10, 0, tzinfo=datetime.UTC)


class _Undo(Exception):
    pass


def _service_call(act: str, *, claim_id: int, user, now, investigator_id: int):
    """Each staff act through its service, with valid inputs."""
    calls = {
        "start_investigation": lambda: services.claim_start_investigation(
            claim_id=claim_id, investigator_id=investigator_id, by=user, now=now
        ),
        "record_investigation": lambda: services.claim_record_investigation(
            claim_id=claim_id, summary="seen", by=user, now=now
        ),
        "add_evidence": lambda: evidence.evidence_append(
            claim_id=claim_id, kind="other", upload=pdf(), by=user, now=now
        ),
        "publicize": lambda: services.claim_publicize(claim_id=claim_id, by=user, now=now),
        "open_dispute_review": lambda: services.claim_open_dispute_review(
            claim_id=claim_id, by=user, now=now
        ),
        "approve": lambda: services.claim_approve(
            claim_id=claim_id, by=user, now=now, reason="checked"
        ),
        "reject": lambda: services.claim_reject(
            claim_id=claim_id, by=user, now=now, code="misstatement", reason="checked"
        ),
        "request_info": lambda: requests.claim_request_info(
            claim_id=claim_id,
            documents=["invoice"],
            deadline=now + datetime.timedelta(days=7),
            by=user,
            now=now,
        ),
        "reopen": lambda: services.claim_reopen(
            claim_id=claim_id, by=user, now=now, code="new_evidence"
        ),
        "uphold_appeal": lambda: review.appeal_decide(
            claim_id=claim_id, uphold=True, by=user, now=now
        ),
        "dismiss_appeal": lambda: review.appeal_decide(
            claim_id=claim_id, uphold=False, note="stands", by=user, now=now
        ),
        "confirm_audit": lambda: review.audit_decide(
            claim_id=claim_id, confirmed=True, by=user, now=now
        ),
        "miss_audit": lambda: review.audit_decide(
            claim_id=claim_id, confirmed=False, note="missed", by=user, now=now
        ),
    }
    return calls[act]


def accepted_by_services(claim, user, now, investigator_id) -> set[str]:
    """The acts whose service succeeds, each tried in a transaction rolled back after it."""
    accepted = set()
    for act in STAFF_ACTS:
        call = _service_call(
            act, claim_id=claim.pk, user=user, now=now, investigator_id=investigator_id
        )
        try:
            with transaction.atomic():
                call()
                raise _Undo
        except _Undo:
            accepted.add(act)
        except REFUSALS:
            pass
    return accepted


def offered_by_admin(client, user, claim) -> set[str]:
    client.force_login(user)
    page = client.get(reverse("admin:claims_claim_change", args=[claim.pk]))
    assert page.status_code == 200
    return {action.name for action in page.context["claim_actions"]}


@pytest.fixture
def claims_in_every_situation(investigator, other_investigator, reviewer):
    """(label, claim, moment) for every state a staff member meets, windows open and closed."""
    situations = [("submitted", ClaimFactory(), START)]
    claim = ClaimFactory()
    to_investigating(claim, investigator=investigator, now=START)
    situations.append(("investigating, no findings", claim, START))
    claim = ClaimFactory()
    to_investigating(claim, investigator=reviewer, now=START)
    services.claim_record_investigation(claim_id=claim.pk, summary="ok", by=reviewer, now=START)
    situations.append(("findings recorded by the reviewer", claim, START))
    claim = to_publicized(ClaimFactory(), investigator=investigator, now=START)
    situations.append(("window open", claim, START + datetime.timedelta(hours=1)))
    situations.append(("window over, undisputed", claim, after_window(claim)))
    claim = to_publicized(ClaimFactory(), investigator=investigator, now=START)
    dispute_by_a_fellow_member(claim, now=START)
    situations.append(("window open, disputed", claim, START + datetime.timedelta(hours=1)))
    situations.append(("window over, disputed", claim, after_window(claim)))
    claim = to_disputed(ClaimFactory(), investigator=investigator, now=START)
    situations.append(("under dispute review", claim, after_window(claim)))
    claim = to_publicized(ClaimFactory(), investigator=investigator, now=START)
    services.claim_approve(claim_id=claim.pk, by=None, now=after_window(claim))
    situations.append(("approved", claim, after_window(claim)))
    claim = ClaimFactory()
    services.claim_withdraw(claim_id=claim.pk, by=claim.membership.member.user, now=START)
    situations.append(("withdrawn", claim, START))
    claim = ClaimFactory()
    to_investigating(claim, investigator=investigator, now=START)
    requests.claim_request_info(
        claim_id=claim.pk,
        documents=["invoice"],
        deadline=START + datetime.timedelta(days=5),
        by=investigator,
        now=START,
    )
    situations.append(("waiting on the claimant", claim, START))
    claim = ClaimFactory()
    to_investigating(claim, investigator=investigator, now=START)
    services.claim_reject(
        claim_id=claim.pk, by=reviewer, now=START, code="pre_existing", reason="x"
    )
    situations.append(("rejected", claim, START))
    review.appeal_file(
        claim_id=claim.pk, reason="wrong", by=claim.membership.member.user, now=START
    )
    situations.append(("rejected, appealed", claim, START))
    claim = to_investigating(ClaimFactory(), investigator=other_investigator, now=START)
    services.claim_reject(
        claim_id=claim.pk, by=reviewer, now=START, code="pre_existing", reason="x"
    )
    review.appeal_file(
        claim_id=claim.pk, reason="wrong", by=claim.membership.member.user, now=START
    )
    situations.append(("appealed, refused by someone else", claim, START))
    from claims.models import DeskPolicy

    claim = to_publicized(ClaimFactory(), investigator=investigator, now=START)
    DeskPolicy.objects.update_or_create(plan=claim.plan, defaults={"audit_permille": 1000})
    services.claims_close_due_windows(now=after_window(claim))
    situations.append(("held for the audit", claim, after_window(claim)))
    return situations


def test_the_buttons_offered_are_exactly_what_the_services_accept(
    client,
    claims_in_every_situation,
    investigator,
    other_investigator,
    reviewer,
    finance,
    supervisor,
):
    checked = 0
    for label, claim, now in claims_in_every_situation:
        for user in (investigator, other_investigator, reviewer, finance, supervisor):
            with time_machine.travel(now, tick=False):
                offered = offered_by_admin(client, user, claim)
            accepted = accepted_by_services(
                Claim.objects.get(pk=claim.pk), user, now, investigator_id=investigator.pk
            )
            assert offered == accepted, (label, user.username)
            checked += len(offered)
    assert checked > 10  # the situations do offer buttons, not only refusals


def test_a_refusal_is_the_services_error_with_its_field(me):
    someone_elses = MembershipFactory(plan=me.memberships.get().plan)
    for membership_id in (someone_elses.pk, 10**9):
        with pytest.raises(ServiceError) as error:
            services.claim_submit(
                membership_id=membership_id,
                by=me.user,
                now=START,
                incident_kind="accident",
                incident_date=START.date(),
                diagnosis_date=START.date(),
                diagnosis="x",
                hospital="y",
                amount_requested_fen=100,
            )
        assert (error.value.field, error.value.code) == ("membership", "not_your_membership")


@pytest.fixture
def me(plan):
    return MembershipFactory(plan=plan).member


@pytest.fixture
def api(me):
    client = APIClient()
    client.force_authenticate(me.user)
    return client


def _claim(membership_id: int) -> dict:
    today = datetime.date.today().isoformat()
    return {
        "membership": membership_id, "incident_kind": "accident", "incident_date": today,
        "diagnosis_date": today, "diagnosis": "fracture", "hospital": "Ruijin",
        "amount_requested_fen": 100_00,
    }  # fmt: skip


def test_the_api_answers_a_foreign_or_missing_membership_alike(api, me, plan):
    someone_elses = MembershipFactory(plan=plan).pk
    answers = [
        api.post("/api/claims/", _claim(membership_id), format="json")
        for membership_id in (someone_elses, 10**9)
    ]
    assert [answer.status_code for answer in answers] == [400, 400]
    assert answers[0].json() == answers[1].json()
    assert answers[0].json()["code"] == "not_your_membership"
    # My own membership, no longer live: the service's next rule, the same status.
    mine = me.memberships.get()
    membership_withdraw(membership_id=mine.pk, by=me.user, now=START)
    answer = api.post("/api/claims/", _claim(mine.pk), format="json")
    assert answer.status_code == 400 and answer.json()["code"] == "not_live"


def test_the_api_answers_a_missing_or_closed_plan_alike(api):
    closed = PlanFactory(accepting_members=False)
    missing = api.post("/api/memberships/", {"plan": 10**9})
    refused = api.post("/api/memberships/", {"plan": closed.pk})
    assert (missing.status_code, refused.status_code) == (400, 400)
    assert missing.json()["code"] == "unknown_plan" and "plan" in missing.json()
    assert refused.json()["code"] == "plan_closed" and "plan" in refused.json()
