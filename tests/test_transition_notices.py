"""Every transition a claim or a membership can take, run through its service, writes the
notices it always wrote: one `claim` notice to the claimant per claim state change (with the
reason when rejected), one `lapse` notice when a membership lapses, none when it is withdrawn.
The services write them (no signal), so each FSM edge is listed here and checked against the
models' own list: a new transition without its case fails this test."""

import datetime

import pytest
from django_fsm import TransitionNotAllowed
from django_fsm_log.models import StateLog

from claims import review, services
from claims.models import Claim, ClaimState
from members import services as member_services
from members.models import Membership, MembershipStatus
from notifications.models import Notice
from tests.claim_steps import after_window, to_disputed, to_investigating, to_publicized
from tests.factories import ClaimFactory

pytestmark = pytest.mark.django_db
NOW = datetime.datetime(2018, 12, 7, 10, 0, tzinfo=datetime.UTC)
REASON = "Pre-existing condition."


def _approved(claim, *, investigator):
    claim = to_publicized(claim, investigator=investigator, now=NOW)
    return services.claim_approve(claim_id=claim.pk, by=None, now=after_window(claim))


# (source, target) -> (bring a new claim to `source`, then run the service that moves it on).
def _cases(investigator, reviewer):
    def publicized(claim):
        return to_publicized(claim, investigator=investigator, now=NOW)

    def disputed(claim):
        return to_disputed(claim, investigator=investigator, now=NOW)

    def later(claim):
        return after_window(claim) + datetime.timedelta(hours=1)

    return {
        (ClaimState.SUBMITTED, ClaimState.INVESTIGATING): (
            lambda claim: claim,
            lambda claim: to_investigating(claim, investigator=investigator, now=NOW),
        ),
        (ClaimState.SUBMITTED, ClaimState.WITHDRAWN): (
            lambda claim: claim,
            lambda claim: services.claim_withdraw(
                claim_id=claim.pk, by=claim.membership.member.user, now=NOW
            ),
        ),
        (ClaimState.INVESTIGATING, ClaimState.PUBLICIZED): (
            lambda claim: to_investigating(claim, investigator=investigator, now=NOW),
            lambda claim: (
                services.claim_record_investigation(
                    claim_id=claim.pk, summary="seen", by=investigator, now=NOW
                ),
                services.claim_publicize(claim_id=claim.pk, by=investigator, now=NOW),
            ),
        ),
        (ClaimState.INVESTIGATING, ClaimState.REJECTED): (
            lambda claim: to_investigating(claim, investigator=investigator, now=NOW),
            lambda claim: services.claim_reject(
                claim_id=claim.pk, by=reviewer, now=NOW, code="misstatement", reason=REASON
            ),
        ),
        (ClaimState.PUBLICIZED, ClaimState.DISPUTED): (
            lambda claim: _with_dispute(publicized(claim)),
            lambda claim: services.claims_close_due_windows(now=after_window(claim)),
        ),
        (ClaimState.PUBLICIZED, ClaimState.APPROVED): (
            publicized,
            lambda claim: services.claims_close_due_windows(now=after_window(claim)),
        ),
        (ClaimState.DISPUTED, ClaimState.APPROVED): (
            disputed,
            lambda claim: services.claim_approve(
                claim_id=claim.pk, by=reviewer, now=later(claim), reason="the doctor confirmed"
            ),
        ),
        (ClaimState.DISPUTED, ClaimState.REJECTED): (
            disputed,
            lambda claim: services.claim_reject(
                claim_id=claim.pk, by=reviewer, now=later(claim), code="misstatement", reason=REASON
            ),
        ),
        (ClaimState.APPROVED, ClaimState.PAID): (
            lambda claim: _approved(claim, investigator=investigator),
            lambda claim: services.claim_mark_paid(claim_id=claim.pk, by=None, now=later(claim)),
        ),
        (ClaimState.REJECTED, ClaimState.INVESTIGATING): (
            lambda claim: services.claim_reject(
                claim_id=to_investigating(claim, investigator=investigator, now=NOW).pk,
                by=reviewer,
                now=NOW,
                code="misstatement",
                reason=REASON,
            ),
            lambda claim: services.claim_reopen(
                claim_id=claim.pk, by=reviewer, now=NOW, code="new_evidence"
            ),
        ),
        (ClaimState.REJECTED, ClaimState.DISPUTED): (
            lambda claim: _refused_on_a_jury_plan(claim, investigator, reviewer),
            lambda claim: review.appeal_file(
                claim_id=claim.pk, reason="the scan", by=claim.membership.member.user, now=NOW
            ),
        ),
        (ClaimState.WITHDRAWN, ClaimState.INVESTIGATING): (
            lambda claim: services.claim_withdraw(
                claim_id=claim.pk, by=claim.membership.member.user, now=NOW
            ),
            lambda claim: services.claim_reopen(
                claim_id=claim.pk, by=reviewer, now=NOW, code="decision_error"
            ),
        ),
    }


