"""Claim workflows. Each runs in one transaction with the claim row locked (select_for_update);
the FSM transition inside writes its log row, ConcurrentTransitionMixin refuses a save whose
state changed underneath it, and the claimant's notice is written in the same transaction
(_move)."""

from __future__ import annotations

import datetime
import logging
from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django_fsm_log.models import StateLog

from claims.clock import clock_enter, clock_leave
from claims.cover import amount_within, claim_cover, claim_event_at
from claims.desk import claim_assign_new
from claims.errors import ErrorCode
from claims.fraud import claim_signals_compute
from claims.jury import jury_request
from claims.models import AppealStatus, Claim, ClaimState, IncidentKind, ReasonKind
from claims.notices import notify_claim_moved
from claims.reasons import reason_for
from claims.rules import claim_act_require, window_due_q
from claims.sampling import audit_hold_if_picked
from members.households import acts_for
from members.models import EndReason, Membership, MembershipStatus
from mutual.core.errors import ServiceError
from mutual.core.timezones import local_date
from mutual.core.transitions import run_transition

if TYPE_CHECKING:
    from django.contrib.auth.models import User

logger = logging.getLogger(__name__)


def claim_locked(claim_id: int) -> Claim:
    return (
        Claim.objects.select_for_update(of=("self",))
        .select_related("membership__member", "plan")
        .get(pk=claim_id)
    )


def claim_move(
    transition, *, by: User | None, now: datetime.datetime, system_allowed: bool = False, **kwargs
) -> Claim:
    """Run one of a locked claim's transitions (run_transition), save it, and tell the
    claimant, all in the caller's transaction. Every claim transition in this module goes
    through here, so none is left untold; a rejection's notice carries its `reason`."""
    claim = transition.__self__
    # The span of the state it leaves (rolled back with the rest if the transition is refused).
    clock_leave(claim, now=now)
    run_transition(transition, by=by, now=now, system_allowed=system_allowed, **kwargs)
    clock_enter(claim, now=now)
    claim.save()
    claim_signals_compute(claim=claim, now=now)
    notify_claim_moved(claim=claim, now=now, reason=kwargs.get("reason", ""))
    return claim


@transaction.atomic
def claim_submit(
    *,
    membership_id: int,
    by: User | None,
    now: datetime.datetime,
    incident_kind: str,
    incident_date: datetime.date,
    diagnosis_date: datetime.date,
    diagnosis: str,
    hospital: str,
    amount_requested_fen: int,
    incident_time: datetime.time | None = None,
    condition: str | None = None,
) -> Claim:
    """A member, or the account holder who covers them, claims on the patient's live
    membership (or one ended at the plan's maximum age, for an event before that birthday).
    Eligibility is checked now, with reasons: the condition on the plan's list in force on the
    day of the event, and the cover for the patient's age that day (claims/cover.py)."""
    membership = (
        Membership.objects.select_related("member__payer", "plan").filter(pk=membership_id).first()
    )
    # No one claims in a member's name but the member or their account holder. Someone
    # else's membership and no membership read the same, so that a refusal does not tell
    # whether the id exists.
    if membership is None or not acts_for(by, membership.member):
        raise ServiceError(
            "not one of your household's memberships",
            code=ErrorCode.NOT_YOUR_MEMBERSHIP,
            field="membership",
        )
    aged_out = membership.end_reason == EndReason.AGE_LIMIT
    if membership.status != MembershipStatus.ACTIVE and not aged_out:
        raise ServiceError(
            f"membership is {membership.status}, not active",
            code=ErrorCode.NOT_LIVE,
            field="membership",
        )
    event_at = claim_event_at(
        membership=membership,
        incident_kind=incident_kind,
        incident_date=incident_date,
        diagnosis_date=diagnosis_date,
        incident_time=incident_time,
        now=now,
    )
    cover = claim_cover(
        membership=membership,
        incident_kind=incident_kind,
        event_day=local_date(event_at),  # the accident's day, or the diagnosis day
        condition_code=condition,
    )
    amount_within(cover, amount_requested_fen)
    claim = Claim(
        membership=membership,
        plan=membership.plan,
        submitted_by=by,
        condition=cover.condition,
        incident_kind=incident_kind,
        incident_date=incident_date,
        diagnosis_date=diagnosis_date,
        diagnosis=diagnosis,
        hospital=hospital,
        cover_fen=cover.cover_fen,
        amount_requested_fen=amount_requested_fen,
        incident_time=incident_time if incident_kind == IncidentKind.ACCIDENT else None,
        submitted_at=now,
    )
    clock_enter(claim, now=now)
    claim.save()
    # The submission opens the claim's history: no transition made it, so the row is written
    # here, as django-fsm-log writes the others (issue 25: a new claim's history was empty).
    StateLog.objects.create(
        content_object=claim, timestamp=now, by=by, source_state=None,
        state=ClaimState.SUBMITTED, transition="submit", description="claim submitted",
    )  # fmt: skip
    claim_assign_new(claim=claim, now=now)
    claim_signals_compute(claim=claim, now=now)
    return claim


