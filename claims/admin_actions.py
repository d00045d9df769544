"""The buttons on a claim's change page: which ones a user may press now, and what each calls.

Every button is one service call; this module only translates form fields to arguments."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from claims import evidence, requests, review, services
from claims.errors import ErrorCode
from claims.models import Claim
from claims.selectors import claim_actions_for
from mutual.core.errors import ServiceError
from mutual.core.money import parse_yuan
from mutual.core.timezones import local_midnight


@dataclass(frozen=True)
class ClaimAction:
    name: str
    label: str
    permission: str  # checked before the service runs (which checks it again, with the state)
    fields: tuple[str, ...] = ()  # form inputs: reason, summary, amount_yuan, kind, file...
    style: str = "default"
    extra: dict = field(default_factory=dict)


ACTIONS = {
    action.name: action
    for action in [
        ClaimAction(
            "start_investigation",
            _("Start investigation"),
            "claims.investigate_claim",
            ("investigator",),
        ),
        ClaimAction(
            "record_investigation", _("Record findings"), "claims.investigate_claim", ("summary",)
        ),
        ClaimAction(
            "add_evidence", _("Upload evidence"), "claims.add_evidencedocument", ("kind", "file")
        ),
        ClaimAction(
            "publicize", _("Send to publicity"), "claims.publicize_claim", ("amount_yuan",)
        ),
        ClaimAction("open_dispute_review", _("Open dispute review"), "claims.decide_claim"),
        ClaimAction("approve", _("Approve"), "claims.decide_claim", ("reason",)),
        ClaimAction(
            "request_info",
            _("Ask the claimant for documents"),
            "claims.investigate_claim",
            ("documents", "deadline", "note"),
        ),
        ClaimAction(
            "reject",
            _("Reject"),
            "claims.decide_claim",
            ("refusal_code", "reason"),
            style="danger",
        ),
        ClaimAction("reopen", _("Reopen"), "claims.reopen_claim", ("reopen_code", "note")),
        ClaimAction(
            "uphold_appeal", _("Uphold the appeal (reopen)"), "claims.decide_claim", ("note",)
        ),
        ClaimAction(
            "dismiss_appeal",
            _("Dismiss the appeal"),
            "claims.decide_claim",
            ("note",),
            style="danger",
        ),
        ClaimAction("confirm_audit", _("Audit: confirm (approve)"), "claims.decide_claim"),
        ClaimAction(
            "miss_audit",
            _("Audit: missed (send to review)"),
            "claims.decide_claim",
            ("note",),
            style="danger",
        ),
    ]
}


def available_actions(claim: Claim, user, now) -> list[ClaimAction]:
    """The buttons `user` may press on `claim` now: the acts its services would accept
    (claims.selectors.claim_actions_for) whose button permission the user has (a claimant adds
    evidence through the API, not here)."""
    return [
        ACTIONS[name]
        for name in claim_actions_for(claim=claim, user=user, now=now)
        if user.has_perm(ACTIONS[name].permission)
    ]


def _investigator_id(raw: str, default: int) -> int:
    """The chosen investigator's user id (the service checks that the user exists and may
    investigate)."""
    text = raw.strip()
    if not text:
        return default
    # Bounded digits: a longer number is no user id, and int() of it is wasted work.
    if not (text.isascii() and text.isdigit() and len(text) <= 18):
        raise ServiceError("choose an investigator from the list", field="investigator")
    return int(text)


def _deadline(raw: str) -> datetime.datetime:
    """A deadline typed as a day (YYYY-MM-DD): the end of that day, Shanghai."""
    try:
        day = datetime.date.fromisoformat(raw.strip())
    except ValueError:
        raise ServiceError(
            "give the deadline as a day, YYYY-MM-DD", code=ErrorCode.BAD_DEADLINE, field="deadline"
        ) from None
    return local_midnight(day + datetime.timedelta(days=1))


def _text(data, name: str) -> str:
    """A free-text field as typed; NUL is refused here (PostgreSQL cannot store it), as the
    API's serializers refuse it, rather than failing in the database."""
    value = data.get(name, "")
    if "\x00" in value:
        raise ServiceError("null characters are not allowed", field=name)
    return value


