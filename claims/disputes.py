"""Disputes during the publicity window, and the jury that may review them."""

from __future__ import annotations

import datetime
import random

from django.db import IntegrityError, transaction
from django.db.models import Max, Min

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
            return Dispute.objects.create(
                claim=claim, member_id=member_id, reason=reason.strip(), created_at=now
            )
    except IntegrityError:
        raise ServiceError(
            "you have already disputed this claim", code="already_disputed"
        ) from None


def jury_draw(*, claim: Claim, now: datetime.datetime, rng: random.Random | None = None) -> int:
    """Draw jurors at random from the plan's active members (not the claimant, not disputers).

    Random ids in the membership id range are probed a batch at a time, so the draw costs a
    few index lookups even with ten million members. Returns the number of seats."""
    plan = claim.plan
    if plan.dispute_review != DisputeReview.JURY or claim.jury.exists():
        return 0
    rng = rng or random.SystemRandom()
    excluded = {claim.membership.member_id, *claim.disputes.values_list("member_id", flat=True)}
    pool = Membership.objects.filter(plan=plan, status=MembershipStatus.ACTIVE)
    bounds = pool.aggregate(low=Min("pk"), high=Max("pk"))
    chosen: list[int] = []
    for _attempt in range(50):
        if len(chosen) >= plan.jury_size or bounds["low"] is None:
            break
        probes = [rng.randint(bounds["low"], bounds["high"]) for _ in range(plan.jury_size * 4)]
        for member_id in pool.filter(pk__in=probes).values_list("member_id", flat=True):
            if member_id not in excluded and member_id not in chosen:
                chosen.append(member_id)
    chosen = chosen[: plan.jury_size]
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
