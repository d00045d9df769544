"""Evidence documents: links of a claim's append-only hash chain."""

from __future__ import annotations

import uuid
from pathlib import PurePath
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    pass

from claims.models.claims import Claim


class EvidenceKind(models.TextChoices):
    MEDICAL_CERTIFICATE = "medical_certificate", _("medical certificate")
    DISCHARGE_SUMMARY = "discharge_summary", _("discharge summary")
    SURGICAL_RECORD = "surgical_record", _("surgical record")
    PATHOLOGY_REPORT = "pathology_report", _("pathology report")
    IDENTITY_DOCUMENT = "identity_document", _("the patient's identity document")
    INVOICE = "invoice", _("invoices")
    INVESTIGATION_REPORT = "investigation_report", _("investigation report")
    OTHER = "other", _("other")


def evidence_upload_to(instance: EvidenceDocument, filename: str) -> str:
    """A random name: stored files must not be guessable from the claim or the uploader."""
    return f"evidence/{uuid.uuid4().hex}{PurePath(filename).suffix.lower()[:8]}"


GENESIS_LINK = "0" * 64


def evidence_storage():
    """STORAGES["evidence"]: PostgreSQL, encrypted (claims/storage.py), resolved at use."""
    from django.core.files.storage import storages

    return storages["evidence"]


class EvidenceDocument(models.Model):
    """One link of a claim's append-only hash chain. A database trigger refuses UPDATE/DELETE."""

    claim = models.ForeignKey(
        Claim, on_delete=models.PROTECT, related_name="evidence", verbose_name=_("claim")
    )
    position = models.PositiveIntegerField(_("position in chain"))
    kind = models.CharField(_("kind"), max_length=32, choices=EvidenceKind)
    file = models.FileField(
        _("file"), upload_to=evidence_upload_to, storage=evidence_storage, max_length=200
    )
    content_type = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField(verbose_name=_("size (bytes)"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    previous_link = models.CharField(max_length=64)
    link_hash = models.CharField(_("link hash"), max_length=64, unique=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(verbose_name=_("uploaded at"))

    # The request for information this document answers, if any.
    info_request = models.ForeignKey(
        "claims.InfoRequest",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="documents_received",
    )

    class Meta:
        verbose_name = _("evidence document")
        verbose_name_plural = _("evidence documents")
        ordering = ["claim", "position"]
        constraints = [
            models.UniqueConstraint(fields=["claim", "position"], name="one_link_per_position"),
        ]
        # An uploader's last 24 hours (claims.evidence: members' daily upload limit).
        indexes = [
            models.Index(fields=["uploaded_by", "uploaded_at"], name="evidence_uploader_day"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.position} of claim {self.claim_id}"
