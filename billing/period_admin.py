"""The periods' admin: the list with each run's progress, a period's page with its cohorts and
reconciliation, and its buttons (run, retry, preview, the bills' CSV), each one service call."""

import csv
import datetime
import itertools
from functools import partial

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.forms.models import BaseInlineFormSet
from django.http import Http404, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from billing import apportion, services
from billing.models import (
    FINISHED,
    ApportionmentPeriod,
    Bill,
    PeriodChunk,
    PeriodCohort,
    PeriodStatus,
)
from billing.whatif_admin import what_if_view
from mutual.core.admin_tools import ReadOnlyInline, yuan_column
from mutual.core.errors import ServiceError
from mutual.core.money import format_exact_yuan, format_yuan

# A bill's own figures, as the bill page shows them and the CSV export writes them.
BILL_FIGURES = [
    "cases_count",
    "gross_fen",
    "waived_fen",
    "capped_fen",
    "charged_fen",
    "year_to_date_before_fen",
    "paid_at",
]


class FirstRowsFormSet(BaseInlineFormSet):
    """Only the first `max_rows` related rows: a period can have thousands of cohorts."""

    max_rows = 50

    def get_queryset(self):
        if not hasattr(self, "_queryset"):
            self._queryset = super().get_queryset()[: self.max_rows]
        return self._queryset


class PeriodCohortInline(ReadOnlyInline):
    """A period's cohorts, read-only (they are computed by a run). Shares are exact, in yuan."""

    model = PeriodCohort
    formset = FirstRowsFormSet
    verbose_name_plural = format_lazy(
        _("cohorts in period (the first {n})"), n=FirstRowsFormSet.max_rows
    )
    fields = [
        "index",
        "in_pool_from",
        "in_pool_before",
        "joined_from",
        "joined_before",
        "members",
        "cases_count",
        "gross_share",
        "payable_share",
    ]
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    ordering = ["index"]

    @admin.display(description=_("gross share (yuan, exact)"))
    def gross_share(self, cohort):
        return format_exact_yuan(cohort.gross_share_fen)

    @admin.display(description=_("payable share (yuan, exact)"))
    def payable_share(self, cohort):
        return format_exact_yuan(cohort.payable_share_fen)

    @admin.display(description=_("members"))
    def members(self, cohort):
        return f"{cohort.members_count:,}"

    # Part of the period: whoever may see the period sees its cohorts (no grant of its own).
    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("billing.view_apportionmentperiod")


