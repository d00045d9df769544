"""Claims, their evidence chain, disputes and jury seats. Transitions only change fields;
the workflows (locks, checks, side records) live in claims/services.py."""

from __future__ import annotations

import uuid
from pathlib import PurePath

from django.conf import settings
from django.contrib.contenttypes.fields import GenericRelation
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition
from django_fsm_log.decorators import fsm_log_by, fsm_log_description
from django_fsm_log.models import StateLog
from simple_history.models import HistoricalRecords

from members.models import Member, Membership, Plan


class ConditionCategory(models.TextChoices):
    SEVERE = "severe", _("severe illness")
    MILD = "mild", _("mild illness")
    ACCIDENT = "accident", _("accidental injury")


class Condition(models.Model):
    """A covered condition of a plan's list, in force from `in_force_from` to the day before
    `in_force_until`: what it pays (the patient's full cover by age, or a fixed amount) and
    any age limits. A claim is judged by the list in force on the day of its event (the
    diagnosis; for an accident, the accident), so a change never re-judges an earlier case.
    Every change is kept (history), like the plan's other rules."""

    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="conditions")
    code = models.SlugField(_("code"), max_length=48)
    name_en = models.CharField(_("name (English)"), max_length=160)
    name_zh = models.CharField(_("name (Chinese)"), max_length=80)
    category = models.CharField(_("category"), max_length=16, choices=ConditionCategory)
    pays_fen = models.BigIntegerField(
        _("pays (fen)"),
        null=True,
        blank=True,
        help_text=_("Empty: the patient's full cover for their age. Otherwise at most this."),
    )
    min_age_years = models.PositiveSmallIntegerField(_("from age"), null=True, blank=True)
    max_age_years = models.PositiveSmallIntegerField(_("up to age"), null=True, blank=True)
    in_force_from = models.DateField(_("in force from"))
    in_force_until = models.DateField(
        _("in force until"), null=True, blank=True, help_text=_("The day it left the list.")
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("covered condition")
        verbose_name_plural = _("covered conditions")
        ordering = ["plan", "category", "code", "in_force_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["plan", "code", "in_force_from"], name="one_condition_version_a_day"
            ),
            models.CheckConstraint(
                condition=Q(in_force_until__isnull=True)
                | Q(in_force_until__gt=models.F("in_force_from")),
                name="condition_in_force_for_a_day_at_least",
            ),
            models.CheckConstraint(
                condition=Q(pays_fen__isnull=True) | Q(pays_fen__gt=0),
                name="condition_pays_something",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name_en} ({self.get_category_display()})"


class IncidentKind(models.TextChoices):
    ILLNESS = "illness", _("illness")
    ACCIDENT = "accident", _("accident")


class ClaimState(models.TextChoices):
    SUBMITTED = "submitted", _("submitted")
    INVESTIGATING = "investigating", _("investigating")
    PUBLICIZED = "publicized", _("publicized")
    DISPUTED = "disputed", _("disputed")
    APPROVED = "approved", _("approved")
    PAID = "paid", _("paid")
    REJECTED = "rejected", _("rejected")
    WITHDRAWN = "withdrawn", _("withdrawn")


# --- transition permissions (django-fsm calls them with the claim and the user) ---
def _is_claimant(claim: Claim, user) -> bool:
    """The patient, or the account holder who covers them."""
    member = claim.membership.member
    if member.user_id == user.pk:
        return True
    return member.payer_id is not None and member.payer.user_id == user.pk


def _can_investigate(claim: Claim, user) -> bool:
    return user.has_perm("claims.investigate_claim")


def _can_publicize(claim: Claim, user) -> bool:
    return user.has_perm("claims.publicize_claim")


def _can_decide(claim: Claim, user) -> bool:
    """Four eyes: whoever recorded the investigation may not decide the claim."""
    return user.has_perm("claims.decide_claim") and user.pk != claim.investigation_recorded_by_id


def _can_pay(claim: Claim, user) -> bool:
    return user.has_perm("claims.pay_claim")


# --- transition conditions ---
def _investigation_recorded(claim: Claim) -> bool:
    return claim.investigation_recorded_at is not None


def _undisputed_or_under_review(claim: Claim) -> bool:
    return claim.state == ClaimState.DISPUTED or not claim.disputes.exists()


def _has_disputes(claim: Claim) -> bool:
    return claim.disputes.exists()


class Claim(ConcurrentTransitionMixin, models.Model):
    membership = models.ForeignKey(Membership, on_delete=models.PROTECT, related_name="claims")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="claims")
    state = FSMField(
        _("state"),
        max_length=16,
        choices=ClaimState,
        default=ClaimState.SUBMITTED,
        protected=True,
        db_index=True,
    )
    # The patient is the membership's member; a dependant's claims are filed by their
    # account holder: who filed it is `submitted_by`.
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("submitted by"),
    )
    condition = models.ForeignKey(
        Condition,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="claims",
        verbose_name=_("condition"),
    )
    incident_kind = models.CharField(_("incident kind"), max_length=16, choices=IncidentKind)
    incident_date = models.DateField(_("incident date"))
    # An accident's time of day (Shanghai): needed when it happened on the joining day.
    incident_time = models.TimeField(_("incident time"), null=True, blank=True)
    diagnosis_date = models.DateField(_("diagnosis date"))
    diagnosis = models.CharField(_("diagnosis"), max_length=200)
    hospital = models.CharField(_("hospital"), max_length=200)
    cover_fen = models.BigIntegerField(
        _("cover (fen)"),
        help_text=_(
            "What the claim can pay: the plan's band for the patient's age on the day of the "
            "event, or less if the condition pays less."
        ),
    )
    amount_requested_fen = models.BigIntegerField(_("amount requested (fen)"))
    amount_approved_fen = models.BigIntegerField(_("amount approved (fen)"), null=True, blank=True)
    submitted_at = models.DateTimeField(_("submitted at"))
    investigator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("investigator"),
    )
    investigation_summary = models.TextField(_("investigation summary"), blank=True)
    investigation_recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    investigation_recorded_at = models.DateTimeField(null=True, blank=True)
    publicity_starts_at = models.DateTimeField(_("publicity starts"), null=True, blank=True)
    publicity_ends_at = models.DateTimeField(_("publicity ends"), null=True, blank=True)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_reason = models.TextField(_("decision reason"), blank=True)
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    # The transitions' log rows (django-fsm-log), so that a list can prefetch them (no column).
    state_log = GenericRelation(StateLog)

    class Meta:
        verbose_name = _("claim")
        verbose_name_plural = _("claims")
        ordering = ["-submitted_at"]
        permissions = [
            ("investigate_claim", "Can take or assign claims for investigation"),
            ("publicize_claim", "Can send investigated claims to publicity"),
            ("decide_claim", "Can approve or reject claims"),
            ("pay_claim", "Can mark approved claims paid"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount_requested_fen__gt=0)
                & Q(amount_requested_fen__lte=models.F("cover_fen")),
                name="claim_request_within_cover",
            ),
            models.CheckConstraint(
                condition=Q(amount_approved_fen__isnull=True)
                | (
                    Q(amount_approved_fen__gt=0) & Q(amount_approved_fen__lte=models.F("cover_fen"))
                ),
                name="claim_approval_within_cover",
            ),
            models.CheckConstraint(
                condition=Q(incident_date__lte=models.F("diagnosis_date")),
                name="claim_incident_before_diagnosis",
            ),
        ]
        indexes = [
            models.Index(fields=["state", "publicity_ends_at"], name="claim_due_windows"),
            models.Index(fields=["plan", "state"], name="claim_plan_state"),
        ]

    def __str__(self) -> str:
        return f"Claim {self.pk}"

    @fsm_log_by
    @fsm_log_description
    @transition(
        field=state,
        source=ClaimState.SUBMITTED,
        target=ClaimState.INVESTIGATING,
        permission=_can_investigate,
    )
    def start_investigation(self, *, investigator, now, by=None, description=None) -> None:
        self.investigator = investigator

    @fsm_log_by
    @fsm_log_description
    @transition(
        field=state,
        source=ClaimState.SUBMITTED,
        target=ClaimState.WITHDRAWN,
        permission=_is_claimant,
    )
    def withdraw(self, *, now, by=None, description=None) -> None:
        self.decided_at = now

    @fsm_log_by
    @fsm_log_description
    @transition(
        field=state,
        source=ClaimState.INVESTIGATING,
        target=ClaimState.PUBLICIZED,
        conditions=[_investigation_recorded],
        permission=_can_publicize,
    )
    def publicize(self, *, now, starts_at, ends_at, amount_fen, by=None, description=None) -> None:
        self.publicity_starts_at = starts_at
        self.publicity_ends_at = ends_at
        self.amount_approved_fen = amount_fen

    @fsm_log_by
    @fsm_log_description
    @transition(
        field=state,
        source=ClaimState.PUBLICIZED,
        target=ClaimState.DISPUTED,
        conditions=[_has_disputes],
        permission=_can_decide,
    )
    def open_dispute_review(self, *, now, by=None, description=None) -> None:
        pass

    @fsm_log_by
    @fsm_log_description
    @transition(
        field=state,
        source=[ClaimState.PUBLICIZED, ClaimState.DISPUTED],
        target=ClaimState.APPROVED,
        conditions=[_undisputed_or_under_review],
        permission=_can_decide,
    )
    def approve(self, *, now, reason="", by=None, description=None) -> None:
        self.decided_at = now
        self.decision_reason = reason

    @fsm_log_by
    @fsm_log_description
    @transition(
        field=state,
        source=[ClaimState.INVESTIGATING, ClaimState.DISPUTED],
        target=ClaimState.REJECTED,
        permission=_can_decide,
    )
    def reject(self, *, now, reason, by=None, description=None) -> None:
        self.decided_at = now
        self.decision_reason = reason

    @fsm_log_by
    @fsm_log_description
    @transition(
        field=state, source=ClaimState.APPROVED, target=ClaimState.PAID, permission=_can_pay
    )
    def mark_paid(self, *, now, by=None, description=None) -> None:
        self.paid_at = now


