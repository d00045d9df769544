"""Billing's admin: the ledger (read-only), bills with their lines, promotions, and a
membership's bills on its page. The periods' admin is billing/period_admin.py."""

from django.contrib import admin
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from billing.models import (
    Account,
    ApportionmentPeriod,
    Bill,
    Posting,
    PostingLine,
    Promotion,
)
from billing.period_admin import BILL_FIGURES  # also registers the periods' admin
from billing.recovery_admin import RecoveryAdmin  # noqa: F401 (registers recoveries)
from billing.selectors import bill_breakdown
from members.admin import MembershipAdmin
from members.models import Membership
from mutual.core.admin_tools import FastChangeListMixin, ReadOnlyInline, ReadOnlyMixin, yuan_column
from mutual.core.money import format_exact_fen


class ReadOnlyAdmin(ReadOnlyMixin, admin.ModelAdmin):
    pass


class PostingLineInline(ReadOnlyInline):
    model = PostingLine
    fields = ["account", "debit_fen", "credit_fen"]
    readonly_fields = fields


@admin.register(Posting)
class PostingAdmin(FastChangeListMixin, ReadOnlyAdmin):
    list_display = ["idempotency_key", "description", "posted_at", "memo"]
    list_filter = ["memo"]
    search_fields = ["=idempotency_key"]
    inlines = [PostingLineInline]


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ["plan", "role", "kind"]
    list_filter = ["plan", "role"]


class PeriodFilter(admin.SimpleListFilter):
    """The latest periods, named with their plan in one query (not one query per period)."""

    title = _("period")
    parameter_name = "period"

    def lookups(self, request, model_admin):
        periods = ApportionmentPeriod.objects.select_related("plan").order_by("-cutoff_at")[:24]
        return [(period.pk, str(period)) for period in periods]

    def queryset(self, request, queryset):
        return queryset.filter(period_id=self.value()) if self.value() else queryset


@admin.register(Bill)
class BillAdmin(FastChangeListMixin, ReadOnlyAdmin):
    list_display = [
        "period",
        "membership_id",
        "cases_count",
        "gross",
        "charged",
        "waived",
        "capped",
    ]
    list_filter = [PeriodFilter]
    search_fields = ["=membership__id"]
    list_select_related = ["period__plan"]
    fields = ["period", "membership", *BILL_FIGURES, "breakdown"]
    readonly_fields = fields

    @admin.display(description=_("by case (exact fen)"))
    def breakdown(self, bill):
        header = format_html(
            "<tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
            _("claim"), _("share"), _("waived"), _("case cap"), _("yearly cap"), _("charged"),
        )  # fmt: skip
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (line.claim_id or _("rounding"), *map(format_exact_fen, (
                    line.share_fen, line.waived_fen, line.case_capped_fen,
                    line.year_capped_fen, line.charged_fen)))
                for line in bill_breakdown(bill=bill)
            ),
        )  # fmt: skip
        return format_html("<table>{}{}</table>", header, rows)

    gross = yuan_column("gross_fen", _("gross (yuan)"), sortable=False)
    charged = yuan_column("charged_fen", _("charged (yuan)"), sortable=False)
    waived = yuan_column("waived_fen", _("waived (yuan)"), sortable=False)
    capped = yuan_column("capped_fen", _("capped (yuan)"), sortable=False)


@admin.register(Promotion)
class PromotionAdmin(admin.ModelAdmin):
    list_display = ["name", "plan", "joined_before", "cases_before"]


class BillInline(ReadOnlyInline):
    """A member's last bills, on their membership page."""

    model = Bill
    fk_name = "membership"
    fields = ["period", *BILL_FIGURES, "debit_attempts"]
    readonly_fields = fields
    ordering = ["-period_id"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("period__plan")


# A membership's page shows its bills; billing depends on members, not the other way round.
admin.site.unregister(Membership)


@admin.register(Membership)
class MembershipWithBillsAdmin(MembershipAdmin):
    inlines = [*MembershipAdmin.inlines, BillInline]
