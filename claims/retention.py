"""Retention and erasure (issue 22, 5; PIPL Art. 47), run daily by beat and by
`manage.py erase_due` (with `--dry-run`, what would go):

- evidence: MUTUAL_RETAIN_EVIDENCE_DAYS after a claim closed (paid, refused or withdrawn), its
  files are deleted, each deletion recorded (claims.EvidenceErasure: the chain link and its
  SHA-256 stay, so the chain verifies), and every free text about it is emptied (diagnosis,
  findings, decision reason, appeals' and disputes' grounds, requests' notes, its notices'
  details);
- identity: members.retention, for people with no claim still open.

The ledger, the bills and the Merkle leaves are not touched: they hold amounts and
pseudonyms only, so every published proof still verifies."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.db.models.functions import Coalesce

from claims.models import (
    Appeal,
    Claim,
    ClaimState,
    Dispute,
    EvidenceDocument,
    EvidenceErasure,
    InfoRequest,
)
from claims.models.evidence import evidence_storage
from members.models import Member
from members.retention import identities_past_retention, identity_erase
from notifications.models import Notice

CLOSED = (ClaimState.PAID, ClaimState.REJECTED, ClaimState.WITHDRAWN)
REASON = "retention: {days} days after the claim closed"


def evidence_retention() -> datetime.timedelta:
    return datetime.timedelta(days=settings.MUTUAL_RETAIN_EVIDENCE_DAYS)


def claims_past_retention(*, now: datetime.datetime) -> QuerySet[Claim]:
    """Closed claims whose medical records are past their retention, not yet erased."""
    closed_at = Coalesce("paid_at", "decided_at", "state_since", "submitted_at")
    return (
        Claim.objects.filter(state__in=CLOSED, medical_erased_at__isnull=True)
        .annotate(closed_at=closed_at)
        .filter(closed_at__lte=now - evidence_retention())
        .order_by("pk")
    )


def people_past_retention(*, now: datetime.datetime) -> QuerySet[Member]:
    open_claim = Claim.objects.filter(membership__member=OuterRef("pk")).exclude(state__in=CLOSED)
    return identities_past_retention(now=now).exclude(Exists(open_claim))


@transaction.atomic
def claim_medical_erase(*, claim_id: int, now: datetime.datetime) -> int:
    """Delete one closed claim's evidence files, record each deletion, and empty its
    diagnosis and findings. Returns the files erased (0 if it was already done)."""
    claim = Claim.objects.select_for_update().filter(pk=claim_id).first()
    if claim is None or claim.medical_erased_at is not None or claim.state not in CLOSED:
        return 0
    storage = evidence_storage()
    reason = REASON.format(days=settings.MUTUAL_RETAIN_EVIDENCE_DAYS)
    documents = EvidenceDocument.objects.filter(claim=claim, erasure__isnull=True)
    erased = 0
    for document in documents:
        storage.delete(document.file.name)  # rows of this transaction: gone if it commits
        EvidenceErasure.objects.create(document=document, erased_at=now, reason=reason)
        erased += 1
    # Every free text about the case goes with it: it may quote the illness.
    Claim.objects.filter(pk=claim.pk).update(
        diagnosis="", investigation_summary="", decision_reason="", medical_erased_at=now
    )
    Appeal.objects.filter(claim=claim).update(reason="", note="")
    Dispute.objects.filter(claim=claim).update(reason="")
    InfoRequest.objects.filter(claim=claim).update(note="")
    for notice in Notice.objects.filter(
        event__startswith=f"claim:{claim.pk}:", payload__has_key="reason"
    ):
        notice.payload.pop("reason")  # the reviewer's own words; the catalogue's stay
        notice.save(update_fields=["payload"])
    return erased


def erase_due(*, now: datetime.datetime, dry_run: bool = False, limit: int = 10_000) -> dict:
    """What is past its retention, erased (or, dry, listed): at most `limit` of each a run,
    the rest the next day. Each erasure is its own transaction, so a stopped run loses
    nothing and a second one skips what the first did."""
    claim_ids = list(claims_past_retention(now=now).values_list("pk", flat=True)[:limit])
    person_ids = list(people_past_retention(now=now).values_list("pk", flat=True)[:limit])
    report = {
        "now": now.isoformat(),
        "dry_run": dry_run,
        "evidence_days": settings.MUTUAL_RETAIN_EVIDENCE_DAYS,
        "identity_days": settings.MUTUAL_RETAIN_IDENTITY_DAYS,
        "claims": len(claim_ids),
        "people": len(person_ids),
        "claim_ids": claim_ids[:50],
        "person_ids": person_ids[:50],
        "files": EvidenceDocument.objects.filter(
            claim_id__in=claim_ids, erasure__isnull=True
        ).count(),
    }
    if not dry_run:
        report["files"] = sum(claim_medical_erase(claim_id=pk, now=now) for pk in claim_ids)
        report["people"] = sum(identity_erase(member_id=pk, now=now) for pk in person_ids)
    return report