@transaction.atomic
def claim_withdraw(
    *, claim_id: int, by: User | None, now: datetime.datetime, code: str = "member_request"
) -> Claim:
    claim = claim_locked(claim_id)
    claim_act_require("withdraw", claim=claim, by=by, now=now)
    reason = reason_for(code, kind=ReasonKind.WITHDRAWAL)
    claim_move(claim.withdraw, by=by, now=now, code=reason, description="withdrawn by the member")
    return claim


@transaction.atomic
def claim_start_investigation(
    *, claim_id: int, investigator_id: int, by: User | None, now: datetime.datetime
) -> Claim:
    """Assign a third-party investigator (an investigator may take a claim themselves)."""
    claim = claim_locked(claim_id)
    claim_act_require("start_investigation", claim=claim, by=by, now=now)
    investigator = get_user_model().objects.filter(pk=investigator_id).first()
    if investigator is None:
        raise ServiceError(
            f"investigator #{investigator_id} does not exist",
            code=ErrorCode.UNKNOWN,
            field="investigator",
        )
    if not investigator.has_perm("claims.investigate_claim"):
        raise ServiceError(
            f"{investigator} is not an investigator",
            code=ErrorCode.NOT_INVESTIGATOR,
            field="investigator",
        )
    claim_move(
        claim.start_investigation,
        by=by,
        now=now,
        investigator=investigator,
        # Members read this line in their claim's history: a role, never a staff member's
        # name (the admin shows who on the claim and in the log's `by`).
        description="assigned to an investigator",
    )
    return claim


@transaction.atomic
def claim_record_investigation(
    *, claim_id: int, summary: str, by: User | None, now: datetime.datetime
) -> Claim:
    """The investigator records findings (the report file goes in as evidence).
    Not a state change: the claim stays `investigating` until it is publicized or rejected."""
    claim = claim_locked(claim_id)
    claim_act_require("record_investigation", claim=claim, by=by, now=now)
    if not summary.strip():
        raise ServiceError("the findings cannot be empty", code=ErrorCode.EMPTY, field="summary")
    claim.investigation_summary = summary.strip()
    claim.investigation_recorded_by = by
    claim.investigation_recorded_at = now
    claim.save(
        update_fields=[
            "investigation_summary",
            "investigation_recorded_by",
            "investigation_recorded_at",
        ]
    )
    return claim


@transaction.atomic
def claim_publicize(
    *, claim_id: int, by: User | None, now: datetime.datetime, amount_fen: int | None = None
) -> Claim:
    """Open the public window (the plan's publicity_days) with the amount to be paid."""
    claim = claim_locked(claim_id)
    claim_act_require("publicize", claim=claim, by=by, now=now)
    amount = claim.amount_requested_fen if amount_fen is None else amount_fen
    if not 0 < amount <= claim.cover_fen:
        raise ServiceError(
            "the amount must be positive and within the cover",
            code=ErrorCode.AMOUNT,
            field="amount_fen",
        )
    ends_at = now + datetime.timedelta(days=claim.plan.publicity_days)
    claim_move(
        claim.publicize,
        by=by,
        now=now,
        starts_at=now,
        ends_at=ends_at,
        amount_fen=amount,
        description=f"publicity until {timezone.localtime(ends_at):%Y-%m-%d %H:%M} (Shanghai)",
    )
    return claim


@transaction.atomic
def claim_approve(
    *, claim_id: int, by: User | None, now: datetime.datetime, reason: str = ""
) -> Claim:
    """Approve an undisputed claim whose window closed, or a disputed one after review."""
    claim = claim_locked(claim_id)
    claim_act_require("approve", claim=claim, by=by, now=now)
    if claim.state == ClaimState.DISPUTED and by is not None and not reason.strip():
        raise ServiceError(
            "a dispute decision needs a written reason",
            code=ErrorCode.REASON_REQUIRED,
            field="reason",
        )
    claim_move(
        claim.approve,
        by=by,
        system_allowed=True,
        now=now,
        reason=reason,
        description=reason or "publicity closed without dispute",
    )
    return claim


@transaction.atomic
def claim_reject(
    *, claim_id: int, by: User | None, now: datetime.datetime, code: str, reason: str = ""
) -> Claim:
    """Refuse a claim with a code from the reasons catalogue (its text is what the member
    reads) and, from a person, a written note for the file."""
    claim = claim_locked(claim_id)
    claim_act_require("reject", claim=claim, by=by, now=now)
    refusal = reason_for(code, kind=ReasonKind.REFUSAL)
    if by is not None and not reason.strip():
        raise ServiceError(
            "a rejection needs a written reason", code=ErrorCode.REASON_REQUIRED, field="reason"
        )
    claim_move(
        claim.reject,
        by=by,
        system_allowed=True,
        now=now,
        reason=reason.strip(),
        code=refusal,
        description=f"{refusal.code}: {reason.strip() or refusal.text_en}",
    )
    return claim


