"""Second looks at a claim: a refused claimant's appeal, the fraud and duplicate signals, the
random audit of claims approved without dispute, and each plan's desk policy."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from claims.models.claims import Claim
from members.models import Plan


def _new_seed() -> str:
    return secrets.token_hex(16)


class DeskPolicy(models.Model):
    """A plan's desk settings. No row: the defaults (a row is made, with a fresh random seed,
    the first time a claim is sampled)."""

    plan = models.OneToOneField(
        Plan, on_delete=models.CASCADE, related_name="desk_policy", verbose_name=_("plan")
    )
    risk_threshold = models.PositiveSmallIntegerField(
        _("risk score that sends a claim to a supervisor"), default=50
    )
    audit_permille = models.PositiveSmallIntegerField(
        _("claims approved without dispute audited (per thousand)"), default=50
    )
    audit_seed = models.CharField(_("audit sample seed"), max_length=64, default=_new_seed)

    class Meta:
        verbose_name = _("desk policy")
        verbose_name_plural = _("desk policies")
        constraints = [
            models.CheckConstraint(
                condition=Q(audit_permille__lte=1000), name="audit_share_at_most_all"
            )
        ]

    def __str__(self) -> str:
        return f"Desk policy of {self.plan}"


class AppealStatus(models.TextChoices):
    PENDING = "pending", _("pending")
    UPHELD = "upheld", _("upheld: the claim is reopened")
    DISMISSED = "dismissed", _("dismissed: the refusal stands")


class Appeal(models.Model):
    """A refused claimant asks, within 30 days, for the refusal to be looked at again by a
    reviewer who did not decide it."""

    claim = models.ForeignKey(
        Claim, on_delete=models.PROTECT, related_name="appeals", verbose_name=_("claim")
    )
    filed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                 related_name="+")  # fmt: skip
    reason = models.TextField(_("the claimant's grounds"), max_length=2000)
    filed_at = models.DateTimeField(_("filed at"))
    # Who refused the claim (the refusal's log row): never the one who decides the appeal.
    refused_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(
        _("status"), max_length=10, choices=AppealStatus, default=AppealStatus.PENDING
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("decided by"),
    )  # fmt: skip
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    note = models.CharField(_("decision note"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("appeal")
        verbose_name_plural = _("appeals")
        ordering = ["-filed_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["claim"], condition=Q(status="pending"), name="one_pending_appeal"
            )
        ]

    def __str__(self) -> str:
        return f"Appeal {self.pk} on claim {self.claim_id}"


class SignalCode(models.TextChoices):
    DUPLICATE_PERSON = "duplicate_person", _("one national id covered twice in the plan")
    EARLY_AFTER_WAITING = (
        "early_after_waiting",
        _("illness diagnosed within 15 days after the waiting period"),
    )
    SAME_INCIDENT = "same_incident", _("another claim: same hospital, condition and date")
    FULL_COVER_FOR_LESSER = (
        "full_cover_for_lesser",
        _("asks the full amount of a condition that pays less than the cover"),
    )
    MANY_CLAIMS_PAYER = "many_claims_payer", _("many claims from one account holder in a year")


class ClaimSignal(models.Model):
    """A fraud or duplicate signal raised on a claim, with its weight. Signals only route a
    claim (to a supervisor's queue); they never decide it."""

    claim = models.ForeignKey(
        Claim, on_delete=models.CASCADE, related_name="signals", verbose_name=_("claim")
    )
    code = models.CharField(_("signal"), max_length=24, choices=SignalCode)
    weight = models.PositiveSmallIntegerField(_("weight"))
    detail = models.CharField(_("detail"), max_length=200, blank=True)
    computed_at = models.DateTimeField(_("computed at"))

    class Meta:
        verbose_name = _("fraud signal")
        verbose_name_plural = _("fraud signals")
        constraints = [
            models.UniqueConstraint(fields=["claim", "code"], name="one_signal_per_code")
        ]

    def __str__(self) -> str:
        return f"{self.code} ({self.weight}) on claim {self.claim_id}"


class AuditOutcome(models.TextChoices):
    PENDING = "pending", _("waiting for the second review")
    CONFIRMED = "confirmed", _("confirmed: approved")
    MISSED = "missed", _("missed: sent to review")


class ClaimAudit(models.Model):
    """A claim whose window closed without dispute, picked at random (the plan's recorded
    seed and share) for a second review before it is approved and paid."""

    claim = models.OneToOneField(
        Claim, on_delete=models.PROTECT, related_name="audit", verbose_name=_("claim")
    )
    seed = models.CharField(_("seed"), max_length=64)
    permille = models.PositiveSmallIntegerField(_("share (per thousand)"))
    picked_at = models.DateTimeField(_("picked at"))
    outcome = models.CharField(
        _("outcome"), max_length=10, choices=AuditOutcome, default=AuditOutcome.PENDING
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("decided by"),
    )  # fmt: skip
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("audit sample")
        verbose_name_plural = _("audit samples")

    def __str__(self) -> str:
        return f"Audit of claim {self.claim_id}: {self.outcome}"
