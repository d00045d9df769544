"""Disputes during the publicity window, and the jury that may review them."""

from __future__ import annotations

import datetime

from django.db import IntegrityError, transaction

from claims.jury import jury_commit, jury_pick
from claims.models import Claim, ClaimState, Dispute, JurySeat, Vote
from claims.rules import require_window_open
from members.models import DisputeReview, Member, Membership, MembershipStatus
from members.notifications.events import notify_jury_drawn
from mutual.core.errors import ServiceError


@transaction.atomic
def dispute_raise(*, claim_id: int, member_id: int, reason: str, now: datetime.datetime) -> Dispute:
    """Any active member of the claim's plan, other than the claimant, objects once, in time."""
    # Locking the claim orders this against the window closer: it cannot close mid-dispute.
    claim = (
        Claim.objects.select_for_update(of=("self",)).select_related("membership").get(pk=claim_id)
    )
    require_window_open(claim, by=None, now=now)
    if claim.membership.member_id == member_id:
        raise ServiceError("a claimant cannot dispute their own claim", code="own_claim")
    if not Membership.objects.filter(
        member_id=member_id, plan_id=claim.plan_id, status=MembershipStatus.ACTIVE
    ).exists():
        raise ServiceError(
            "only active members of the claim's plan may dispute it", code="not_in_plan"
        )
    if not reason.strip():
        raise ServiceError("a dispute needs a reason", code="reason_required", field="reason")
    try:
        with transaction.atomic():
            dispute = Dispute.objects.create(
                claim=claim, member_id=member_id, reason=reason.strip(), created_at=now
            )
    except IntegrityError:
        raise ServiceError(
            "you have already disputed this claim", code="already_disputed"
        ) from None
    jury_commit(claim=claim, now=now)  # the seed's hash is public before any draw
    return dispute


def jury_draw(*, claim: Claim, now: datetime.datetime) -> int:
    """Draw jurors from the plan's active members (not the claimant, not disputers) by the
    seed committed when the first dispute opened (claims/jury.py, mutual/jury.py: anyone can
    recompute it once the seed is revealed). Returns the number of seats."""
    plan = claim.plan
    if plan.dispute_review != DisputeReview.JURY or claim.jury.exists():
        return 0
    excluded = {claim.membership.member_id, *claim.disputes.values_list("member_id", flat=True)}
    chosen = jury_pick(claim=claim, excluded=excluded, now=now)
    JurySeat.objects.bulk_create(
        [JurySeat(claim=claim, member_id=member_id, drawn_at=now) for member_id in chosen]
    )
    notify_jury_drawn(claim=claim, member_ids=chosen, now=now)
    return len(chosen)


@transaction.atomic
def jury_vote(*, claim_id: int, member_id: int, vote: str, now: datetime.datetime) -> Claim:
    """A drawn juror votes once. When a quorum has voted and one side has a strict majority of
    the votes cast, the claim is decided (by the system, in the jurors' name in the log)."""
    from claims.services import claim_approve, claim_reject

    if vote not in Vote.values:
        raise ServiceError("vote must be approve or reject", code="bad_vote", field="vote")
    claim = Claim.objects.select_for_update(of=("self",)).select_related("plan").get(pk=claim_id)
    if claim.state != ClaimState.DISPUTED:
        raise ServiceError("this claim is not awaiting a jury", code="not_disputed")
    seat = JurySeat.objects.filter(claim=claim, member_id=member_id).first()
    if seat is None:
        raise ServiceError("you were not drawn for this jury", code="not_a_juror")
    if seat.vote:
        raise ServiceError("you have already voted", code="already_voted")
    seat.vote, seat.voted_at = vote, now
    seat.save(update_fields=["vote", "voted_at"])

    votes = list(claim.jury.exclude(vote="").values_list("vote", flat=True))
    approve, reject = votes.count(Vote.APPROVE), votes.count(Vote.REJECT)
    if len(votes) < claim.plan.jury_quorum or approve == reject:
        return claim
    reason = f"jury decision: {approve} approve, {reject} reject"
    if approve > reject:
        return claim_approve(claim_id=claim.pk, by=None, now=now, reason=reason)
    return claim_reject(claim_id=claim.pk, by=None, now=now, reason=reason)


def member_for_user(user) -> Member:
    try:
        return user.member
    except Member.DoesNotExist:
        raise ServiceError("this login has no member profile", code="not_a_member") from None
