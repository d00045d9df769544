"""The plans' lists of covered conditions, with the dates each is in force."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from members.models import Plan

if TYPE_CHECKING:
    pass


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

    plan = models.ForeignKey(
        Plan, on_delete=models.PROTECT, related_name="conditions", verbose_name=_("plan")
    )
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
