"""The access log: who saw whose personal data, and when."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils.timezone import localtime
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    pass


from members.models.people import Member


class AccessKind(models.TextChoices):
    EVIDENCE_DOCUMENT = "evidence_document", _("evidence document opened")
    NATIONAL_ID = "national_id", _("national id shown in full")


class AccessLog(models.Model):
    """Who saw what, and when: one row each time staff open an evidence document or show a
    member's full national id, written in the same request (members.access.access_record).
    Append-only: a database trigger refuses UPDATE and DELETE."""

    at = models.DateTimeField(_("when"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("who"),
    )
    kind = models.CharField(_("what"), max_length=32, choices=AccessKind)
    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="+", verbose_name=_("whose data")
    )
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    object_id = models.PositiveBigIntegerField(_("object id"))

    class Meta:
        verbose_name = _("access log entry")
        verbose_name_plural = _("access log")
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["member", "at"], name="accesslog_member_at"),
            models.Index(fields=["user", "at"], name="accesslog_user_at"),
            models.Index(fields=["at"], name="accesslog_at"),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_kind_display()} · {localtime(self.at):%Y-%m-%d %H:%M %z}"