@admin.register(ApportionmentPeriod)
class PeriodAdmin(admin.ModelAdmin):
    change_form_template = "admin/billing/apportionmentperiod/change_form.html"
    list_display = [
        "__str__",
        "state",
        "progress",
        "total",
        "charged",
        "sponsor",
        "billed_members",
        "handed_by",
        "failed_at",
    ]
    list_filter = ["plan", "status"]
    fields = [
        "plan",
        "starts_at",
        "cutoff_at",
        "runs_at",
        "previous_period",
        "status",
        "chunks_total",
        "posted_at",
        "enqueued_at",
        "enqueued_by",
        "retried_at",
        "retried_by",
        "retries",
        "failed_at",
    ]
    inlines = [PeriodCohortInline]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            # runs_at follows from the cutoff and the plan's payout delay (model save).
            return [
                field for field in self.fields if field not in ("plan", "starts_at", "cutoff_at")
            ]
        return self.fields  # a period's figures change only by running it

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []  # a new period has no cohorts yet

    def get_queryset(self, request):
        # Chunks done counted in the same query, not one COUNT per row of the list.
        done = (
            PeriodChunk.objects.filter(period=OuterRef("pk"), done_at__isnull=False)
            .order_by()
            .values("period")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return (
            super()
            .get_queryset(request)
            .select_related("plan", "previous_period__plan", "enqueued_by", "retried_by")
            .annotate(done_chunks=Subquery(done, output_field=IntegerField()))
        )

    @admin.display(description=_("status"), ordering="status")
    def state(self, period):
        if period.status == PeriodStatus.FAILED:
            return format_html(
                '<strong style="color: var(--error-fg, #ba2121)">{}</strong>',
                period.get_status_display(),
            )
        return period.get_status_display()

    @admin.display(description=_("handed to the workers by"))
    def handed_by(self, period):
        if period.enqueued_at is None:
            return "—"
        by = period.retried_by or period.enqueued_by
        return by.get_username() if by is not None else _("the schedule")

    @admin.display(description=_("progress"))
    def progress(self, period):
        if not period.chunks_total:
            return "—"
        return f"{period.done_chunks or 0}/{period.chunks_total}"

    total = yuan_column("total_fen", _("total (yuan)"), sortable=False)
    charged = yuan_column("charged_fen", _("charged to members (yuan)"), sortable=False)

    @admin.display(description=_("members billed"), ordering="members_count")
    def billed_members(self, period):
        return f"{period.members_count:,}"

    sponsor = yuan_column("sponsor_fen", _("sponsor (yuan)"), sortable=False)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:period_id>/run/", view(self.run_view), name="billing_period_run"),
            path(
                "<int:period_id>/preview/", view(self.preview_view), name="billing_period_preview"
            ),
            path("<int:period_id>/bills.csv", view(self.csv_view), name="billing_period_csv"),
            path("<int:period_id>/retry/", view(self.retry_view), name="billing_period_retry"),
            path(
                "what-if/",
                view(partial(what_if_view, admin_site=self.admin_site)),
                name="billing_what_if",
            ),
            *super().get_urls(),
        ]

    def render_change_form(self, request, context, *args, obj=None, **kwargs):
        if obj is not None:
            done = obj.chunks_done * 100 // obj.chunks_total if obj.chunks_total else 0
            context.update(
                percent=100 if obj.status in FINISHED else done,
                money={
                    "cases_and_fees": format_yuan(obj.cases_total_fen + obj.fee_total_fen),
                    "recovered": format_yuan(obj.recovered_fen) if obj.recovered_fen else "",
                    "total": format_yuan(obj.total_fen),
                    "charged": format_yuan(obj.charged_fen),
                    "sponsor": format_yuan(obj.sponsor_fen),
                },
                reconciliation=services.period_reconciliation(period=obj),
                can_run=obj.status == "open" and self.has_change_permission(request, obj),
                cutoff_passed=timezone.now() >= obj.cutoff_at,
                can_retry=obj.status == PeriodStatus.FAILED
                and self.has_change_permission(request, obj),
                # Nothing on an existing period is edited by hand: no save buttons.
                show_save=False,
                show_save_and_continue=False,
                show_save_and_add_another=False,
            )
        return super().render_change_form(request, context, *args, obj=obj, **kwargs)

    def _period_button(self, request, period_id: int, service, done_message):
        """One service call per button: its refusal is an admin message, never a 500."""
        if request.method != "POST":
            raise Http404
        try:
            service(period_id=period_id, by=request.user, now=timezone.now())
        except (ServiceError, PermissionDenied) as error:
            self.message_user(request, getattr(error, "message", str(error)), messages.ERROR)
        except ApportionmentPeriod.DoesNotExist:
            raise Http404 from None
        else:
            self.message_user(request, done_message, messages.SUCCESS)
        if not self.has_view_or_change_permission(request):
            return HttpResponseRedirect(reverse("admin:index"))  # where the message shows
        return HttpResponseRedirect(
            reverse("admin:billing_apportionmentperiod_change", args=[period_id])
        )

    def run_view(self, request, period_id: int):
        return self._period_button(
            request, period_id, services.period_enqueue, _("The period is running.")
        )

    def retry_view(self, request, period_id: int):
        """Run a failed period again (the service checks the permission and the status)."""
        return self._period_button(
            request,
            period_id,
            services.period_retry,
            _("The period is handed to the workers again."),
        )

    def preview_view(self, request, period_id: int):
        if request.method != "POST" or not self.has_change_permission(request):
            raise PermissionDenied
        period = get_object_or_404(ApportionmentPeriod, pk=period_id)
        try:
            figures = apportion.period_preview(period_id=period_id)
        except ServiceError as error:  # e.g. an earlier period is still running
            self.message_user(request, error.message, messages.ERROR)
            return HttpResponseRedirect(
                reverse("admin:billing_apportionmentperiod_change", args=[period_id])
            )
        cap = figures["per_case_cap_fen"]
        cases = [
            case
            | {
                "amount": format_yuan(case["amount_fen"]),
                "fee": format_yuan(case["fee_fen"]),
                "members": f"{case['members']:,}",
                "share": format_exact_yuan(case["exact_fen"][0]),
                "pays": format_exact_yuan(case["exact_fen"][1]),
            }
            for case in figures["cases"]
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": _("Preview of %(period)s") % {"period": period},
            "opts": self.model._meta,
            "original": period,
            "cases": cases,
            "cap": format_yuan(cap) if cap is not None else "—",
            "members": f"{figures['members']:,}",
            "total": format_yuan(figures["total_fen"]),
            "recovered": format_yuan(figures["recovered_fen"]) if figures["recovered_fen"] else "",
            "charged": format_yuan(figures["charged_fen"]),
            "sponsor": format_yuan(figures["sponsor_fen"]),
        }
        return TemplateResponse(request, "admin/billing/apportionmentperiod/preview.html", context)

    def csv_view(self, request, period_id: int):
        if not request.user.has_perm("billing.view_bill"):
            raise PermissionDenied
        get_object_or_404(ApportionmentPeriod, pk=period_id)
        columns = ["membership_id", *BILL_FIGURES]
        rows = (
            Bill.objects.filter(period_id=period_id)
            .order_by("membership_id")
            .values_list(*columns)
            .iterator(chunk_size=5000)
        )
        writer = csv.writer(_Echo())
        response = StreamingHttpResponse(
            (writer.writerow(row) for row in itertools.chain([columns], map(_csv_row, rows))),
            content_type="text/csv",
        )
        response["Content-Disposition"] = f'attachment; filename="period-{period_id}-bills.csv"'
        return response


def _csv_row(row: tuple) -> tuple:
    """Times as ISO 8601 in Shanghai with their offset ("2026-11-28T01:00:00+08:00"), not the
    database's UTC with a space (issue 25: a bill paid on the 28th read as the 27th)."""
    return tuple(
        timezone.localtime(value).isoformat() if isinstance(value, datetime.datetime) else value
        for value in row
    )


class _Echo:
    """csv.writer target that hands each line back, for streaming."""

    def write(self, value):
        return value
