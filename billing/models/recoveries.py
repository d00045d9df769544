"""Money recovered from a claim paid and later found fraudulent (or paid in error). A recovery
is never an update of what was paid: it is a row here, written once, with its own compensating
posting (cash in, owed back to the members), and the money is spent on the plan's next period
(billing/recoveries.py, rules.recovery_split)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from billing.models.ledger import Posting
from claims.models import Claim, Reason
from members.models import Plan


class Recovery(models.Model):
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="recoveries")
    claim = models.ForeignKey(Claim, on_delete=models.PROTECT, related_name="recoveries")
    amount_fen = models.BigIntegerField(_("amount recovered (fen)"))
    reason = models.ForeignKey(Reason, verbose_name=_("reason"), on_delete=models.PROTECT)
    note = models.TextField(_("note"), help_text=_("What was found, and how the money came back."))
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    recorded_at = models.DateTimeField(_("recorded at"))
    posting = models.OneToOneField(Posting, on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("recovery")
        verbose_name_plural = _("recoveries")
        ordering = ["-recorded_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_fen__gt=0), name="recovery_is_positive")
        ]
        indexes = [models.Index(fields=["plan", "recorded_at"], name="recovery_plan_time")]

    def __str__(self) -> str:
        return f"recovery {self.pk} of claim {self.claim_id}"
