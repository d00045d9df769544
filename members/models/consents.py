"""Consents (PIPL Art. 14, 29, 31): per person and purpose, with the text's version and time,
and who gave it (a child under 14: their guardian, the account holder). A withdrawal is a
time on the record; it stops that use from then on."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from members.models.people import Member


class ConsentPurpose(models.TextChoices):
    MEMBERSHIP = "membership", _("membership: my personal and medical data processed")
    PUBLIC_NOTICE = "public_notice", _("my claim in the anonymised public notice")
    INVESTIGATION = "investigation", _("my claim's records shared with an investigation firm")
    JURY = "jury", _("being drawn for a jury")
    SUCCESSOR = "successor", _("my data exported to a successor plan")


class Consent(models.Model):
    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="consents", verbose_name=_("person")
    )
    purpose = models.CharField(_("purpose"), max_length=16, choices=ConsentPurpose)
    text_version = models.CharField(_("text version"), max_length=32)
    given_at = models.DateTimeField(_("given at"))
    given_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("given by"),
    )
    by_guardian = models.BooleanField(_("given by the guardian"), default=False)
    withdrawn_at = models.DateTimeField(_("withdrawn at"), null=True, blank=True)

    class Meta:
        verbose_name = _("consent")
        verbose_name_plural = _("consents")
        constraints = [
            # One record in force per person and purpose; a withdrawn one stays as history.
            models.UniqueConstraint(
                fields=["member", "purpose"],
                condition=Q(withdrawn_at__isnull=True),
                name="one_consent_in_force",
            ),
        ]
        indexes = [models.Index(fields=["member", "purpose"], name="consent_member_purpose")]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} ({self.member_id})"
