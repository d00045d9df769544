"""Double-entry ledger and apportionment periods.

Per-member amounts live in `Bill` (a sub-ledger: one row per member per period); the ledger
carries them in one receivable control account per plan, so a posting never has millions of
lines. Posted rows are immutable (database triggers), and every posting must balance at commit
(a deferred constraint trigger)."""

from __future__ import annotations

import datetime

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from billing import rules
from claims.models import Claim
from members.models import Membership, Plan
from mutual.core.timezones import local_date


class AccountKind(models.TextChoices):
    ASSET = "asset", _("asset")
    LIABILITY = "liability", _("liability")
    INCOME = "income", _("income")
    EXPENSE = "expense", _("expense")
    CLEARING = "clearing", _("clearing")


class AccountRole(models.TextChoices):
    RECEIVABLE = "receivable", _("members' receivable")
    SPONSOR = "sponsor", _("sponsor cover")
    FUND = "fund", _("mutual-aid fund")
    FEE_INCOME = "fee_income", _("management fee income")
    PAYABLE = "payable", _("claim payables")
    CLEARING = "clearing", _("apportionment clearing")
    CASH = "cash", _("cash at the payment gateway")


ROLE_KINDS = {
    AccountRole.RECEIVABLE: AccountKind.ASSET,
    AccountRole.SPONSOR: AccountKind.EXPENSE,
    AccountRole.FUND: AccountKind.LIABILITY,
    AccountRole.FEE_INCOME: AccountKind.INCOME,
    AccountRole.PAYABLE: AccountKind.LIABILITY,
    AccountRole.CLEARING: AccountKind.CLEARING,
    AccountRole.CASH: AccountKind.ASSET,
}


class Account(models.Model):
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="accounts")
    role = models.CharField(_("role"), max_length=16, choices=AccountRole)
    kind = models.CharField(_("kind"), max_length=16, choices=AccountKind)

    class Meta:
        verbose_name = _("ledger account")
        verbose_name_plural = _("ledger accounts")
        constraints = [
            models.UniqueConstraint(fields=["plan", "role"], name="one_account_per_role")
        ]

    def __str__(self) -> str:
        return f"{self.plan.code}:{self.role}"


class Posting(models.Model):
    idempotency_key = models.CharField(_("idempotency key"), max_length=120, unique=True)
    description = models.CharField(_("description"), max_length=200)
    posted_at = models.DateTimeField(_("posted at"))
    # A record with no money lines, kept in the same append-only ledger: a period's Merkle
    # root (billing.ledger.ledger_record).
    memo = models.BooleanField(_("memo"), default=False)

    class Meta:
        verbose_name = _("posting")
        verbose_name_plural = _("postings")
        ordering = ["-posted_at", "-id"]

    def __str__(self) -> str:
        return self.idempotency_key


class PostingLine(models.Model):
    posting = models.ForeignKey(Posting, on_delete=models.PROTECT, related_name="lines")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="lines")
    debit_fen = models.BigIntegerField(default=0)
    credit_fen = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("posting line")
        verbose_name_plural = _("posting lines")
        constraints = [
            models.CheckConstraint(
                condition=(Q(debit_fen__gt=0) & Q(credit_fen=0))
                | (Q(debit_fen=0) & Q(credit_fen__gt=0)),
                name="line_is_one_sided_and_positive",
            )
        ]

    def __str__(self) -> str:
        return f"{self.account}: Dr {self.debit_fen} Cr {self.credit_fen}"


class Promotion(models.Model):
    """Members who joined before `joined_before` pay nothing for cases publicized before
    `cases_before`; the sponsor covers it (the seed: 2018-12-31 and 2019-01-31)."""

    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="promotions")
    name = models.CharField(max_length=120)
    joined_before = models.DateTimeField()
    cases_before = models.DateTimeField()

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
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="periods")
    starts_at = models.DateTimeField(_("gathers claims approved from"))
    cutoff_at = models.DateTimeField(
        _("cutoff"),
        help_text=_(
            "Cases approved before it are billed, to the members covered at each case's notice."
        ),
    )
    status = models.CharField(max_length=16, choices=PeriodStatus, default=PeriodStatus.OPEN)
    cases_total_fen = models.BigIntegerField(default=0)
    fee_total_fen = models.BigIntegerField(default=0)
    members_count = models.BigIntegerField(default=0)
    charged_fen = models.BigIntegerField(default=0)
    sponsor_fen = models.BigIntegerField(default=0)
    chunks_total = models.PositiveIntegerField(default=0)
    max_charged_fen = models.BigIntegerField(
        default=0, help_text=_("The largest charge to one member (bounds the yearly cap check).")
    )
    posted_at = models.DateTimeField(null=True, blank=True)
    enqueued_at = models.DateTimeField(
        null=True, blank=True, help_text=_("When a run was last handed to the workers.")
    )
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
    )
    # The plan's money rules as they stood when the period was prepared: every chunk, a retry
    # and every later breakdown of its bills use these, whatever the plan says afterwards.
    management_fee_bp = models.PositiveIntegerField(null=True, blank=True)
    per_case_cap_fen = models.BigIntegerField(null=True, blank=True)
    yearly_cap_fen = models.BigIntegerField(null=True, blank=True)
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
        return f"{self.plan.code} to {local_date(self.cutoff_at):%Y-%m-%d}"

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
        return self.cases_total_fen + self.fee_total_fen

    def rule_cases(self) -> list[rules.Case]:
        """The period's cases as billing/rules/ reads them, in notice order."""
        return [c.rule_case() for c in self.cases.order_by("publicized_at", "claim_id")]