class EvidenceKind(models.TextChoices):
    MEDICAL_CERTIFICATE = "medical_certificate", _("medical certificate")
    DISCHARGE_SUMMARY = "discharge_summary", _("discharge summary")
    SURGICAL_RECORD = "surgical_record", _("surgical record")
    INVESTIGATION_REPORT = "investigation_report", _("investigation report")
    OTHER = "other", _("other")


def evidence_upload_to(instance: EvidenceDocument, filename: str) -> str:
    """A random name: stored files must not be guessable from the claim or the uploader."""
    return f"evidence/{uuid.uuid4().hex}{PurePath(filename).suffix.lower()[:8]}"


GENESIS_LINK = "0" * 64


class EvidenceDocument(models.Model):
    """One link of a claim's append-only hash chain. A database trigger refuses UPDATE/DELETE."""

    claim = models.ForeignKey(Claim, on_delete=models.PROTECT, related_name="evidence")
    position = models.PositiveIntegerField(_("position in chain"))
    kind = models.CharField(_("kind"), max_length=32, choices=EvidenceKind)
    file = models.FileField(_("file"), upload_to=evidence_upload_to, max_length=200)
    content_type = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    previous_link = models.CharField(max_length=64)
    link_hash = models.CharField(_("link hash"), max_length=64, unique=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField()

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


class Dispute(models.Model):
    """A member's objection during the publicity window: one per member per claim."""

    claim = models.ForeignKey(Claim, on_delete=models.PROTECT, related_name="disputes")
    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="disputes")
    reason = models.TextField(_("reason"))
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("dispute")
        verbose_name_plural = _("disputes")
        constraints = [
            models.UniqueConstraint(fields=["claim", "member"], name="one_dispute_per_member"),
        ]

    def __str__(self) -> str:
        return f"Dispute by {self.member} on claim {self.claim_id}"


