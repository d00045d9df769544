"""The double-entry ledger: accounts, postings and their lines. Posted rows are immutable
(database triggers), and every posting must balance at commit (a deferred constraint trigger)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from members.models import Plan


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
    RECOVERED = "recovered", _("recovered payouts owed to members")


ROLE_KINDS = {
    AccountRole.RECEIVABLE: AccountKind.ASSET,
    AccountRole.SPONSOR: AccountKind.EXPENSE,
    AccountRole.FUND: AccountKind.LIABILITY,
    AccountRole.FEE_INCOME: AccountKind.INCOME,
    AccountRole.PAYABLE: AccountKind.LIABILITY,
    AccountRole.CLEARING: AccountKind.CLEARING,
    AccountRole.CASH: AccountKind.ASSET,
    AccountRole.RECOVERED: AccountKind.LIABILITY,
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
