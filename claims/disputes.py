"""Disputes during the publicity window, and the jury that may review them."""

from __future__ import annotations

import datetime
import logging

from django.db import IntegrityError, transaction
from django.db.models import F, Q

from claims.errors import ErrorCode
from claims.jury import jury_commit, jury_pick, jury_record, jury_send
from claims.models import Claim, ClaimState, Dispute, JuryDraw, JurySeat, Vote
from claims.notices import notify_jury_drawn
from claims.review import appeal_jury_decided
from claims.rules import require_window_open
from claims.services import claim_approve, claim_reject
from members.models import DisputeReview, Member, Membership
from members.selectors import covered_at_q
from mutual.core.errors import InvariantError, ServiceError

logger = logging.getLogger(__name__)


@transaction.atomic
def dispute_raise(*, claim_id: int, member_id: int, reason: str, now: datetime.datetime) -> Dispute:
    """A member who shares the case, other than the claimant, objects once, in time."""
    # Locking the claim orders this against the window closer: it cannot close mid-dispute.
    claim = (
        Claim.objects.select_for_update(of=("self",)).select_related("membership").get(pk=claim_id)
    )
    require_window_open(claim, by=None, now=now)
    if claim.membership.member_id == member_id:
        raise ServiceError("a claimant cannot dispute their own claim", code=ErrorCode.OWN_CLAIM)
    # Those who share the case, and only they: covered in its plan when its notice went up.
    if not Membership.objects.filter(
        covered_at_q(claim.publicity_starts_at), member_id=member_id, plan_id=claim.plan_id
    ).exists():
        raise ServiceError(
            "only members who share this case (covered in its plan when it was publicized) "
            "may dispute it",
            code=ErrorCode.NOT_A_SHARER,
        )
    if not reason.strip():
        raise ServiceError(
            "a dispute needs a reason", code=ErrorCode.REASON_REQUIRED, field="reason"
        )
    try:
        with transaction.atomic():
            dispute = Dispute.objects.create(
                claim=claim,
                member_id=member_id,
                reason=reason.strip(),
                created_at=now,
                round=claim.reopened,  # a reopened claim is disputed afresh
            )
    except IntegrityError:
        raise ServiceError(
            "you have already disputed this claim", code=ErrorCode.ALREADY_DISPUTED
        ) from None
    jury_commit(claim=claim, now=now)  # the seed's hash is public before any draw
    return dispute


def _awaiting_jury(claim: Claim) -> JuryDraw | None:
    """The claim's draw, if it is still to be drawn: disputed on a jury plan, no jury yet."""
    if claim.state != ClaimState.DISPUTED or claim.plan.dispute_review != DisputeReview.JURY:
        return None
    draw = JuryDraw.objects.filter(claim=claim, round=claim.reopened).defer("eligible").first()
    if draw is None:
        raise InvariantError(f"claim {claim.pk} went to a jury with no committed seed")
    if draw.drawn_at is not None or claim.round_jury().exists():
        return None
    return draw


def jury_draw(*, claim_id: int, now: datetime.datetime) -> int:
    """Draw the jury of a disputed claim (claims.tasks.draw_jury) from the plan's active
    members, not the claimant, not disputers, by the seed committed when the first dispute
    opened (claims/jury.py, mutual/jury.py: anyone can recompute it once the seed is
    revealed). The members are read and named with no lock held; then one short transaction
    re-locks the claim and, if it is still disputed with no jury, writes the list, the
    jurors, drawn_at and the seats together. So a second delivery draws nothing, a worker
    killed half-way leaves nothing behind, and a claim decided meanwhile gets no jury.
    Returns the number of seats drawn."""
    claim = Claim.objects.select_related("plan", "membership").get(pk=claim_id)
    draw = _awaiting_jury(claim)
    if draw is None:
        return 0
    # No dispute is added once the window has closed, so this set is final.
    excluded = {
        claim.membership.member_id,
        *claim.round_disputes().values_list("member_id", flat=True),
        # Who judged the claim in an earlier round (an appeal's jury is new people).
        *claim.jury.values_list("member_id", flat=True),
    }
    with jury_pick(claim=claim, draw=draw, excluded=excluded) as pick, transaction.atomic():
        claim = (
            Claim.objects.select_for_update(of=("self",)).select_related("plan").get(pk=claim_id)
        )
        if _awaiting_jury(claim) is None:
            return 0
        jury_record(draw=draw, pick=pick, now=now)
        chosen = [member_id for _pseudonym, member_id in pick.jurors]
        JurySeat.objects.bulk_create(
            [
                JurySeat(claim=claim, member_id=member_id, drawn_at=now, round=claim.reopened)
                for member_id in chosen
            ]
        )
        notify_jury_drawn(claim=claim, member_ids=chosen, now=now)
    return len(chosen)


