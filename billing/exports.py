"""A copy of my data (issue 22, 4; PIPL Art. 45): everything held about an account holder and
the people they cover, as one zip: the people (national ids in full: it is their own), their
memberships, claims with their evidence files, bills, notices, consents, and the access log of
who looked at their records. Requested through the API, built on a worker, stored encrypted
like evidence (STORAGES["evidence"]) for EXPORT_DAYS, and the member is told when it is
ready. One export is prepared at a time per member (a unique index says so, whatever races),
and the API throttles requests."""

from __future__ import annotations

import datetime
import hashlib
import json
import tempfile
import uuid
import zipfile
from typing import TYPE_CHECKING

from django.db import IntegrityError, InterfaceError, OperationalError, transaction

from billing.errors import ErrorCode
from billing.models import Bill, DataExport, ExportStatus
from claims.models import Claim, EvidenceDocument
from claims.models.evidence import evidence_storage
from members.households import holder_for, household_of
from members.models import AccessLog, Consent, Member, Membership
from mutual.core.errors import ServiceError
from mutual.core.tasks import task_send_on_commit
from notifications.models import Notice, NoticeKind
from notifications.services import notify

if TYPE_CHECKING:
    from django.contrib.auth.models import User

EXPORT_DAYS = 7
STALE = datetime.timedelta(hours=1)  # a build takes seconds: one preparing longer was lost
IN_MEMORY = 256 * 1024 * 1024  # the archive is built in memory up to this, never on disk in
# clear below it (a household's evidence is bounded by the evidence limits)
WITHHELD = {"investigation_report"}  # the firm's report may name third parties
OUTAGES = (OperationalError, InterfaceError)  # the task retries these


def data_export_request(*, by: User | None, now: datetime.datetime) -> DataExport:
    """The member asks for a copy of their household's data; a worker builds it."""
    holder = holder_for(by)
    if holder.payer_id is not None:
        raise ServiceError(
            "your account holder asks for your household's data",
            code=ErrorCode.NOT_ACCOUNT_HOLDER,
        )
    # One whose build was lost (a broker that lost the task, a worker gone) gives way.
    DataExport.objects.filter(
        member=holder, status=ExportStatus.PREPARING, requested_at__lt=now - STALE
    ).update(status=ExportStatus.FAILED)
    try:
        with transaction.atomic():
            export = DataExport.objects.create(member=holder, requested_at=now)
    except IntegrityError:
        raise ServiceError(
            "an export of your data is being prepared: you will be told when it is ready",
            code=ErrorCode.EXPORT_IN_PROGRESS,
        ) from None
    task_send_on_commit("billing.tasks.build_data_export", export.pk)
    return export


def data_export_latest(*, by: User | None) -> DataExport | None:
    return DataExport.objects.filter(member=holder_for(by)).order_by("-pk").first()


def data_export_open(*, by: User | None, now: datetime.datetime):
    """The member's latest ready export: (export, open file)."""
    export = data_export_latest(by=by)
    if export is None or export.status != ExportStatus.READY or export.expires_at <= now:
        raise ServiceError("no export of your data is ready", code=ErrorCode.EXPORT_NOT_READY)
    return export, evidence_storage().open(export.file, "rb")


def _people(holder: Member) -> list[Member]:
    """The holder and the family they cover now: someone removed from the household (an
    ex-spouse) is no longer theirs to see."""
    return list(household_of(holder))


def _records(people: list[Member]) -> dict:
    ids = [p.pk for p in people]
    memberships = Membership.objects.filter(member_id__in=ids).select_related("plan")
    claims = Claim.objects.filter(membership__member_id__in=ids).order_by("pk")
    return {
        "people": [
            {"id": p.pk, "full_name": p.full_name, "national_id": p.national_id,
             "birth_date": p.birth_date.isoformat(), "relationship": p.relationship,
             "guardian_consent_at": p.guardian_consent_at and p.guardian_consent_at.isoformat(),
             "removed_at": p.removed_at and p.removed_at.isoformat()}
            for p in people
        ],
        "memberships": [
            {"id": m.pk, "person": m.member_id, "plan": m.plan.name, "status": m.status,
             "joined_at": m.joined_at.isoformat(), "waiting_until": m.waiting_until.isoformat(),
             "cover_fen": m.cover_fen, "ended_at": m.ended_at and m.ended_at.isoformat(),
             "end_reason": m.end_reason}
            for m in memberships.order_by("pk")
        ],
        "claims": [
            {"id": c.pk, "person": c.membership.member_id, "state": c.state,
             "incident_kind": c.incident_kind, "incident_date": c.incident_date.isoformat(),
             "diagnosis_date": c.diagnosis_date.isoformat(), "diagnosis": c.diagnosis,
             "hospital": c.hospital, "amount_requested_fen": c.amount_requested_fen,
             "amount_approved_fen": c.amount_approved_fen,
             "investigation_summary": c.investigation_summary,
             "decision_reason": c.decision_reason,
             "submitted_at": c.submitted_at.isoformat(),
             "evidence": [
                 {"id": d.pk, "kind": d.kind, "sha256": d.sha256, "size": d.size,
                  "file": None if d.kind in WITHHELD
                  else f"evidence/{c.pk}-{d.position}{_suffix(d.file.name)}"}
                 for d in c.evidence.order_by("position")
             ]}
            for c in claims.select_related("membership")
        ],
        "bills": [
            {"period": b.period_id, "membership": b.membership_id, "gross_fen": b.gross_fen,
             "waived_fen": b.waived_fen, "capped_fen": b.capped_fen,
             "charged_fen": b.charged_fen, "paid_at": b.paid_at and b.paid_at.isoformat()}
            for b in Bill.objects.filter(membership__member_id__in=ids).order_by("period", "pk")
        ],
        "notices": [
            {"kind": n.kind, "event": n.event, "details": n.payload,
             "created_at": n.created_at.isoformat(), "status": n.status}
            for n in Notice.objects.filter(member_id__in=ids).order_by("pk")
        ],
        "consents": [
            {"person": c.member_id, "purpose": c.purpose, "text_version": c.text_version,
             "given_at": c.given_at.isoformat(), "by_guardian": c.by_guardian,
             "withdrawn_at": c.withdrawn_at and c.withdrawn_at.isoformat()}
            for c in Consent.objects.filter(member_id__in=ids).order_by("member", "pk")
        ],
        "who_looked": [
            {"at": a.at.isoformat(), "who": "a member of staff", "role": _role(a.user),
             "what": a.kind, "whose": a.member_id}
            for a in AccessLog.objects.filter(member_id__in=ids).select_related("user")
            .order_by("at")
        ],
    }  # fmt: skip


