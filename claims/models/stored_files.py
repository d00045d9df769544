"""Evidence files, encrypted, in PostgreSQL: every web host reads what any other stored, the
bytes commit or roll back with the evidence row that names them, and a backup holds both.
A file is cut in chunks of 1 MiB, each a Fernet token under the personal-data keys
(claims/storage.py)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class StoredFile(models.Model):
    name = models.CharField(_("name"), max_length=200, unique=True)
    size = models.PositiveBigIntegerField(_("size (bytes)"))
    chunks = models.PositiveIntegerField(_("chunks"))
    created_at = models.DateTimeField(_("stored at"), auto_now_add=True)

    class Meta:
        verbose_name = _("stored file")
        verbose_name_plural = _("stored files")

    def __str__(self) -> str:
        return self.name


class StoredChunk(models.Model):
    file = models.ForeignKey(StoredFile, on_delete=models.CASCADE, related_name="+")
    number = models.PositiveIntegerField()
    token = models.BinaryField()  # a Fernet token's bytes (not its base64)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["file", "number"], name="one_chunk_per_number"),
        ]

    def __str__(self) -> str:
        return f"chunk {self.number} of file {self.file_id}"


class EvidenceErasure(models.Model):
    """A document's file erased at the end of its retention (PIPL Art. 47): the chain link
    and its SHA-256 stay, so the chain still verifies; the bytes are gone."""

    document = models.OneToOneField(
        "claims.EvidenceDocument", on_delete=models.PROTECT, related_name="erasure"
    )
    erased_at = models.DateTimeField(_("erased at"))
    reason = models.CharField(_("reason"), max_length=200)

    class Meta:
        verbose_name = _("evidence erasure")
        verbose_name_plural = _("evidence erasures")

    def __str__(self) -> str:
        return f"document {self.document_id} erased {self.erased_at:%Y-%m-%d}"