def check_permission(action: str, user) -> ClaimAction:
    """The button's own permission, whatever the user may view. Raises PermissionDenied."""
    if action not in ACTIONS:
        raise ServiceError(f"unknown action {action!r}")
    if not user.has_perm(ACTIONS[action].permission):
        raise PermissionDenied(f"{user} may not {action.replace('_', ' ')}")
    return ACTIONS[action]


def perform(action: str, *, claim_id: int, user, now, data, files) -> str:
    """Run one button's service; returns the success message. Raises the service's errors."""
    check_permission(action, user)
    if action == "start_investigation":
        investigator_id = _investigator_id(data.get("investigator", ""), default=user.pk)
        services.claim_start_investigation(
            claim_id=claim_id, investigator_id=investigator_id, by=user, now=now
        )
        return str(_("Investigation started."))
    if action == "record_investigation":
        services.claim_record_investigation(
            claim_id=claim_id, summary=_text(data, "summary"), by=user, now=now
        )
        return str(_("Findings recorded."))
    if action == "add_evidence":
        upload = files.get("file")
        if upload is None:
            raise ServiceError("choose a file to upload", field="file")
        document = evidence.evidence_append(
            claim_id=claim_id, kind=_text(data, "kind"), upload=upload, by=user, now=now
        )
        return str(_("Evidence #%(position)s stored, SHA-256 %(sha256)s.")) % {
            "position": document.position, "sha256": document.sha256,
        }  # fmt: skip
    if action == "publicize":
        # The amount to pay is typed (prefilled with the amount asked): never a silent default.
        amount_fen = parse_yuan(data.get("amount_yuan", ""), field="amount_yuan")
        if amount_fen is None:
            raise ServiceError("enter the amount to approve, in yuan", field="amount_yuan")
        claim = services.claim_publicize(claim_id=claim_id, by=user, now=now, amount_fen=amount_fen)
        ends_at = timezone.localtime(claim.publicity_ends_at)
        return str(_("Publicized until %(ends)s (Shanghai time).")) % {
            "ends": f"{ends_at:%Y-%m-%d %H:%M}"
        }
    if action == "open_dispute_review":
        services.claim_open_dispute_review(claim_id=claim_id, by=user, now=now)
        return str(_("Dispute review opened."))
    if action == "approve":
        services.claim_approve(claim_id=claim_id, by=user, now=now, reason=_text(data, "reason"))
        return str(_("Claim approved."))
    if action == "reject":
        services.claim_reject(
            claim_id=claim_id,
            by=user,
            now=now,
            code=_text(data, "refusal_code"),
            reason=_text(data, "reason"),
        )
        return str(_("Claim rejected."))
    if action == "reopen":
        services.claim_reopen(
            claim_id=claim_id,
            by=user,
            now=now,
            code=_text(data, "reopen_code"),
            note=_text(data, "note"),
        )
        return str(_("Claim reopened for investigation."))
    if action in ("uphold_appeal", "dismiss_appeal"):
        review.appeal_decide(
            claim_id=claim_id, uphold=action == "uphold_appeal", note=_text(data, "note"),
            by=user, now=now,
        )  # fmt: skip
        return str(_("Appeal decided."))
    if action in ("confirm_audit", "miss_audit"):
        review.audit_decide(
            claim_id=claim_id, confirmed=action == "confirm_audit", note=_text(data, "note"),
            by=user, now=now,
        )  # fmt: skip
        return str(_("Audit recorded."))
    if action == "request_info":
        request = requests.claim_request_info(
            claim_id=claim_id,
            documents=data.getlist("documents"),
            deadline=_deadline(_text(data, "deadline")),
            note=_text(data, "note"),
            by=user,
            now=now,
        )
        deadline = timezone.localtime(request.deadline)
        return str(_("Documents requested by %(deadline)s (Shanghai time).")) % {
            "deadline": f"{deadline:%Y-%m-%d %H:%M}"
        }
    raise ServiceError(f"unknown action {action!r}")
