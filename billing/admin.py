from django.contrib import admin, messages
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from billing import tasks
from billing.models import Account, ApportionmentPeriod, Bill, Posting, PostingLine, Promotion
from mutual.admin_tools import FastChangeListMixin
from mutual.money import format_yuan


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class PostingLineInline(admin.TabularInline):
    model = PostingLine
    fields = ["account", "debit_fen", "credit_fen"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Posting)
class PostingAdmin(FastChangeListMixin, ReadOnlyAdmin):
    list_display = ["idempotency_key", "description", "posted_at"]
    search_fields = ["=idempotency_key"]
    inlines = [PostingLineInline]


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ["plan", "role", "kind"]
    list_filter = ["plan", "role"]


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
    list_filter = ["period"]
    search_fields = ["=membership__id"]

    @admin.display(description=_("gross (yuan)"))
    def gross(self, bill):
        return format_yuan(bill.gross_fen)

    @admin.display(description=_("charged (yuan)"))
    def charged(self, bill):
        return format_yuan(bill.charged_fen)

    @admin.display(description=_("waived (yuan)"))
    def waived(self, bill):
        return format_yuan(bill.waived_fen)

    @admin.display(description=_("capped (yuan)"))
    def capped(self, bill):
        return format_yuan(bill.capped_fen)


@admin.register(Promotion)
class PromotionAdmin(admin.ModelAdmin):
    list_display = ["name", "plan", "joined_before", "cases_before"]


@admin.register(ApportionmentPeriod)
class PeriodAdmin(admin.ModelAdmin):
    list_display = ["__str__", "status", "progress", "total", "charged", "sponsor", "members_count"]
    list_filter = ["plan", "status"]
    readonly_fields = [
        "status",
        "cases_total_fen",
        "fee_total_fen",
        "members_count",
        "charged_fen",
        "sponsor_fen",
        "chunks_total",
        "chunks_done",
        "posted_at",
    ]
    actions = ["run_selected"]

    @admin.display(description=_("progress"))
    def progress(self, period):
        if not period.chunks_total:
            return "—"
        return f"{period.chunks_done}/{period.chunks_total}"

    @admin.display(description=_("total (yuan)"))
    def total(self, period):
        return format_yuan(period.total_fen)

    @admin.display(description=_("members (yuan)"))
    def charged(self, period):
        return format_yuan(period.charged_fen)

    @admin.display(description=_("sponsor (yuan)"))
    def sponsor(self, period):
        return format_yuan(period.sponsor_fen)

    @admin.action(description=_("Run selected periods (Celery)"), permissions=["change"])
    def run_selected(self, request, queryset):
        for period_id in queryset.values_list("pk", flat=True):
            transaction.on_commit(lambda pid=period_id: tasks.run_period.delay(pid))
        self.message_user(request, _("Queued."), messages.SUCCESS)
