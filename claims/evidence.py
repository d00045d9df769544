"""Evidence files and their tamper-evident chain.

Each document's link hash covers the previous link, the claim, the position, the kind and the
file's SHA-256, so changing a file, reordering links or dropping one breaks every later link."""

from __future__ import annotations

import datetime
import hashlib
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cryptography.fernet import InvalidToken
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.db.models import Count, Sum

from claims.errors import ErrorCode
from claims.models import GENESIS_LINK, Claim, EvidenceDocument, EvidenceKind
from claims.requests import request_after_upload, request_check_upload
from claims.rules import claim_act_require
from members.access import access_record
from members.models import AccessKind
from mutual.core.errors import ServiceError

if TYPE_CHECKING:
    from django.contrib.auth.models import User


# The first bytes decide the type; the name and the client's content type are not trusted.
_SIGNATURES = {
    b"%PDF-": "application/pdf",
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
}
_EXTENSIONS = {"application/pdf": ".pdf", "image/png": ".png", "image/jpeg": ".jpg"}


def evidence_extension(content_type: str) -> str:
    return _EXTENSIONS.get(content_type, "")


def link_hash(*, previous_link: str, claim_id: int, position: int, kind: str, sha256: str) -> str:
    material = f"{previous_link}|{claim_id}|{position}|{kind}|{sha256}"
    return hashlib.sha256(material.encode()).hexdigest()


def sniff_content_type(head: bytes) -> str | None:
    for signature, content_type in _SIGNATURES.items():
        if head.startswith(signature):
            return content_type
    return None


def file_sha256(file) -> str:
    digest = hashlib.sha256()
    file.seek(0)
    for chunk in iter(lambda: file.read(1024 * 1024), b""):
        digest.update(chunk)
    file.seek(0)
    return digest.hexdigest()


def _validated_type(upload: UploadedFile) -> str:
    if upload.size > settings.EVIDENCE_MAX_BYTES:
        limit_mb = settings.EVIDENCE_MAX_BYTES // (1024 * 1024)
        raise ServiceError(
            f"file is larger than {limit_mb} MB", code=ErrorCode.TOO_LARGE, field="file"
        )
    if upload.size == 0:
        raise ServiceError("file is empty", code=ErrorCode.EMPTY, field="file")
    upload.seek(0)
    content_type = sniff_content_type(upload.read(16))
    upload.seek(0)
    if content_type is None or content_type not in settings.EVIDENCE_CONTENT_TYPES:
        allowed = ", ".join(settings.EVIDENCE_CONTENT_TYPES)
        raise ServiceError(
            f"file type not accepted (allowed: {allowed})", code=ErrorCode.BAD_TYPE, field="file"
        )
    if content_type.startswith("image/"):
        _check_image(upload)
    return content_type


_UPLOADER_LOCK = 7_101  # advisory lock class: one uploader's daily total, counted once at a time
DAY = datetime.timedelta(days=1)


def _check_limits(
    claim: Claim, *, upload: UploadedFile, by: User | None, now: datetime.datetime
) -> None:
    """The chain is append-only (a stored file is never deleted), so what it may take is
    bounded: documents and bytes per claim, and, for members, bytes per day over all their
    claims (claim after claim would otherwise fill the disk). The claim's row is locked by the
    caller; the uploader's day is counted under an advisory lock, so that two uploads at once
    by one member to two claims cannot both pass."""
    totals = claim.evidence.aggregate(count=Count("pk"), size=Sum("size"))
    if totals["count"] >= settings.EVIDENCE_MAX_PER_CLAIM:
        raise ServiceError(
            f"a claim takes at most {settings.EVIDENCE_MAX_PER_CLAIM} documents",
            code=ErrorCode.TOO_MANY_DOCUMENTS,
            field="file",
        )
    if (totals["size"] or 0) + upload.size > settings.EVIDENCE_MAX_CLAIM_BYTES:
        raise ServiceError(
            f"a claim's documents may total at most {_megabytes(settings.EVIDENCE_MAX_CLAIM_BYTES)}"
            f" ({_megabytes(totals['size'] or 0)} stored)",
            code=ErrorCode.CLAIM_EVIDENCE_FULL,
            field="file",
        )
    if by.has_perm("claims.add_evidencedocument"):  # staff: the per-claim bounds only
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_UPLOADER_LOCK, by.pk])
    today = (
        EvidenceDocument.objects.filter(uploaded_by=by, uploaded_at__gt=now - DAY).aggregate(
            size=Sum("size")
        )["size"]
        or 0
    )
    if today + upload.size > settings.EVIDENCE_MEMBER_BYTES_PER_DAY:
        raise ServiceError(
            "you may upload at most "
            f"{_megabytes(settings.EVIDENCE_MEMBER_BYTES_PER_DAY)} in 24 hours "
            f"({_megabytes(today)} so far): try again later",
            code=ErrorCode.DAILY_UPLOAD_LIMIT,
            field="file",
        )


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.0f} MB"


