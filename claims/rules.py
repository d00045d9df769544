"""When each act on a claim is allowed, stated once.

The services require these rules before they act; the screens ask them (claims.selectors.
claim_actions_for) to offer only what the services will accept. Each rule raises what the
service raises: ServiceError (a request the claim's situation refuses, with its code),
PermissionDenied (not this person), TransitionNotAllowed (not from this state)."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.utils import timezone
from django_fsm import ConcurrentTransition, TransitionNotAllowed

from claims.errors import ErrorCode
from claims.models import Claim, ClaimState
from members.consent_records import consent_withdrawn
from members.models import ConsentPurpose
from mutual.core.errors import ServiceError
from mutual.core.transitions import transition_check

if TYPE_CHECKING:
    from django.contrib.auth.models import User

# States whose chain still takes documents: evidence is gathered before publicity.
EVIDENCE_STATES = frozenset({ClaimState.SUBMITTED, ClaimState.INVESTIGATING})


# --- the publicity window ---------------------------------------------------------------------
def window_is_open(claim: Claim, now: datetime.datetime) -> bool:
    """Publicized and not yet over: members may dispute, nobody may decide."""
    return claim.state == ClaimState.PUBLICIZED and now < claim.publicity_ends_at


def window_open_q(now: datetime.datetime) -> Q:
    """window_is_open, as a filter."""
    return Q(state=ClaimState.PUBLICIZED, publicity_ends_at__gt=now)


def window_due_q(now: datetime.datetime) -> Q:
    """Publicized and over, not yet closed: the window closer's (and a reviewer's) work. A
    claim held for the audit sample waits for its second review instead."""
    return Q(state=ClaimState.PUBLICIZED, publicity_ends_at__lte=now, audit_held=False)


def require_window_closed(claim: Claim, *, by: User | None, now: datetime.datetime) -> None:
    if window_is_open(claim, now):
        ends_at = timezone.localtime(claim.publicity_ends_at)
        raise ServiceError(
            f"the publicity window is open until {ends_at:%Y-%m-%d %H:%M} (Shanghai time)",
            code=ErrorCode.WINDOW_OPEN,
        )


def require_window_open(claim: Claim, *, by: User | None, now: datetime.datetime) -> None:
    if not window_is_open(claim, now):
        raise ServiceError(
            "disputes are accepted only while the publicity window is open",
            code=ErrorCode.WINDOW_CLOSED,
        )


# --- investigation and evidence -----------------------------------------------------------------
def require_under_investigation(claim: Claim, *, by: User | None, now: datetime.datetime) -> None:
    if claim.state != ClaimState.INVESTIGATING:
        raise ServiceError(
            "only a claim under investigation takes findings", code=ErrorCode.BAD_STATE
        )


def require_assigned_investigator(claim: Claim, *, by: User | None, now: datetime.datetime) -> None:
    """The investigator is me: only the one assigned records the findings."""
    if by is None or claim.investigator_id != by.pk or not by.has_perm("claims.investigate_claim"):
        raise PermissionDenied("only the assigned investigator records the findings")


def require_no_open_request(claim: Claim, *, by: User | None, now: datetime.datetime) -> None:
    if claim.info_requests.filter(status="open").exists():
        raise ServiceError(
            "this claim already waits on a request: wait for its answer or its deadline",
            code=ErrorCode.REQUEST_OPEN,
        )


def require_may_add_evidence(claim: Claim, *, by: User | None, now: datetime.datetime) -> None:
    """Staff need `claims.add_evidencedocument`; a member adds evidence to their own claim.
    The chain is append-only: a document stored by mistake can never be removed."""
    if by is None:
        raise PermissionDenied("evidence is added by a person, not the system")
    if by.has_perm("claims.add_evidencedocument"):
        return
    if claim.membership.member.user_id == by.pk:
        return
    raise PermissionDenied(f"{by} may not add evidence to claim {claim.pk}")


def require_accepts_evidence(claim: Claim, *, by: User | None, now: datetime.datetime) -> None:
    if claim.state not in EVIDENCE_STATES:
        raise ServiceError(
            f"evidence can no longer be added to a {claim.state} claim", code=ErrorCode.CLAIM_CLOSED
        )


# --- second looks ----------------------------------------------------------------------------
def _not_the_first_look(claim: Claim, by: User | None, refused_by_id: int | None = None) -> None:
    """A second look is a reviewer's who neither recorded the findings nor refused the claim."""
    if by is None or not by.has_perm("claims.decide_claim"):
        raise PermissionDenied("a second look is a reviewer's")
    if by.pk in (claim.investigation_recorded_by_id, refused_by_id):
        raise PermissionDenied("a second look is someone else's than the first")


