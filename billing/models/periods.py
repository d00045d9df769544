"""Apportionment periods: the promotions they apply, their cases, the cohorts of members who
share them, and the chunks the workers take."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from billing import rules
from claims.models import Claim
from members.models import Plan
from mutual.core.timezones import local_date


class Promotion(models.Model):
    """Members who joined before `joined_before` pay nothing for cases publicized before
    `cases_before`; the sponsor covers it (the seed: 2018-12-31 and 2019-01-31)."""

    plan = models.ForeignKey(
        Plan, on_delete=models.PROTECT, related_name="promotions", verbose_name=_("plan")
    )
    name = models.CharField(max_length=120, verbose_name=_("name"))
    joined_before = models.DateTimeField(verbose_name=_("joined before"))
    cases_before = models.DateTimeField(verbose_name=_("cases before"))

    class Meta:
        verbose_name = _("promotion")
        verbose_name_plural = _("promotions")

    def __str__(self) -> str:
        return self.name


class PeriodStatus(models.TextChoices):
    OPEN = "open", _("open")
    RUNNING = "running", _("running")
    POSTED = "posted", _("posted")
    PAID = "paid", _("paid")
    FAILED = "failed", _("failed")


FINISHED = (PeriodStatus.POSTED, PeriodStatus.PAID)


class ApportionmentPeriod(models.Model):
    plan = models.ForeignKey(
        Plan, on_delete=models.PROTECT, related_name="periods", verbose_name=_("plan")
    )
    starts_at = models.DateTimeField(_("gathers claims approved from"))
    cutoff_at = models.DateTimeField(
        _("cutoff"),
        help_text=_(
            "Cases approved before it are billed, to the members covered at each case's notice."
        ),
    )
    status = models.CharField(
        _("status"), max_length=16, choices=PeriodStatus, default=PeriodStatus.OPEN
    )
    cases_total_fen = models.BigIntegerField(default=0, verbose_name=_("payouts (fen)"))
    fee_total_fen = models.BigIntegerField(default=0, verbose_name=_("fees (fen)"))
    # Money recovered from claims paid earlier (billing/recoveries.py), spent on this period's
    # cases when it was prepared: its sharers owe that much less (rules.recovery_split).
    recovered_fen = models.BigIntegerField(_("recovered payouts spent"), default=0)
    members_count = models.BigIntegerField(default=0, verbose_name=_("members billed"))
    charged_fen = models.BigIntegerField(default=0, verbose_name=_("charged to members (fen)"))
    sponsor_fen = models.BigIntegerField(default=0, verbose_name=_("covered by the sponsor (fen)"))
    chunks_total = models.PositiveIntegerField(default=0, verbose_name=_("chunks"))
    max_charged_fen = models.BigIntegerField(
        default=0,
        help_text=_("The largest charge to one member (bounds the yearly cap check)."),
        verbose_name=_("largest charge (fen)"),
    )
    posted_at = models.DateTimeField(null=True, blank=True, verbose_name=_("posted at"))
    enqueued_at = models.DateTimeField(
        _("handed to the workers at"),
        null=True,
        blank=True,
        help_text=_("When a run was last handed to the workers."),
    )
    # Who handed the period to the workers (None: the schedule), and who last retried it. Kept
    # for the audit: a staff user who ran a period cannot be deleted, only deactivated.
    enqueued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("enqueued by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("Empty: the schedule handed it to the workers."),
    )
    retried_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("last retried by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    retried_at = models.DateTimeField(_("last retried at"), null=True, blank=True)
    retries = models.PositiveIntegerField(_("retries"), default=0)
    runs_at = models.DateTimeField(
        _("runs and pays at"), help_text=_("The cutoff plus the plan's payout delay.")
    )
    previous_period = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("The earlier period of the same year whose bills carry the year to date."),
        verbose_name=_("previous period"),
    )
    # The plan's money rules as they stood when the period was prepared: every chunk, a retry
    # and every later breakdown of its bills use these, whatever the plan says afterwards.
    management_fee_bp = models.PositiveIntegerField(
        null=True, blank=True, verbose_name=_("management fee (basis points)")
    )
    per_case_cap_fen = models.BigIntegerField(
        null=True, blank=True, verbose_name=_("per-case cap (fen)")
    )
    yearly_cap_fen = models.BigIntegerField(
        null=True, blank=True, verbose_name=_("yearly cap (fen)")
    )
    failed_at = models.DateTimeField(_("failed at"), null=True, blank=True)
    failure = models.TextField(_("failure"), blank=True, default="")
    # The Merkle tree over the period's bills (billing/tree.py), fixed when it is posted: its
    # size, its root, and the signed head that chains it to the plan's previous period.
    merkle_size = models.BigIntegerField(null=True, blank=True)
    merkle_root = models.CharField(_("Merkle root"), max_length=64, blank=True, default="")
    merkle_head = models.JSONField(null=True, blank=True)
    # When the bills were told to members: at the seal (before the seal existed, at the
    # posting). Collection and the payment grace count from it (billing/debits.py).
    bills_told_at = models.DateTimeField(_("bills told at"), null=True, blank=True)

    class Meta:
        verbose_name = _("apportionment period")
        verbose_name_plural = _("apportionment periods")
        ordering = ["-cutoff_at"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "cutoff_at"], name="one_period_per_cutoff"),
            models.CheckConstraint(
                condition=Q(starts_at__lt=models.F("cutoff_at")), name="period_starts_before_cutoff"
            ),
        ]

    def __str__(self) -> str:
        return gettext("%(plan)s to %(cutoff)s") % {
            "plan": self.plan.code, "cutoff": f"{local_date(self.cutoff_at):%Y-%m-%d}",
        }  # fmt: skip

    def save(self, *args, **kwargs):
        if self.runs_at is None and self.cutoff_at is not None:
            self.runs_at = self.cutoff_at + datetime.timedelta(days=self.plan.payout_delay_days)
        super().save(*args, **kwargs)

    @property
    def chunks_done(self) -> int:
        """Counted, not stored: a shared counter would make every chunk's commit wait in line."""
        return self.chunks.filter(done_at__isnull=False).count()

    @property
    def total_fen(self) -> int:
        """What the members share: the cases and fees, less the recovered money spent."""
        return self.cases_total_fen + self.fee_total_fen - self.recovered_fen

    def rule_cases(self) -> list[rules.Case]:
        """The period's cases as billing/rules/ reads them, in notice order."""
        return [c.rule_case() for c in self.cases.order_by("publicized_at", "claim_id")]