def _suffix(name: str) -> str:
    return name[name.rfind(".") :] if "." in name else ""


def _role(user) -> str:
    """Staff are named by their role, never their name (as in a claim's history)."""
    groups = sorted(user.groups.values_list("name", flat=True)) if user else []
    return ", ".join(groups) or ("superuser" if user and user.is_superuser else "staff")


def data_export_build(*, export_id: int, now: datetime.datetime) -> bool:
    """Build one requested export (the worker's task). Idempotent: an export no longer being
    prepared is left alone, and the conditional UPDATE at the end lets one build win. A build
    that fails, but for a database outage (retried), marks it failed, so that the member may
    ask again, and raises (kept for staff with the task's result)."""
    try:
        return _build(export_id=export_id, now=now)
    except OUTAGES:
        raise
    except Exception:
        DataExport.objects.filter(pk=export_id, status=ExportStatus.PREPARING).update(
            status=ExportStatus.FAILED
        )
        raise


def _build(*, export_id: int, now: datetime.datetime) -> bool:
    export = DataExport.objects.select_related("member").filter(pk=export_id).first()
    if export is None or export.status != ExportStatus.PREPARING:
        return False
    people = _people(export.member)
    records = _records(people)
    storage = evidence_storage()
    digest = hashlib.sha256()
    with tempfile.SpooledTemporaryFile(max_size=IN_MEMORY) as archive:
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
            documents = (
                EvidenceDocument.objects.filter(
                    claim__membership__member__in=people, erasure__isnull=True
                )
                .exclude(kind__in=WITHHELD)
                .order_by("claim", "position")
            )
            records["missing_files"] = []
            for document in documents:
                name = f"evidence/{document.claim_id}-{document.position}"
                try:
                    stored = document.file.open("rb")
                except FileNotFoundError:  # never copied from a host's disk: said, not fatal
                    records["missing_files"].append(document.pk)
                    continue
                with stored, zipped.open(name + _suffix(document.file.name), "w") as target:
                    for chunk in iter(lambda stored=stored: stored.read(1024 * 1024), b""):
                        target.write(chunk)
            zipped.writestr("data.json", json.dumps(records, ensure_ascii=False, indent=2))
        size = archive.tell()
        archive.seek(0)
        for chunk in iter(lambda: archive.read(1024 * 1024), b""):
            digest.update(chunk)
        archive.seek(0)
        with transaction.atomic():
            name = storage.save(f"exports/{uuid.uuid4().hex}.zip", archive)
            won = DataExport.objects.filter(pk=export.pk, status=ExportStatus.PREPARING).update(
                status=ExportStatus.READY, ready_at=now, file=name, size=size,
                sha256=digest.hexdigest(), expires_at=now + datetime.timedelta(days=EXPORT_DAYS),
            )  # fmt: skip
            if not won:
                transaction.set_rollback(True)  # another build finished first: drop this file
                return False
            notify(
                member_ids=[export.member_id],
                kind=NoticeKind.DATA_EXPORT,
                event=f"data-export:{export.pk}",
                payload={"days": EXPORT_DAYS},
                now=now,
            )
    return True


def data_exports_expire(*, now: datetime.datetime) -> int:
    """Exports past their days are deleted (the archive holds medical records)."""
    storage, expired = evidence_storage(), 0
    for export in DataExport.objects.filter(status=ExportStatus.READY, expires_at__lte=now):
        with transaction.atomic():
            storage.delete(export.file)
            expired += DataExport.objects.filter(pk=export.pk, status=ExportStatus.READY).update(
                status=ExportStatus.EXPIRED, file=""
            )
    return expired
