"""Second looks, decided by people: a refused claimant's appeal (within 30 days, to a reviewer
who did not refuse the claim, or on a jury plan to a jury of members drawn afresh) and the
random audit's second review (confirmed: approved; missed: sent to review as if disputed)."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django_fsm_log.models import StateLog

from claims.errors import ErrorCode
from claims.jury import jury_request
from claims.models import Appeal, AppealStatus, AuditOutcome, Claim, ClaimAudit, ClaimState
from claims.notices import notify_appeal_decided
from claims.rules import claim_act_require
from claims.services import claim_approve, claim_locked, claim_move, claim_reopen
from members.households import acts_for
from members.models import DisputeReview
from mutual.core.errors import ServiceError

if TYPE_CHECKING:
    from django.contrib.auth.models import User

APPEAL_DAYS = 30


def _refused_by(claim: Claim) -> int | None:
    row = (
        StateLog.objects.for_(claim)
        .filter(transition="reject")
        .order_by("-timestamp", "-pk")
        .first()
    )
    return None if row is None else row.by_id


@transaction.atomic
def appeal_file(*, claim_id: int, reason: str, by: User | None, now: datetime.datetime) -> Appeal:
    """The claimant (or the account holder who covers them) appeals a refusal, once, within
    30 days of it."""
    claim = claim_locked(claim_id)
    if by is None or not acts_for(by, claim.membership.member):
        raise PermissionDenied("only the claimant appeals")
    if claim.state != ClaimState.REJECTED:
        raise ServiceError("only a refused claim can be appealed", code=ErrorCode.BAD_STATE)
    if now > claim.decided_at + datetime.timedelta(days=APPEAL_DAYS):
        raise ServiceError(
            f"an appeal is accepted within {APPEAL_DAYS} days of the refusal",
            code=ErrorCode.APPEAL_LATE,
        )
    if claim.appeals.filter(status=AppealStatus.DISMISSED, decided_by__isnull=True).exists():
        raise ServiceError(
            "a jury of members has decided this claim's appeal: its decision is final",
            code=ErrorCode.ALREADY_APPEALED,
        )
    if claim.appeals.filter(filed_at__gte=claim.decided_at).exists():
        raise ServiceError(
            "this refusal has already been appealed", code=ErrorCode.ALREADY_APPEALED
        )
    text = reason.strip()
    if not text:
        raise ServiceError("say why the refusal is wrong", code=ErrorCode.EMPTY, field="reason")
    appeal = Appeal.objects.create(
        claim=claim, filed_by=by, reason=text[:2000], filed_at=now, refused_by_id=_refused_by(claim)
    )
    if claim.plan.dispute_review == DisputeReview.JURY:
        # A new round of the claim, judged by a jury that excludes the claimant and every
        # earlier juror; its vote decides the appeal (`appeal_jury_decided`).
        claim_move(
            claim.appeal_to_jury, by=None, now=now, system_allowed=True,
            description=f"appeal {appeal.pk} sent to a jury of members",
        )  # fmt: skip
        jury_request(claim=claim, now=now)
    else:
        claim.appeal_pending = True
        claim.save(update_fields=["appeal_pending"])
    return appeal


def appeal_jury_decided(*, claim: Claim, approved: bool, note: str, now: datetime.datetime):
    """The jury of an appeal has voted (claims.disputes.jury_vote, which decided the claim):
    the appeal is upheld or dismissed by it, and the claimant told. None: no appeal waited."""
    appeal = claim.appeals.select_for_update().filter(status=AppealStatus.PENDING).first()
    if appeal is None:
        return None
    appeal.status = AppealStatus.UPHELD if approved else AppealStatus.DISMISSED
    appeal.decided_at, appeal.note = now, note[:500]  # decided_by None: the jury
    appeal.save(update_fields=["status", "decided_at", "note"])
    notify_appeal_decided(appeal=appeal, now=now)
    return appeal


@transaction.atomic
def appeal_decide(
    *, claim_id: int, uphold: bool, note: str = "", by: User | None, now: datetime.datetime
) -> Appeal:
    """Uphold (the claim is reopened, "appeal upheld") or dismiss (the refusal stands, with a
    note the claimant reads) the claim's pending appeal."""
    claim = claim_locked(claim_id)
    claim_act_require("uphold_appeal" if uphold else "dismiss_appeal", claim=claim, by=by, now=now)
    appeal = claim.appeals.select_for_update().get(status=AppealStatus.PENDING)
    if not uphold and not note.strip():
        raise ServiceError(
            "a dismissal needs a note for the claimant", code=ErrorCode.REASON_REQUIRED,
            field="note",
        )  # fmt: skip
    appeal.status = AppealStatus.UPHELD if uphold else AppealStatus.DISMISSED
    appeal.decided_by, appeal.decided_at, appeal.note = by, now, note.strip()[:500]
    appeal.save(update_fields=["status", "decided_by", "decided_at", "note"])
    claim.appeal_pending = False
    claim.save(update_fields=["appeal_pending"])
    if uphold:
        claim_reopen(claim_id=claim.pk, by=by, now=now, code="appeal_upheld", note=note)
    notify_appeal_decided(appeal=appeal, now=now)
    return appeal


@transaction.atomic
def audit_decide(
    *, claim_id: int, confirmed: bool, note: str = "", by: User | None, now: datetime.datetime
) -> ClaimAudit:
    """The second review of a claim held by the audit sample: confirmed, it is approved (and
    billed in the period holding now); missed, it goes to review as a disputed claim would."""
    claim = claim_locked(claim_id)
    claim_act_require("confirm_audit" if confirmed else "miss_audit", claim=claim, by=by, now=now)
    audit = ClaimAudit.objects.select_for_update().get(claim=claim)
    if not confirmed and not note.strip():
        raise ServiceError(
            "say what the first look missed", code=ErrorCode.REASON_REQUIRED, field="note"
        )
    audit.outcome = AuditOutcome.CONFIRMED if confirmed else AuditOutcome.MISSED
    audit.decided_by, audit.decided_at, audit.note = by, now, note.strip()[:500]
    audit.save(update_fields=["outcome", "decided_by", "decided_at", "note"])
    claim.audit_held = False
    claim.save(update_fields=["audit_held"])
    if confirmed:
        claim_approve(claim_id=claim.pk, by=by, now=now, reason="confirmed by the audit sample")
    else:
        claim_move(claim.audit_review, by=by, now=now, description="held for review by the audit")
    return audit
