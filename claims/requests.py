"""Requests for information: the investigator asks the claimant for named documents by a
deadline; the claim's clock pauses until the claimant answers, and a request left unanswered
past its deadline closes the claim ("documents not supplied"), which staff may reopen."""

from __future__ import annotations

import datetime
import logging
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied
from django.db import transaction

from claims.clock import CLOCK_FIELDS, clock_pause, clock_resume
from claims.errors import ErrorCode
from claims.models import Claim, ClaimState, EvidenceKind, InfoRequest, RequestStatus
from claims.notices import notify_info_request
from claims.rules import claim_act_require
from claims.services import claim_locked, claim_reject
from members.households import acts_for
from mutual.core.errors import ServiceError

if TYPE_CHECKING:
    from django.contrib.auth.models import User

logger = logging.getLogger(__name__)

# What a claimant can be asked for (the investigator's own report is not theirs to give).
REQUESTABLE = tuple(k for k in EvidenceKind.values if k != EvidenceKind.INVESTIGATION_REPORT)
MIN_NOTICE = datetime.timedelta(days=1)
MAX_NOTICE = datetime.timedelta(days=60)
REMIND_BEFORE = datetime.timedelta(days=2)


@transaction.atomic
def claim_request_info(
    *,
    claim_id: int,
    documents: list[str],
    deadline: datetime.datetime,
    note: str = "",
    by: User | None,
    now: datetime.datetime,
) -> InfoRequest:
    """Ask the claimant for `documents` by `deadline` (1 to 60 days from now). One request is
    open at a time; the claim's clock pauses until it is answered."""
    claim = claim_locked(claim_id)
    claim_act_require("request_info", claim=claim, by=by, now=now)
    wanted = sorted(set(documents))
    unknown = [d for d in wanted if d not in REQUESTABLE]
    if not wanted or unknown:
        raise ServiceError(
            "choose the documents from the list"
            + (f" ({', '.join(map(repr, unknown))} is not one)" if unknown else ""),
            code=ErrorCode.BAD_DOCUMENTS,
            field="documents",
        )
    if not now + MIN_NOTICE <= deadline <= now + MAX_NOTICE:
        raise ServiceError(
            "the deadline must be between 1 and 60 days from now",
            code=ErrorCode.BAD_DEADLINE,
            field="deadline",
        )
    request = InfoRequest.objects.create(
        claim=claim, documents=wanted, deadline=deadline, note=note.strip()[:500], made_by=by,
        made_at=now,
    )  # fmt: skip
    clock_pause(claim, now=now)
    claim.save(update_fields=CLOCK_FIELDS)
    notify_info_request(request=request, event="made", now=now)
    return request


def _open_request(claim: Claim, request_id: int, *, now: datetime.datetime) -> InfoRequest:
    request = claim.info_requests.filter(pk=request_id).first()
    if request is None:
        raise ServiceError(
            "no such request on this claim", code=ErrorCode.NOT_REQUESTED, field="request"
        )
    if request.status != RequestStatus.OPEN or request.deadline <= now:
        raise ServiceError("this request is closed", code=ErrorCode.REQUEST_CLOSED, field="request")
    return request


def request_check_upload(
    *, claim: Claim, request_id: int, kind: str, now: datetime.datetime
) -> InfoRequest:
    """Before a document is appended against a request (the claim's row is locked): the
    request is open and asked for this kind."""
    request = _open_request(claim, request_id, now=now)
    if kind not in request.documents:
        raise ServiceError(
            f"this request does not ask for a {kind.replace('_', ' ')}",
            code=ErrorCode.BAD_DOCUMENTS,
            field="kind",
        )
    return request


def request_after_upload(*, claim: Claim, request: InfoRequest, now: datetime.datetime) -> None:
    """After a document is appended against it: once every document asked for has arrived,
    the request is answered and the clock resumes."""
    received = set(request.documents_received.values_list("kind", flat=True))
    if set(request.documents) <= received:
        _answer(claim, request, now=now)


def _answer(claim: Claim, request: InfoRequest, *, now: datetime.datetime) -> None:
    request.status, request.closed_at = RequestStatus.ANSWERED, now
    request.save(update_fields=["status", "closed_at"])
    clock_resume(claim, now=now)
    claim.save(update_fields=CLOCK_FIELDS)


@transaction.atomic
def request_answer(
    *, claim_id: int, request_id: int, by: User | None, now: datetime.datetime
) -> InfoRequest:
    """The claimant says they have sent what they can (at least one document against the
    request): the request is answered and the clock resumes."""
    claim = claim_locked(claim_id)
    if by is None or not acts_for(by, claim.membership.member):
        raise PermissionDenied("only the claimant answers a request")
    request = _open_request(claim, request_id, now=now)
    if not request.documents_received.exists():
        raise ServiceError(
            "upload at least one of the documents asked for first",
            code=ErrorCode.NO_ANSWER,
            field="request",
        )
    _answer(claim, request, now=now)
    return request


def requests_remind(*, now: datetime.datetime) -> int:
    """Beat: tell each claimant once, two days before the deadline, of a request still open.
    The conditional UPDATE takes each request once, whatever the number of workers."""
    due = InfoRequest.objects.filter(
        status=RequestStatus.OPEN, reminded_at__isnull=True, deadline__lte=now + REMIND_BEFORE,
        deadline__gt=now,
    )  # fmt: skip
    told = 0
    for request_id in due.values_list("pk", flat=True)[:1000]:
        with transaction.atomic():
            taken = InfoRequest.objects.filter(
                pk=request_id, status=RequestStatus.OPEN, reminded_at__isnull=True
            ).update(reminded_at=now)
            if taken:
                request = InfoRequest.objects.select_related("claim__membership").get(pk=request_id)
                notify_info_request(request=request, event="reminder", now=now)
                told += 1
    return told


def requests_expire(*, now: datetime.datetime) -> dict[str, int]:
    """Beat: close each claim whose request went unanswered past its deadline, as refused
    with "documents not supplied" (reopened by staff if the documents come later). One
    transaction per claim: a failure is logged and retried on the next round."""
    done = {"closed": 0, "failed": 0}
    expired = InfoRequest.objects.filter(status=RequestStatus.OPEN, deadline__lte=now)
    for request_id, claim_id in expired.values_list("pk", "claim_id")[:1000]:
        try:
            with transaction.atomic():
                claim = claim_locked(claim_id)
                request = InfoRequest.objects.select_for_update().get(pk=request_id)
                if request.status != RequestStatus.OPEN:
                    continue  # answered or expired meanwhile by another round
                request.status, request.closed_at = RequestStatus.EXPIRED, now
                request.save(update_fields=["status", "closed_at"])
                clock_resume(claim, now=now)
                claim.save(update_fields=CLOCK_FIELDS)
                if claim.state != ClaimState.INVESTIGATING:
                    continue  # decided meanwhile: nothing left to close
                claim_reject(claim_id=claim.pk, by=None, now=now, code="documents_not_supplied")
        except Exception:
            logger.exception("could not close claim %s after request %s", claim_id, request_id)
            done["failed"] += 1
        else:
            done["closed"] += 1
    return done