class Vote(models.TextChoices):
    APPROVE = "approve", _("approve")
    REJECT = "reject", _("reject")


class JurySeat(models.Model):
    """A randomly drawn member asked to vote on a disputed claim."""

    claim = models.ForeignKey(Claim, on_delete=models.PROTECT, related_name="jury")
    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="jury_seats")
    drawn_at = models.DateTimeField()
    vote = models.CharField(max_length=8, choices=Vote, blank=True)
    voted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("jury seat")
        verbose_name_plural = _("jury seats")
        constraints = [
            models.UniqueConstraint(fields=["claim", "member"], name="one_seat_per_member"),
        ]

    def __str__(self) -> str:
        return f"Juror {self.member_id} on claim {self.claim_id}"


class JuryDraw(models.Model):
    """A jury's commit-reveal draw (mutual/jury.py states the rule). The seed is secret until
    the claim is decided; its SHA-256 is public from the first dispute on. The eligible
    pseudonyms are kept, sorted, so that anyone can recompute the jury from the seed."""

    claim = models.OneToOneField(Claim, on_delete=models.PROTECT, related_name="jury_draw")
    seed = models.CharField(max_length=64)  # hex, 32 bytes; shown only once the claim is decided
    commitment = models.CharField(max_length=64, unique=True)
    committed_at = models.DateTimeField()
    # When the draw was last handed to the workers: beat hands out again one still not drawn
    # 15 minutes later (claims.disputes.jury_draws_resend).
    enqueued_at = models.DateTimeField(null=True, blank=True)
    drawn_at = models.DateTimeField(null=True, blank=True)
    size = models.PositiveIntegerField(default=0)
    eligible = models.BinaryField(default=b"")  # 32-byte pseudonyms, sorted
    eligible_count = models.PositiveIntegerField(default=0)
    eligible_sha256 = models.CharField(max_length=64, blank=True)
    jurors = models.JSONField(default=list)  # pseudonyms (hex), lowest rank first

    class Meta:
        verbose_name = _("jury draw")
        verbose_name_plural = _("jury draws")

    def __str__(self) -> str:
        return f"Jury draw {self.commitment[:12]} of claim {self.claim_id}"