def _check_image(upload: UploadedFile) -> None:
    """An image is read as far as its header (Pillow decodes nothing here): its declared
    size must be within EVIDENCE_MAX_PIXELS, so that a 30-byte PNG declaring 100,000 x
    100,000 pixels (a decompression bomb for whoever opens it) is refused, and the rest of
    the file must be a well-formed image of its type."""
    from PIL import Image, UnidentifiedImageError

    limit = settings.EVIDENCE_MAX_PIXELS
    upload.seek(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(upload) as image:
                width, height = image.size
                if width * height > limit:
                    raise ServiceError(
                        f"the image declares {width} x {height} pixels, more than the "
                        f"{limit:,} allowed",
                        code=ErrorCode.TOO_MANY_PIXELS,
                        field="file",
                    )
                image.verify()  # structure and checksums, without decoding the pixels
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ServiceError(
            f"the image declares more than the {limit:,} pixels allowed",
            code=ErrorCode.TOO_MANY_PIXELS,
            field="file",
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise ServiceError(
            "the image cannot be read", code=ErrorCode.BAD_IMAGE, field="file"
        ) from None
    finally:
        upload.seek(0)


@transaction.atomic
def evidence_append(
    *,
    claim_id: int,
    kind: str,
    upload: UploadedFile,
    by: User | None,
    now: datetime.datetime,
    request_id: int | None = None,
) -> EvidenceDocument:
    """Store the file under a random name and append its link to the claim's chain; with
    `request_id`, as an answer to that request for information."""
    # The claim row lock serialises appends, so two uploads cannot take the same position.
    claim = (
        Claim.objects.select_for_update(of=("self",))
        .select_related("membership__member")
        .get(pk=claim_id)
    )
    claim_act_require("add_evidence", claim=claim, by=by, now=now)
    if kind not in EvidenceKind.values:
        raise ServiceError(f"unknown evidence kind {kind!r}", code=ErrorCode.BAD_KIND, field="kind")
    request = None
    if request_id is not None:
        request = request_check_upload(claim=claim, request_id=request_id, kind=kind, now=now)
    content_type = _validated_type(upload)
    _check_limits(claim, upload=upload, by=by, now=now)
    last = claim.evidence.order_by("-position").first()
    position = 1 if last is None else last.position + 1
    previous = GENESIS_LINK if last is None else last.link_hash
    sha256 = file_sha256(upload)
    document = EvidenceDocument(
        claim=claim,
        position=position,
        kind=kind,
        content_type=content_type,
        size=upload.size,
        sha256=sha256,
        previous_link=previous,
        uploaded_by=by,
        uploaded_at=now,
        info_request=request,
        link_hash=link_hash(
            previous_link=previous, claim_id=claim.pk, position=position, kind=kind, sha256=sha256
        ),
    )
    # Named by the checked type: the client's name (and its `.html` or `.sh`) is not kept.
    # The bytes are rows of this same transaction (claims/storage.py): if it rolls back, they
    # go with the row that names them.
    document.file.save(f"evidence{_EXTENSIONS[content_type]}", upload, save=False)
    document.save()
    if request is not None:
        request_after_upload(claim=claim, request=request, now=now)
    return document


@dataclass(frozen=True)
class ChainProblem:
    claim_id: int
    document_id: int | None
    position: int | None
    problem: str

    def __str__(self) -> str:
        where = f"claim {self.claim_id}"
        if self.document_id is not None:
            where += f", document {self.document_id} (position {self.position})"
        return f"{where}: {self.problem}"


def evidence_verify_claim(claim_id: int) -> list[ChainProblem]:
    """Re-hash every stored file and recompute every link of one claim's chain."""
    problems: list[ChainProblem] = []
    previous = GENESIS_LINK
    expected_position = 1
    documents = EvidenceDocument.objects.filter(claim_id=claim_id).select_related("erasure")
    for document in documents.order_by("position"):

        def problem(text: str, document=document) -> None:
            problems.append(ChainProblem(claim_id, document.pk, document.position, text))

        if document.position != expected_position:
            problem(f"expected position {expected_position}: a link is missing")
        if document.previous_link != previous:
            problem("previous-link hash does not match the link before it")
        if getattr(document, "erasure", None) is not None:
            pass  # erased at the end of its retention: the link verifies, the bytes are gone
        else:
            try:
                with document.file.open("rb") as stored:
                    actual = file_sha256(stored)
            except FileNotFoundError:
                problem("stored file is missing")
            except InvalidToken:
                problem("stored file cannot be decrypted: altered, or no key opens it")
            else:
                if actual != document.sha256:
                    problem(f"file SHA-256 is {actual}, chain records {document.sha256}")
        recomputed = link_hash(
            previous_link=document.previous_link,
            claim_id=claim_id,
            position=document.position,
            kind=document.kind,
            sha256=document.sha256,
        )
        if recomputed != document.link_hash:
            problem("link hash does not match its contents")
        previous = document.link_hash
        expected_position = document.position + 1
    return problems


def evidence_verify_all(claim_id: int | None = None) -> list[ChainProblem]:
    claim_ids = (
        [claim_id]
        if claim_id is not None
        else EvidenceDocument.objects.values_list("claim_id", flat=True).distinct().order_by()
    )
    return [problem for cid in claim_ids for problem in evidence_verify_claim(cid)]


def evidence_open(*, claim_id: int, document_id: int, by: User | None, now: datetime.datetime):
    """A stored document, opened for `by` to view or download, and the look logged (who, which
    document, when) before anything is sent. Returns (document, open file)."""
    if not by.has_perm("claims.view_evidencedocument"):
        raise PermissionDenied(f"{by} may not see evidence")
    document = EvidenceDocument.objects.select_related("claim__membership").get(
        pk=document_id, claim_id=claim_id
    )
    stored = document.file.open("rb")
    try:
        access_record(
            by=by,
            kind=AccessKind.EVIDENCE_DOCUMENT,
            obj=document,
            member_id=document.claim.membership.member_id,
            now=now,
        )
    except BaseException:
        stored.close()
        raise
    return document, stored
