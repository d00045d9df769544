"""A member's copy of their data (PIPL Art. 45): one archive at a time per account holder."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class ExportStatus(models.TextChoices):
    PREPARING = "preparing", _("being prepared")
    READY = "ready", _("ready")
    FAILED = "failed", _("failed")
    EXPIRED = "expired", _("expired")


class DataExport(models.Model):
    """An archive of everything held about an account holder and the people they cover,
    built on a worker (billing/exports.py) and kept, encrypted like evidence, until
    `expires_at`. It lives in billing because it reads the bills and everything below."""

    member = models.ForeignKey(
        "members.Member", on_delete=models.PROTECT, related_name="+", verbose_name=_("member")
    )
    status = models.CharField(
        _("status"), max_length=10, choices=ExportStatus, default=ExportStatus.PREPARING
    )
    requested_at = models.DateTimeField(_("requested at"))
    ready_at = models.DateTimeField(_("ready at"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    file = models.CharField(max_length=200, blank=True)  # its name in STORAGES["evidence"]
    size = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)

    class Meta:
        verbose_name = _("data export")
        verbose_name_plural = _("data exports")
        constraints = [
            # One archive in the making per member: a second request waits for it.
            models.UniqueConstraint(
                fields=["member"], condition=Q(status="preparing"), name="one_export_preparing"
            ),
        ]

    def __str__(self) -> str:
        return f"export {self.pk} of member {self.member_id}"
