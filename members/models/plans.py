"""Plans: separate pools with their rules as data, kept in their history, and cover by age."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.dispatch import receiver
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords
from simple_history.signals import pre_create_historical_record

from mutual.core.money import format_yuan

if TYPE_CHECKING:
    pass


def years_before(day: datetime.date, years: int) -> datetime.date:
    """The same calendar day `years` earlier; 29 February becomes 28 February."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def default_cutoff_days() -> list[int]:
    return [1, 16]


class DisputeReview(models.TextChoices):
    REVIEWER = "reviewer", _("A reviewer decides")
    JURY = "jury", _("A jury of members votes")


class RulesInForceFrom(models.Model):
    """The extra column of a plan's history rows: from when the rules it records are in force.
    `history_date` says when the change was made; `effective_at` is never later (a change may
    be entered after the moment it took effect), and never earlier than the plan's previous
    change (members.plan_rules.plan_save checks both)."""

    effective_at = models.DateTimeField(_("in force from"))

    class Meta:
        abstract = True


class Plan(models.Model):
    """A pool: its members share only its own cases. All rules are data, editable in the admin.
    Every change is kept in `history` (who, when, old and new values, in force from when):
    members.selectors.plan_rules_at reads the rules in force at a given moment."""

    code = models.SlugField(_("code"), unique=True)
    name = models.CharField(_("name"), max_length=120)
    accepting_members = models.BooleanField(_("accepting new members"), default=True)
    min_credit_score = models.PositiveSmallIntegerField(_("minimum credit score"), default=650)
    min_age_days = models.PositiveIntegerField(_("minimum age (days)"), default=30)
    min_age_years = models.PositiveSmallIntegerField(
        _("minimum age (years)"),
        default=0,
        help_text=_("0 for none; 60 for a plan of 60 to 70 year olds."),
    )
    max_age_years = models.PositiveSmallIntegerField(
        _("maximum age (years)"),
        default=59,
        help_text=_("Cover ends on the day a member turns one year older than this."),
    )
    age_successor = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("plan after the maximum age"),
        help_text=_(
            "Members who reach the maximum age move to this plan, with no new waiting period, "
            "unless they chose not to."
        ),
    )
    illness_waiting_days = models.PositiveIntegerField(
        _("illness waiting period (days)"), default=90
    )
    accident_waiting_days = models.PositiveIntegerField(
        _("accident waiting period (days)"), default=0
    )
    management_fee_bp = models.PositiveIntegerField(
        _("management fee (basis points)"),
        default=800,
        help_text=_("800 = 8 per cent of each payout"),
    )
    per_case_cap_fen = models.BigIntegerField(
        _("per-case share cap (fen)"), default=10, validators=[MinValueValidator(0)]
    )
    yearly_cap_fen = models.BigIntegerField(
        _("yearly share cap (fen)"), default=18_800, validators=[MinValueValidator(0)]
    )
    publicity_days = models.PositiveSmallIntegerField(_("publicity window (days)"), default=3)
    dispute_review = models.CharField(
        _("dispute review"), max_length=16, choices=DisputeReview, default=DisputeReview.REVIEWER
    )
    jury_size = models.PositiveSmallIntegerField(_("jury size"), default=7)
    jury_quorum = models.PositiveSmallIntegerField(_("jury quorum"), default=5)
    payment_grace_days = models.PositiveSmallIntegerField(_("payment grace (days)"), default=15)
    cutoff_days = ArrayField(
        models.PositiveSmallIntegerField(),
        verbose_name=_("period cutoff days"),
        default=default_cutoff_days,
        help_text=_(
            "Days of the month (1-28) on which a period closes at midnight, Shanghai time: "
            "1,16 is twice a month; the mutual treasure closed on the 14th and 28th."
        ),
    )
    payout_delay_days = models.PositiveSmallIntegerField(
        _("payout delay (days)"),
        default=0,
        help_text=_("Days after the cutoff when the period is billed and its claims are paid."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    # The cutoff of the plan's latest period whose sharers billing has counted (set by
    # billing.apportion.period_prepare): a membership change dated up to it takes effect just
    # after it (members.services), so the counted sharers stay the ones billed.
    billed_through = models.DateTimeField(_("billed through"), null=True, blank=True)

    history = HistoricalRecords(bases=[RulesInForceFrom], excluded_fields=["billed_through"])

    class Meta:
        verbose_name = _("plan")
        verbose_name_plural = _("plans")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(jury_quorum__lte=models.F("jury_size")), name="plan_quorum_within_jury"
            ),
            models.CheckConstraint(
                condition=Q(management_fee_bp__lte=10_000), name="plan_fee_at_most_100_percent"
            ),
            models.CheckConstraint(
                condition=Q(per_case_cap_fen__gte=0) & Q(yearly_cap_fen__gte=0),
                name="plan_caps_not_negative",
            ),
            # Days that every month has (so 1..28); Plan.clean() sorts them and refuses repeats.
            models.CheckConstraint(
                condition=Q(cutoff_days__len__gte=1)
                & Q(cutoff_days__contained_by=list(range(1, 29))),
                name="plan_cutoff_days_in_every_month",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """Cutoff days: at least one, each a day every month has (1..28), no repeats; stored
        sorted (the admin form calls this; the database constraint is the last line)."""
        super().clean()
        days = list(self.cutoff_days or [])
        if not days:
            raise ValidationError({"cutoff_days": _("Give at least one cutoff day.")})
        outside = sorted({day for day in days if not 1 <= day <= 28})
        if outside:
            raise ValidationError(
                {
                    "cutoff_days": _(
                        "Cutoff days must be between 1 and 28 (every month has them): %(days)s."
                    )
                    % {"days": ", ".join(map(str, outside))}
                }
            )
        if len(set(days)) != len(days):
            raise ValidationError({"cutoff_days": _("Each cutoff day may be given only once.")})
        self.cutoff_days = sorted(days)

    def cover_for_age(self, age_years: int) -> int | None:
        """Cover in fen for a member of this age, or None when no band covers it."""
        band = (
            self.cover_bands.filter(max_age_years__gte=age_years).order_by("max_age_years").first()
        )
        return band.cover_fen if band else None


# Plumbing, not a rule: the rule (when a change may take effect) is
# members.plan_rules.plan_effective_at_check, and plan_save hands its input over as
# `_rules_effective_at`. simple-history builds the history row inside Plan.save() and fills an
# extra column through this signal; it also gives the NOT NULL column its default for every
# other save (factories, demo, the billing bench), which go through no service.
@receiver(pre_create_historical_record, sender=Plan.history.model)
def _rules_in_force_from(sender, instance, history_instance, history_date, **kwargs) -> None:
    """A change is in force from when it is made unless plan_save was given an earlier moment."""
    history_instance.effective_at = getattr(instance, "_rules_effective_at", None) or history_date


class CoverBand(models.Model):
    """Cover by age: the band with the smallest `max_age_years` at or above the member's age."""

    plan = models.ForeignKey(
        Plan, on_delete=models.CASCADE, related_name="cover_bands", verbose_name=_("plan")
    )
    max_age_years = models.PositiveSmallIntegerField(_("up to age (years)"))
    cover_fen = models.BigIntegerField(_("cover (fen)"))
    # A money rule like the plan's own (new members' cover comes from it): who changed what.
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("cover band")
        verbose_name_plural = _("cover bands")
        ordering = ["plan", "max_age_years"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "max_age_years"], name="one_band_per_age"),
            models.CheckConstraint(condition=Q(cover_fen__gt=0), name="band_cover_positive"),
        ]

    def __str__(self) -> str:
        return f"≤{self.max_age_years}: {format_yuan(self.cover_fen)}"