LOST_AFTER = datetime.timedelta(minutes=15)


def jury_draws_resend(*, now: datetime.datetime) -> list[int]:
    """Beat's safety net: a draw handed to the workers over 15 minutes ago and still not
    drawn (its task lost with a worker) is handed out again, and marked so, at most once per
    15 minutes a claim, and once when two beats run together. Returns the claims' ids."""
    with transaction.atomic():
        lost = list(
            JuryDraw.objects.select_for_update(of=("self",), skip_locked=True)
            .filter(
                Q(enqueued_at__lt=now - LOST_AFTER) | Q(enqueued_at__isnull=True),
                drawn_at__isnull=True,
                round=F("claim__reopened"),  # an earlier round's draw is over
                claim__state=ClaimState.DISPUTED,
                claim__plan__dispute_review=DisputeReview.JURY,
            )
            .values_list("pk", "claim_id")
            .order_by("pk")
        )
        JuryDraw.objects.filter(pk__in=[pk for pk, _claim_id in lost]).update(enqueued_at=now)
        for _pk, claim_id in lost:
            logger.warning(
                "jury draw of claim %s was not drawn: handed to the workers again", claim_id
            )
            jury_send(claim_id, now=now)
    return [claim_id for _pk, claim_id in lost]


@transaction.atomic
def jury_vote(*, claim_id: int, member_id: int, vote: str, now: datetime.datetime) -> Claim:
    """A drawn juror votes once. When a quorum has voted and one side has a strict majority of
    the votes cast, the claim is decided (by the system, in the jurors' name in the log)."""
    if vote not in Vote.values:
        raise ServiceError("vote must be approve or reject", code=ErrorCode.BAD_VOTE, field="vote")
    claim = Claim.objects.select_for_update(of=("self",)).select_related("plan").get(pk=claim_id)
    if claim.state != ClaimState.DISPUTED:
        raise ServiceError("this claim is not awaiting a jury", code=ErrorCode.NOT_DISPUTED)
    seat = claim.round_jury().filter(member_id=member_id).first()
    if seat is None:
        raise ServiceError("you were not drawn for this jury", code=ErrorCode.NOT_A_JUROR)
    if seat.vote:
        raise ServiceError("you have already voted", code=ErrorCode.ALREADY_VOTED)
    seat.vote, seat.voted_at = vote, now
    seat.save(update_fields=["vote", "voted_at"])

    votes = list(claim.round_jury().exclude(vote="").values_list("vote", flat=True))
    approve, reject = votes.count(Vote.APPROVE), votes.count(Vote.REJECT)
    if len(votes) < claim.plan.jury_quorum or approve == reject:
        return claim
    reason = f"jury decision: {approve} approve, {reject} reject"
    if approve > reject:
        claim = claim_approve(claim_id=claim.pk, by=None, now=now, reason=reason)
    else:
        claim = claim_reject(
            claim_id=claim.pk, by=None, now=now, code="jury_decision", reason=reason
        )
    appeal_jury_decided(claim=claim, approved=approve > reject, note=reason, now=now)
    return claim


def member_for_user(user) -> Member:
    try:
        return user.member
    except Member.DoesNotExist:
        raise ServiceError(
            "this login has no member profile", code=ErrorCode.NOT_A_MEMBER
        ) from None
