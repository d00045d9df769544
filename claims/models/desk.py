"""The claims desk: the reasons catalogue, investigation firms and their investigators, each
plan's clock targets, the assignment trail and requests for information."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from claims.models.claims import Claim, ClaimState
from claims.models.evidence import EvidenceKind
from members.models import Plan


class ReasonKind(models.TextChoices):
    REFUSAL = "refusal", _("refusal")
    WITHDRAWAL = "withdrawal", _("withdrawal")
    PEND = "pend", _("pend (waiting on the claimant)")
    REOPEN = "reopen", _("reopening")
    REASSIGN = "reassign", _("reassignment")
    RECOVERY = "recovery", _("recovery of a payout")


class Reason(models.Model):
    """One entry of the reasons catalogue: a stable code, what kind of act it explains, and
    the text the member reads, in English and Chinese. Codes are never deleted (claims point
    at them); one no longer offered is made inactive."""

    code = models.SlugField(_("code"), max_length=48, unique=True)
    kind = models.CharField(_("kind"), max_length=16, choices=ReasonKind)
    text_en = models.CharField(_("text for the member (English)"), max_length=300)
    text_zh = models.CharField(_("text for the member (Chinese)"), max_length=300)
    active = models.BooleanField(_("offered"), default=True)

    class Meta:
        verbose_name = _("reason")
        verbose_name_plural = _("reasons")
        ordering = ["kind", "code"]

    def __str__(self) -> str:
        return f"{self.code}: {self.text()}"

    def text(self, language: str | None = None) -> str:
        language = language or get_language() or "en"
        return self.text_zh if language.startswith("zh") else self.text_en


class InvestigationFirm(models.Model):
    """A third-party firm whose investigators the plan hires, paid a fee for each case."""

    name = models.CharField(_("name"), max_length=120, unique=True)
    fee_per_case_fen = models.BigIntegerField(_("fee per case (fen)"), default=0)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("investigation firm")
        verbose_name_plural = _("investigation firms")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(fee_per_case_fen__gte=0), name="firm_fee_not_negative"
            )
        ]

    def __str__(self) -> str:
        return self.name


class Investigator(models.Model):
    """A staff login working for a firm. Only active investigators are given new claims."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="investigator_profile",
        verbose_name=_("login"),
    )
    firm = models.ForeignKey(
        InvestigationFirm,
        on_delete=models.PROTECT,
        related_name="investigators",
        verbose_name=_("firm"),
    )
    active = models.BooleanField(_("takes new claims"), default=True)

    class Meta:
        verbose_name = _("investigator")
        verbose_name_plural = _("investigators")

    def __str__(self) -> str:
        return f"{self.user} ({self.firm})"


class ClockTarget(models.Model):
    """How long a claim of the plan may stay in a state: `days` working days (mainland
    China's calendar) or calendar days. A state with no target has no due time."""

    plan = models.ForeignKey(
        Plan, on_delete=models.CASCADE, related_name="clock_targets", verbose_name=_("plan")
    )
    state = models.CharField(_("state"), max_length=16, choices=ClaimState)
    days = models.PositiveSmallIntegerField(_("days"))
    working_days = models.BooleanField(_("working days"), default=True)

    class Meta:
        verbose_name = _("clock target")
        verbose_name_plural = _("clock targets")
        constraints = [
            models.UniqueConstraint(fields=["plan", "state"], name="one_target_per_state"),
            models.CheckConstraint(condition=Q(days__gte=1), name="target_at_least_a_day"),
        ]

    def __str__(self) -> str:
        unit = _("working days") if self.working_days else _("days")
        return f"{self.plan}: {self.state} {self.days} {unit}"


class ClaimAssignment(models.Model):
    """The assignment trail: who a claim was given to, by whom (empty: the automatic rule),
    when and why. Written once, never changed."""

    claim = models.ForeignKey(
        Claim, on_delete=models.PROTECT, related_name="assignments", verbose_name=_("claim")
    )
    assigned_from = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("assigned from"),
    )
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("assigned to"),
    )
    reason = models.ForeignKey(
        Reason, null=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("reason")
    )
    note = models.CharField(_("note"), max_length=300, blank=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    at = models.DateTimeField(_("at"))

    class Meta:
        verbose_name = _("assignment")
        verbose_name_plural = _("assignments")
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"Claim {self.claim_id}: to {self.assigned_to}"


class RequestStatus(models.TextChoices):
    OPEN = "open", _("waiting on the claimant")
    ANSWERED = "answered", _("answered")
    EXPIRED = "expired", _("no answer by the deadline")


class InfoRequest(models.Model):
    """The investigator asks the claimant for named documents by a deadline. While it is open
    the claim's clock is paused; an answer resumes it, no answer by the deadline closes the
    claim ("documents not supplied")."""

    claim = models.ForeignKey(
        Claim, on_delete=models.PROTECT, related_name="info_requests", verbose_name=_("claim")
    )
    documents = ArrayField(
        models.CharField(max_length=32, choices=EvidenceKind), verbose_name=_("documents")
    )
    note = models.CharField(_("note to the claimant"), max_length=500, blank=True)
    deadline = models.DateTimeField(_("deadline"))
    status = models.CharField(
        _("status"), max_length=8, choices=RequestStatus, default=RequestStatus.OPEN
    )
    made_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("asked by"),
    )
    made_at = models.DateTimeField(_("made at"))
    reminded_at = models.DateTimeField(_("reminded at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("request for information")
        verbose_name_plural = _("requests for information")
        ordering = ["-made_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["claim"], condition=Q(status="open"), name="one_open_request_per_claim"
            ),
            models.CheckConstraint(
                condition=Q(deadline__gt=models.F("made_at")), name="request_deadline_after_made"
            ),
        ]
        indexes = [
            models.Index(fields=["deadline"], condition=Q(status="open"), name="request_open_due")
        ]

    def __str__(self) -> str:
        return f"Request {self.pk} on claim {self.claim_id}"


class StateSpan(models.Model):
    """A claim's stay in one state, written when it leaves it: when it came and went, and
    the time worked in it (its pauses, waiting on the claimant, left out). The desk's time
    in state figures read these, a range of `left_at`."""

    id = models.BigAutoField(primary_key=True)
    claim = models.ForeignKey(
        Claim, on_delete=models.CASCADE, related_name="spans", verbose_name=_("claim")
    )
    state = models.CharField(_("state"), max_length=16, choices=ClaimState)
    entered_at = models.DateTimeField(_("entered at"))
    left_at = models.DateTimeField(_("left at"))
    worked_seconds = models.PositiveBigIntegerField(_("seconds worked"))

    class Meta:
        verbose_name = _("time in a state")
        verbose_name_plural = _("times in a state")
        indexes = [models.Index(fields=["left_at"], name="span_left_at")]

    def __str__(self) -> str:
        return f"Claim {self.claim_id} in {self.state}"