def _refused_on_a_jury_plan(claim, investigator, reviewer):
    """Refused in investigation on a jury plan: its appeal goes to a jury of members."""
    from members.models import DisputeReview

    claim.plan.dispute_review = DisputeReview.JURY
    claim.plan.save(update_fields=["dispute_review"])
    to_investigating(claim, investigator=investigator, now=NOW)
    return services.claim_reject(
        claim_id=claim.pk, by=reviewer, now=NOW, code="misstatement", reason=REASON
    )


def _with_dispute(claim):
    from tests.claim_steps import dispute_by_a_fellow_member

    dispute_by_a_fellow_member(claim, now=NOW)
    return claim


def test_every_claim_transition_has_a_case_here(investigator, reviewer):
    edges = {(t.source, t.target) for t in Claim().get_all_state_transitions()}
    assert edges == set(_cases(investigator, reviewer))


@pytest.mark.parametrize(
    "edge",
    [
        (ClaimState.SUBMITTED, ClaimState.INVESTIGATING),
        (ClaimState.SUBMITTED, ClaimState.WITHDRAWN),
        (ClaimState.INVESTIGATING, ClaimState.PUBLICIZED),
        (ClaimState.INVESTIGATING, ClaimState.REJECTED),
        (ClaimState.PUBLICIZED, ClaimState.DISPUTED),
        (ClaimState.PUBLICIZED, ClaimState.APPROVED),
        (ClaimState.DISPUTED, ClaimState.APPROVED),
        (ClaimState.DISPUTED, ClaimState.REJECTED),
        (ClaimState.APPROVED, ClaimState.PAID),
        (ClaimState.REJECTED, ClaimState.INVESTIGATING),
        (ClaimState.REJECTED, ClaimState.DISPUTED),
        (ClaimState.WITHDRAWN, ClaimState.INVESTIGATING),
    ],
    ids=lambda edge: f"{edge[0]}-{edge[1]}",
)
def test_each_claim_transition_tells_the_claimant_once(edge, membership, investigator, reviewer):
    source, target = edge
    to_source, act = _cases(investigator, reviewer)[edge]
    claim = to_source(ClaimFactory(membership=membership))
    claim.refresh_from_db()
    assert claim.state == source
    before = set(Notice.objects.values_list("pk", flat=True))
    act(claim)
    claim.refresh_from_db()
    assert claim.state == target
    new = list(Notice.objects.exclude(pk__in=before))
    assert len(new) == 1, [n.event for n in new]  # the claimant, no one else
    notice = new[0]
    payload = {"claim_id": claim.pk, "state": target}
    if target == ClaimState.REJECTED:
        payload["reason"] = REASON
    if claim.reason is not None:  # the catalogue's words, both languages
        payload |= {
            "reason_code": claim.reason.code,
            "reason_en": claim.reason.text_en,
            "reason_zh": claim.reason.text_zh,
        }
    round_tag = f":r{claim.reopened}" if claim.reopened else ""
    moved_at = StateLog.objects.for_(claim).latest("timestamp", "pk").timestamp  # the act's now
    assert (notice.member_id, notice.kind, notice.event, notice.payload, notice.created_at) == (
        membership.member_id,
        "claim",
        f"claim:{claim.pk}:{target}{round_tag}",
        payload,
        moved_at,
    )


def test_every_membership_transition_has_a_case_here():
    edges = {(t.source, t.target) for t in Membership().get_all_status_transitions()}
    assert edges == {
        (MembershipStatus.ACTIVE, MembershipStatus.WITHDRAWN),
        (MembershipStatus.ACTIVE, MembershipStatus.LAPSED),
    }


def test_a_withdrawn_membership_tells_no_one(membership):
    member_services.membership_withdraw(
        membership_id=membership.pk, by=membership.member.user, now=NOW
    )
    membership.refresh_from_db()
    assert membership.status == MembershipStatus.WITHDRAWN
    assert not Notice.objects.exists()


def test_a_lapsed_membership_tells_its_member_once_with_the_plan_and_reason(membership):
    member_services.membership_lapse(
        membership_id=membership.pk, by=None, now=NOW, reason="bill unpaid"
    )
    with pytest.raises(TransitionNotAllowed):  # lapsed already: refused, nothing told again
        member_services.membership_lapse(
            membership_id=membership.pk, by=None, now=NOW, reason="bill unpaid"
        )
    membership.refresh_from_db()
    assert membership.status == MembershipStatus.LAPSED
    notice = Notice.objects.get()
    assert (notice.member_id, notice.kind, notice.event, notice.payload, notice.created_at) == (
        membership.member_id,
        "lapse",
        f"lapse:{membership.pk}",
        {"plan": membership.plan.name, "reason": "bill unpaid"},
        NOW,
    )
