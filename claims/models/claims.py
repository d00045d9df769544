"""A claim and its states: transitions only change fields; the workflows (locks, checks, side
records) live in claims/services.py."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.contenttypes.fields import GenericRelation
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition
from django_fsm_log.decorators import fsm_log_by, fsm_log_description
from django_fsm_log.models import StateLog

from members.models import Membership, Plan
from mutual.core.personal_data import EncryptedCharField, EncryptedTextField

if TYPE_CHECKING:
    from django.contrib.auth.models import User

from claims.models.conditions import Condition


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
    return claim.state == ClaimState.DISPUTED or not claim.round_disputes().exists()


def _has_disputes(claim: Claim) -> bool:
    return claim.round_disputes().exists()


def _can_reopen(claim: Claim, user) -> bool:
    return user.has_perm("claims.reopen_claim")


def _only_the_system(claim: Claim, user) -> bool:
    return False  # a claimant's appeal on a jury plan moves the claim; no staff member does


class Claim(ConcurrentTransitionMixin, models.Model):
    membership = models.ForeignKey(
        Membership, on_delete=models.PROTECT, related_name="claims", verbose_name=_("membership")
    )
    plan = models.ForeignKey(
        Plan, on_delete=models.PROTECT, related_name="claims", verbose_name=_("plan")
    )
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
    diagnosis = EncryptedCharField(_("diagnosis"), max_length=200)  # encrypted at rest
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
    investigation_summary = EncryptedTextField(_("investigation summary"), blank=True)
    # Past its retention the medical text and evidence files are erased (claims/retention.py).
    medical_erased_at = models.DateTimeField(_("medical records erased at"), null=True, blank=True)
    investigation_recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("investigation recorded by"),
    )
    investigation_recorded_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("investigation recorded at")
    )
    publicity_starts_at = models.DateTimeField(_("publicity starts"), null=True, blank=True)
    publicity_ends_at = models.DateTimeField(_("publicity ends"), null=True, blank=True)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_reason = models.TextField(_("decision reason"), blank=True)
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    # The desk: the code from the reasons catalogue of the last refusal, withdrawal or
    # reopening; how many times the claim was reopened; the clock of the current state
    # (claims/clock.py): when it was entered, when it is due, and its pauses while the claim
    # waits on the claimant.
    reason = models.ForeignKey(
        "claims.Reason",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("reason code"),
    )
    reopened = models.PositiveSmallIntegerField(_("times reopened"), default=0)
    state_since = models.DateTimeField(_("in this state since"), null=True, blank=True)
    due_at = models.DateTimeField(_("due"), null=True, blank=True)
    paused_at = models.DateTimeField(_("waiting on the claimant since"), null=True, blank=True)
    paused_seconds = models.PositiveIntegerField(_("seconds paused in this state"), default=0)
    # The fraud signals' total weight (claims/fraud.py), and a hold for the audit sample.
    risk_score = models.PositiveSmallIntegerField(_("risk score"), default=0)
    audit_held = models.BooleanField(_("held for the audit sample"), default=False)
    appeal_pending = models.BooleanField(_("an appeal waits for a decision"), default=False)
    overdue_told_at = models.DateTimeField(_("supervisors told it is late"), null=True, blank=True)
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
            ("assign_claim", "Can reassign claims and see everyone's load (supervisor)"),
            ("reopen_claim", "Can reopen a closed claim"),
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
            # The desks: my work and the overdue list, most urgent first.
            models.Index(
                fields=["investigator", "due_at"],
                name="claim_desk_mine",
                condition=Q(state__in=["submitted", "investigating"]),
            ),
            models.Index(
                fields=["risk_score"], name="claim_desk_risky", condition=Q(risk_score__gt=0)
            ),
            models.Index(
                fields=["decided_at"], name="claim_desk_appeals", condition=Q(appeal_pending=True)
            ),
            models.Index(
                fields=["paused_at"],
                name="claim_desk_waiting",
                condition=Q(paused_at__isnull=False),
            ),
            # The newest first (the list's order) and the submitted filter.
            models.Index(fields=["submitted_at"], name="claim_submitted_at"),
            # Decisions by time: the desk's 30-day figures and the firms' fees.
            models.Index(
                fields=["decided_at"],
                name="claim_decided_at",
                condition=Q(decided_at__isnull=False),
            ),
            models.Index(
                fields=["publicity_ends_at"], name="claim_desk_audit", condition=Q(audit_held=True)
            ),
            models.Index(
                fields=["due_at"],
                name="claim_desk_due",
                condition=Q(due_at__isnull=False, paused_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return gettext("Claim %(number)s") % {"number": self.pk}

    def round_disputes(self):
        """The disputes of the claim's current round of publicity (a reopened claim is
        publicized afresh: the earlier rounds' disputes are kept, but decided)."""
        return self.disputes.filter(round=self.reopened)

    def round_jury(self):
        """The jury seats of the current round of publicity."""
        return self.jury.filter(round=self.reopened)

    @fsm_log_by
    @fsm_log_description
    @transition(
        field=state,
        source=ClaimState.SUBMITTED,
        target=ClaimState.INVESTIGATING,
        permission=_can_investigate,
    )
    def start_investigation(
        self, *, investigator, now, by: User | None = None, description=None
    ) -> None:
        self.investigator = investigator

    @fsm_log_by
    @fsm_log_description
    @transition(
        field=state,
        source=ClaimState.SUBMITTED,
        target=ClaimState.WITHDRAWN,
        permission=_is_claimant,
    )
    def withdraw(self, *, now, code=None, by: User | None = None, description=None) -> None:
        self.decided_at = now
        self.reason = code

    @fsm_log_by
    @fsm_log_description
    @transition(
        field=state,
        source=ClaimState.INVESTIGATING,
        target=ClaimState.PUBLICIZED,
        conditions=[_investigation_recorded],
        permission=_can_publicize,
    )
    def publicize(
        self, *, now, starts_at, ends_at, amount_fen, by: User | None = None, description=None
    ) -> None:
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
    def open_dispute_review(self, *, now, by: User | None = None, description=None) -> None:
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
    def approve(self, *, now, reason="", by: User | None = None, description=None) -> None:
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
    def reject(self, *, now, reason, code=None, by: User | None = None, description=None) -> None:
        self.decided_at = now
        self.decision_reason = reason
        self.reason = code

    @fsm_log_by
    @fsm_log_description
    @transition(
        field=state, source=ClaimState.APPROVED, target=ClaimState.PAID, permission=_can_pay
    )
    def mark_paid(self, *, now, by: User | None = None, description=None) -> None:
        self.paid_at = now

    @fsm_log_by
    @fsm_log_description
    @transition(
        field=state,
        source=[ClaimState.REJECTED, ClaimState.WITHDRAWN],
        target=ClaimState.INVESTIGATING,
        permission=_can_reopen,
    )
    def reopen(self, *, now, reason, by: User | None = None, description=None) -> None:
        self.reason = reason
        self.reopened += 1
        self.appeal_pending = False
        self.decided_at = None
        self.decision_reason = ""

    @fsm_log_by
    @fsm_log_description
    @transition(
        field=state,
        source=ClaimState.REJECTED,
        target=ClaimState.DISPUTED,
        permission=_only_the_system,
    )
    def appeal_to_jury(self, *, now, by: User | None = None, description=None) -> None:
        """A jury plan's claimant appealed: a new round, judged by a jury of members drawn
        afresh (claims/review.py)."""
        self.reopened += 1
        self.appeal_pending = False
        self.decided_at = None
        self.reason = None  # the refusal is under appeal: its jury gives the next reason

    @fsm_log_by
    @fsm_log_description
    @transition(
        field=state,
        source=ClaimState.PUBLICIZED,
        target=ClaimState.DISPUTED,
        permission=_can_decide,
    )
    def audit_review(self, *, now, by: User | None = None, description=None) -> None:
        """The audit sample's second look found a problem: reviewed as a disputed claim."""