class PeriodCase(models.Model):
    """An approved claim in a period: each of its `members_count` sharers owes exactly
    (amount + fee - recovered) / members_count fen (`base_share_fen` is that, rounded down,
    for display)."""

    period = models.ForeignKey(ApportionmentPeriod, on_delete=models.PROTECT, related_name="cases")
    claim = models.OneToOneField(Claim, on_delete=models.PROTECT, related_name="period_case")
    publicized_at = models.DateTimeField()
    amount_fen = models.BigIntegerField()
    fee_fen = models.BigIntegerField()
    members_count = models.BigIntegerField(default=0, verbose_name=_("sharers"))
    base_share_fen = models.BigIntegerField(default=0)
    waive_if_joined_before = models.DateTimeField(null=True, blank=True)
    recovered_fen = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("case in period")
        verbose_name_plural = _("cases in period")
        ordering = ["period", "claim_id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(recovered_fen__gte=0)
                & Q(recovered_fen__lte=models.F("amount_fen") + models.F("fee_fen")),
                name="case_recovered_within_its_total",
            )
        ]

    def __str__(self) -> str:
        return f"claim {self.claim_id} in {self.period}"

    def rule_case(self) -> rules.Case:
        """The case as billing/rules/ reads it."""
        return rules.Case(
            self.claim_id, self.publicized_at, self.amount_fen, self.fee_fen,
            self.waive_if_joined_before, self.recovered_fen,
        )  # fmt: skip


class PeriodCohort(models.Model):
    """Members who share exactly the same cases with the same waivers: those who entered the
    pool in [`in_pool_from`, `in_pool_before`), whose cover ended in (`ended_after`,
    `ended_by`] (both empty: still covered at the period's last notice), and joined in
    [`joined_from`, `joined_before`). Each member of a cohort owes the same exact amounts; the
    bases are those rounded down, and the chunks' `extras` say how many of its members pay one
    fen more (see billing/rules/)."""

    period = models.ForeignKey(
        ApportionmentPeriod, on_delete=models.PROTECT, related_name="cohorts"
    )
    index = models.PositiveIntegerField(help_text=_("cases skipped x waiver classes + class"))
    in_pool_from = models.DateTimeField(null=True, blank=True)
    in_pool_before = models.DateTimeField(null=True, blank=True)
    ended_after = models.DateTimeField(null=True, blank=True)
    ended_by = models.DateTimeField(null=True, blank=True)
    # A cohort whose cover ended during the notices: its key (rules.Calendar.exits).
    exit_key = models.BigIntegerField(null=True, blank=True)
    joined_from = models.DateTimeField(null=True, blank=True)
    joined_before = models.DateTimeField(null=True, blank=True, verbose_name=_("joined before"))
    members_count = models.BigIntegerField(verbose_name=_("members"))
    cases_count = models.PositiveIntegerField()
    gross_base_fen = models.BigIntegerField()
    net_base_fen = models.BigIntegerField(help_text=_("gross less waived"))
    payable_base_fen = models.BigIntegerField(help_text=_("net less the per-case cap"))
    # The exact shares, to a millionth of a fen, for reports (the bills use the exact fractions).
    gross_share_fen = models.DecimalField(max_digits=30, decimal_places=6)
    payable_share_fen = models.DecimalField(max_digits=30, decimal_places=6)

    class Meta:
        verbose_name = _("cohort in period")
        verbose_name_plural = _("cohorts in period")
        ordering = ["period", "index"]
        constraints = [models.UniqueConstraint(fields=["period", "index"], name="one_cohort_index")]

    def __str__(self) -> str:
        return f"cohort {self.index} of period {self.period_id}"


class PeriodChunk(models.Model):
    """A membership id range that one Celery task apportions; `done_at` makes re-runs skip it."""

    period = models.ForeignKey(ApportionmentPeriod, on_delete=models.PROTECT, related_name="chunks")
    index = models.PositiveIntegerField()
    first_id = models.BigIntegerField()
    last_id = models.BigIntegerField()
    done_at = models.DateTimeField(null=True, blank=True)
    members_count = models.BigIntegerField(default=0)
    gross_fen = models.BigIntegerField(default=0)
    charged_fen = models.BigIntegerField(default=0, verbose_name=_("charged to members (fen)"))
    max_charged_fen = models.BigIntegerField(default=0, verbose_name=_("largest charge (fen)"))
    # [[cohort index, extra gross, extra net, extra payable, members before], ...]: how many of
    # the cohort's members in this chunk (those with the lowest draw keys) pay one fen more, and
    # how many of the chunk's members are in lower cohorts (where the cohort starts in the
    # chunk's draw order).
    extras = models.JSONField(default=list)
    # The chunk's bills as a compact range of the period's Merkle tree (billing/tree.py).
    tree_done_at = models.DateTimeField(null=True, blank=True)
    tree_range = models.JSONField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["period", "index"], name="one_chunk_index")]

    def __str__(self) -> str:
        return f"chunk {self.index} of period {self.period_id}"
