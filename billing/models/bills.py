"""Per-member amounts: `Bill` is a sub-ledger (one row per member per period) that the ledger
carries in one receivable control account per plan, so a posting never has millions of lines;
and the Merkle tree over a period's bills."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from billing.models.periods import ApportionmentPeriod
from members.models import Membership


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