def require_pending_appeal(claim: Claim, *, by: User | None, now: datetime.datetime) -> None:
    appeal = claim.appeals.filter(status="pending").only("refused_by_id").first()
    if appeal is None or claim.state != ClaimState.REJECTED:
        raise ServiceError("this claim has no pending appeal", code=ErrorCode.BAD_STATE)
    _not_the_first_look(claim, by, appeal.refused_by_id)
    if not by.has_perm("claims.reopen_claim"):
        raise PermissionDenied("deciding an appeal may reopen the claim")


def require_audit_pending(claim: Claim, *, by: User | None, now: datetime.datetime) -> None:
    if not claim.audit_held or claim.state != ClaimState.PUBLICIZED:
        raise ServiceError("this claim waits for no audit", code=ErrorCode.BAD_STATE)
    _not_the_first_look(claim, by)


# --- every act --------------------------------------------------------------------------------
Rule = Callable[..., None]


def _transition(name: str, *, system_allowed: bool = False) -> Rule:
    def rule(claim: Claim, *, by: User | None, now: datetime.datetime) -> None:
        transition_check(getattr(claim, name), by=by, system_allowed=system_allowed)

    rule.__name__ = f"transition_{name}"
    return rule


def _consented(purpose: str) -> Rule:
    """The patient has not withdrawn their consent to this use of their data."""

    def rule(claim: Claim, *, by: User | None, now: datetime.datetime) -> None:
        if consent_withdrawn(member_id=claim.membership.member_id, purpose=purpose):
            raise ServiceError(
                f"the patient has withdrawn their consent ({purpose}): ask them to give it again",
                code=ErrorCode.CONSENT_WITHDRAWN,
            )

    rule.__name__ = f"consented_{purpose}"
    return rule


# Each act's rules, checked in this order; a service may check its inputs after them.
ACT_RULES: dict[str, tuple[Rule, ...]] = {
    "start_investigation": (
        _transition("start_investigation"),
        _consented(ConsentPurpose.INVESTIGATION),
    ),
    "record_investigation": (
        require_under_investigation,
        require_assigned_investigator,
        _consented(ConsentPurpose.INVESTIGATION),
    ),
    "add_evidence": (require_may_add_evidence, require_accepts_evidence),
    "publicize": (_transition("publicize"), _consented(ConsentPurpose.PUBLIC_NOTICE)),
    "open_dispute_review": (
        require_window_closed,
        _transition("open_dispute_review", system_allowed=True),
    ),
    "approve": (require_window_closed, _transition("approve", system_allowed=True)),
    "reject": (_transition("reject", system_allowed=True),),
    "withdraw": (_transition("withdraw"),),
    "mark_paid": (_transition("mark_paid", system_allowed=True),),
    "reopen": (_transition("reopen"), _consented(ConsentPurpose.INVESTIGATION)),
    "uphold_appeal": (require_pending_appeal, _consented(ConsentPurpose.INVESTIGATION)),
    "dismiss_appeal": (require_pending_appeal,),
    "confirm_audit": (require_audit_pending,),
    "miss_audit": (require_audit_pending,),
    "request_info": (
        require_under_investigation,
        require_assigned_investigator,
        require_no_open_request,
        _consented(ConsentPurpose.INVESTIGATION),
    ),
}

REFUSALS = (ServiceError, PermissionDenied, TransitionNotAllowed, ConcurrentTransition)


def claim_act_require(act: str, *, claim: Claim, by: User | None, now: datetime.datetime) -> None:
    """Raise the first refusal among `act`'s rules (ServiceError, PermissionDenied,
    TransitionNotAllowed); return if `by` (None: the system) may do it to `claim` now."""
    for rule in ACT_RULES[act]:
        rule(claim, by=by, now=now)


def claim_act_allowed(act: str, *, claim: Claim, by: User | None, now: datetime.datetime) -> bool:
    try:
        claim_act_require(act, claim=claim, by=by, now=now)
    except REFUSALS:
        return False
    return True