class PeriodCase(models.Model):
    """An approved claim in a period: each of its `members_count` sharers owes exactly
    (amount + fee) / members_count fen (`base_share_fen` is that, rounded down, for display)."""

    period = models.ForeignKey(ApportionmentPeriod, on_delete=models.PROTECT, related_name="cases")
    claim = models.OneToOneField(Claim, on_delete=models.PROTECT, related_name="period_case")
    publicized_at = models.DateTimeField()
    amount_fen = models.BigIntegerField()
    fee_fen = models.BigIntegerField()
    members_count = models.BigIntegerField(default=0)
    base_share_fen = models.BigIntegerField(default=0)
    waive_if_joined_before = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("case in period")
        verbose_name_plural = _("cases in period")
        ordering = ["period", "claim_id"]

    def __str__(self) -> str:
        return f"claim {self.claim_id} in {self.period}"

    def rule_case(self) -> rules.Case:
        """The case as billing/rules/ reads it."""
        return rules.Case(
            self.claim_id, self.publicized_at, self.amount_fen, self.fee_fen,
            self.waive_if_joined_before,
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
    joined_before = models.DateTimeField(null=True, blank=True)
    members_count = models.BigIntegerField()
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
    charged_fen = models.BigIntegerField(default=0)
    max_charged_fen = models.BigIntegerField(default=0)
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


class Bill(models.Model):
    """One member's charge for one period. gross = charged + sponsor-covered (waived + capped)."""

    id = models.BigAutoField(primary_key=True)
    # No database FKs or FK indexes: ten million inserts a period pay for every index. The one
    # unique index (membership, period) serves a member's bills and the year-to-date lookup; it
    # carries the two figures that lookup reads, so the next period never visits the table.
    period = models.ForeignKey(
        ApportionmentPeriod,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="bills",
    )
    membership = models.ForeignKey(
        Membership,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="bills",
    )
    cases_count = models.PositiveIntegerField()
    gross_fen = models.BigIntegerField()
    waived_fen = models.BigIntegerField()
    capped_fen = models.BigIntegerField()
    charged_fen = models.BigIntegerField()
    # NULL: the yearly cap could not bind this period, so the year-to-date was not looked up.
    year_to_date_before_fen = models.BigIntegerField(null=True, blank=True)
    # Collections; database defaults, so the set-based INSERT need not name them.
    paid_at = models.DateTimeField(null=True, blank=True)
    debit_attempts = models.PositiveSmallIntegerField(db_default=0)
    next_debit_at = models.DateTimeField(null=True, blank=True)
    last_debit_error = models.CharField(max_length=200, db_default="", blank=True)
    # Unpaid past the grace, of a membership no longer live: borne by the sponsor
    # (billing.debits.bills_write_off), never debited again.
    written_off_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("bill")
        verbose_name_plural = _("bills")
        constraints = [
            models.UniqueConstraint(
                fields=["membership", "period"],
                include=["year_to_date_before_fen", "charged_fen"],
                name="one_bill_per_member",
            ),
            models.CheckConstraint(
                condition=Q(
                    gross_fen=models.F("charged_fen")
                    + models.F("waived_fen")
                    + models.F("capped_fen")
                ),
                name="bill_adds_up",
            ),
        ]

    def __str__(self) -> str:
        return f"bill {self.membership_id} / {self.period_id}"


class TreeNode(models.Model):
    """A perfect subtree of a period's Merkle tree, 2**level leaves from leaf index << level.
    Only levels from billing.tree.KEPT_LEVEL up are stored (two per 256 bills): a proof reads
    them and rehashes at most two blocks of 256 bills."""

    period = models.ForeignKey(ApportionmentPeriod, on_delete=models.PROTECT, related_name="+")
    level = models.PositiveSmallIntegerField()
    index = models.BigIntegerField()
    digest = models.BinaryField(max_length=32)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["period", "level", "index"], name="one_tree_node")
        ]

    def __str__(self) -> str:
        return f"node {self.level}/{self.index} of period {self.period_id}"


class TreeBlock(models.Model):
    """Where each block of 256 leaves starts: the membership id of its first bill."""

    period = models.ForeignKey(ApportionmentPeriod, on_delete=models.PROTECT, related_name="+")
    index = models.BigIntegerField()
    first_membership_id = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["period", "index"], name="one_tree_block"),
            models.UniqueConstraint(
                fields=["period", "first_membership_id"], name="tree_block_by_membership"
            ),
        ]

    def __str__(self) -> str:
        return f"block {self.index} of period {self.period_id}"