@transaction.atomic
def claim_reopen(
    *, claim_id: int, by: User | None, now: datetime.datetime, code: str, note: str = ""
) -> Claim:
    """Reopen a refused or withdrawn claim for investigation, with a reopening reason from the
    catalogue. The claim keeps its evidence and findings; each state it reaches again is told
    to the claimant again (the notice's event carries the round)."""
    claim = claim_locked(claim_id)
    claim_act_require("reopen", claim=claim, by=by, now=now)
    reopening = reason_for(code, kind=ReasonKind.REOPEN)
    claim_move(
        claim.reopen,
        by=by,
        now=now,
        reason=reopening,
        description=" ".join(filter(None, [f"reopened: {reopening.text_en}", note.strip()])),
    )
    # An appeal still pending got what it asked for: it is closed as upheld, not left waiting.
    claim.appeals.filter(status=AppealStatus.PENDING).update(
        status=AppealStatus.UPHELD, decided_by=by, decided_at=now, note="reopened by staff"
    )
    return claim


@transaction.atomic
def claim_open_dispute_review(*, claim_id: int, by: User | None, now: datetime.datetime) -> Claim:
    """Send a disputed claim to review. On a jury plan the draw is its own task, sent once
    this commits: the claim's lock is held for the transition only, not for the draw."""
    claim = claim_locked(claim_id)
    claim_act_require("open_dispute_review", claim=claim, by=by, now=now)
    count = claim.round_disputes().count()
    claim_move(
        claim.open_dispute_review,
        by=by,
        now=now,
        system_allowed=True,
        description=f"{count} dispute(s) raised during publicity",
    )
    jury_request(claim=claim, now=now)
    return claim


@transaction.atomic
def claim_mark_paid(*, claim_id: int, by: User | None, now: datetime.datetime) -> Claim:
    """Billing calls this inside the transaction that posts the payout."""
    claim = claim_locked(claim_id)
    claim_act_require("mark_paid", claim=claim, by=by, now=now)
    claim_move(claim.mark_paid, by=by, system_allowed=True, now=now, description="payout posted")
    return claim


def _close_window(claim_id: int, *, now: datetime.datetime) -> str | None:
    """Close one claim's window in its own transaction. Returns "approved", "disputed" or "held", or
    None when the claim is no longer due (closed meanwhile) or another closer holds it."""
    with transaction.atomic():
        claim = (
            Claim.objects.select_for_update(skip_locked=True)
            .filter(window_due_q(now), pk=claim_id)
            .first()
        )
        if claim is None:
            return None
        if claim.round_disputes().exists():
            claim_open_dispute_review(claim_id=claim_id, by=None, now=now)
            return "disputed"
        if audit_hold_if_picked(claim=claim, now=now):
            return "held"  # for the audit sample's second review (claims/review.py)
        claim_approve(claim_id=claim_id, by=None, now=now)
        return "approved"


def claims_close_due_windows(*, now: datetime.datetime, batch_size: int = 500) -> dict[str, int]:
    """Close every publicity window that ended by `now`: undisputed claims are approved,
    disputed ones go to review. One transaction per claim: a claim that fails is logged,
    counted under "failed" and left for the next run, and the others still close. Safe to run
    twice at once: each claim is locked with SKIP LOCKED, and a claim already closed no longer
    matches."""
    closed = {"approved": 0, "disputed": 0, "held": 0, "failed": 0}
    due = Claim.objects.filter(window_due_q(now))
    after = None  # (publicity_ends_at, pk) of the last claim tried: each is tried once a run
    while True:
        page = due
        if after is not None:
            page = page.filter(
                Q(publicity_ends_at__gt=after[0]) | Q(publicity_ends_at=after[0], pk__gt=after[1])
            )
        batch = list(
            page.order_by("publicity_ends_at", "pk").values_list("publicity_ends_at", "pk")[
                :batch_size
            ]
        )
        if not batch:
            return closed
        after = batch[-1]
        for _, claim_id in batch:
            try:
                outcome = _close_window(claim_id, now=now)
            except Exception:
                logger.exception("could not close the publicity window of claim %s", claim_id)
                closed["failed"] += 1
            else:
                if outcome is not None:
                    closed[outcome] += 1
        logger.info(
            "closed %d publicity windows so far, %d failed",
            closed["approved"] + closed["disputed"],
            closed["failed"],
        )
