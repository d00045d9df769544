"""The claims desk in the admin: the desks a person works from (a list filter), the clock
columns, the supervisor's reassignment and load page, and the catalogue's screens. Each
screen calls one service or one selector."""

from __future__ import annotations

import datetime

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from claims import desk
from claims.clock import is_overdue, overdue_q, time_in_state
from claims.fraud import risky_q
from claims.models import (
    ClaimAssignment,
    ClaimState,
    ClockTarget,
    InfoRequest,
    InvestigationFirm,
    Investigator,
    Reason,
    ReasonKind,
)
from claims.rules import REFUSALS
from mutual.core.admin_tools import ReadOnlyInline, ReadOnlyMixin, yuan_column
from mutual.core.money import format_yuan


class DeskFilter(admin.SimpleListFilter):
    """The desks: my work (most urgent first), unassigned, overdue, waiting on the claimant."""

    title = _("desk")
    parameter_name = "desk"

    def lookups(self, request, model_admin):
        return [
            ("mine", _("My work")),
            ("unassigned", _("Unassigned")),
            ("overdue", _("Overdue")),
            ("waiting", _("Waiting on the claimant")),
            ("risky", _("Risky (supervisor)")),
            ("audit", _("Audit sample")),
            ("appeals", _("Appeals")),
        ]

    def queryset(self, request, queryset):
        now = timezone.now()
        worked = Q(state__in=desk.WORKED_STATES)
        # Each desk's order is DESK_ORDERING (the changelist orders after filtering).
        if self.value() == "mine":
            return queryset.filter(worked, investigator=request.user)
        if self.value() == "unassigned":
            return queryset.filter(worked, investigator__isnull=True)
        if self.value() == "overdue":
            return queryset.filter(overdue_q(now))
        if self.value() == "waiting":
            return queryset.filter(paused_at__isnull=False)
        if self.value() == "risky":
            return queryset.filter(risky_q())
        if self.value() == "audit":
            return queryset.filter(audit_held=True, state=ClaimState.PUBLICIZED)
        if self.value() == "appeals":
            return queryset.filter(appeal_pending=True)
        return queryset


DESK_ORDERING = {
    "mine": ["due_at", "pk"],  # most urgent first (no due time: last, as PostgreSQL sorts NULL)
    "unassigned": ["submitted_at", "pk"],
    "overdue": ["due_at", "pk"],
    "waiting": ["paused_at", "pk"],
    "risky": ["-risk_score", "pk"],
    "audit": ["publicity_ends_at", "pk"],
    "appeals": ["decided_at", "pk"],
}


def desk_ordering(request) -> list[str] | None:
    """A desk's own order, unless the person sorted by a column."""
    if "o" in request.GET:
        return None
    return DESK_ORDERING.get(request.GET.get("desk", ""))


def due_column(claim) -> str:
    """The due time, red when late; "waiting" while the clock is paused."""
    now = timezone.now()
    if claim.paused_at is not None:
        return format_html('<span class="desk-waiting">{}</span>', _("waiting on claimant"))
    if claim.due_at is None:
        return "—"
    text = f"{timezone.localtime(claim.due_at):%Y-%m-%d %H:%M %z}"
    if is_overdue(claim, now=now):
        return format_html(
            '<strong class="desk-late" style="color:#ba2121;white-space:nowrap">{} ⚠</strong>', text
        )
    return format_html('<span style="white-space:nowrap">{}</span>', text)


def days_and_hours(span) -> str:
    """A duration as people read it, in their language: "2 d 23 h", "2 天 23 小时"."""
    return _("%(days)s d %(hours)s h") % {"days": span.days, "hours": span.seconds // 3600}


def in_state_column(claim) -> str:
    spent = time_in_state(claim, now=timezone.now())
    if spent is None:
        return "—"
    return days_and_hours(spent)


class ReassignForm(forms.Form):
    """The second step of the bulk action: to whom, and why."""

    investigator = forms.ModelChoiceField(
        queryset=Investigator.objects.filter(active=True).select_related("user", "firm"),
        label=_("to"),
        to_field_name="user_id",
    )
    reason_code = forms.ModelChoiceField(
        queryset=Reason.objects.filter(kind=ReasonKind.REASSIGN, active=True),
        label=_("reason"),
        to_field_name="code",
    )
    note = forms.CharField(label=_("note"), max_length=300, required=False)


def reassign_action(model_admin, request, queryset):
    """Admin action in two steps, as Django's own delete: the selected claims, then a page
    choosing to whom and why, whose submission is one service call."""
    ids = list(queryset.values_list("pk", flat=True)[:500])
    form = ReassignForm(request.POST if "apply" in request.POST else None)
    if "apply" in request.POST and form.is_valid():
        try:
            moved = desk.claims_reassign(
                claim_ids=ids,
                investigator_id=form.cleaned_data["investigator"].user_id,
                code=form.cleaned_data["reason_code"].code,
                note=form.cleaned_data["note"],
                by=request.user,
                now=timezone.now(),
            )
        except REFUSALS as error:
            model_admin.message_user(request, getattr(error, "message", str(error)), messages.ERROR)
            return None
        model_admin.message_user(request, _("%(n)d claim(s) reassigned.") % {"n": moved})
        return None
    context = {
        **model_admin.admin_site.each_context(request),
        "title": _("Reassign claims"),
        "form": form,
        "ids": ids,
        "opts": model_admin.model._meta,
        "action": "reassign_action",
    }
    return TemplateResponse(request, "admin/claims/claim/reassign.html", context)


reassign_action.short_description = _("Reassign selected claims")
reassign_action.allowed_permissions = ["assign"]


def load_view(model_admin, request):
    """The supervisor's view of everyone's load."""
    if not request.user.has_perm("claims.assign_claim"):
        raise PermissionDenied
    context = {
        **model_admin.admin_site.each_context(request),
        "title": _("Investigators' load"),
        "rows": desk.desk_load(now=timezone.now()),
        "opts": model_admin.model._meta,
    }
    return TemplateResponse(request, "admin/claims/claim/desk_load.html", context)


class SubmittedFilter(admin.SimpleListFilter):
    """When a claim came, in windows an index answers (a date hierarchy would first scan every
    claim for its years)."""

    title = _("submitted")
    parameter_name = "submitted"
    WINDOWS = {"1": 1, "7": 7, "30": 30, "365": 365}

    def lookups(self, request, model_admin):
        return [("1", _("today")), ("7", _("last 7 days")), ("30", _("last 30 days")),
                ("365", _("last 365 days"))]  # fmt: skip

    def queryset(self, request, queryset):
        days = self.WINDOWS.get(self.value() or "")
        if days is None:
            return queryset
        return queryset.filter(submitted_at__gt=timezone.now() - datetime.timedelta(days=days))


class InfoRequestInline(ReadOnlyInline):
    model = InfoRequest
    fields = ["documents", "deadline", "status", "made_by", "made_at", "reminded_at", "closed_at"]
    readonly_fields = fields


class AssignmentInline(ReadOnlyInline):
    model = ClaimAssignment
    fields = ["at", "assigned_from", "assigned_to", "reason", "note", "by"]
    readonly_fields = fields


@admin.register(Reason)
class ReasonAdmin(admin.ModelAdmin):
    list_display = ["code", "kind", "text_en", "text_zh", "active"]
    list_filter = ["kind", "active"]
    search_fields = ["^code"]

    def get_readonly_fields(self, request, obj=None):
        return ["code", "kind"] if obj else []  # claims point at the code: never renamed

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(InvestigationFirm)
class InvestigationFirmAdmin(admin.ModelAdmin):
    """The firms, and above them each firm's counts, SLA figures and fees, for finance."""

    change_list_template = "admin/claims/investigationfirm/change_list.html"
    list_display = ["name", "fee", "active"]
    fee = yuan_column("fee_per_case_fen", _("fee per case (yuan)"), sortable=False)

    def changelist_view(self, request, extra_context=None):
        figures = [
            {**row, "fees": format_yuan(row["fees_fen"])}
            for row in desk.firm_figures(now=timezone.now())
        ]
        return super().changelist_view(request, {**(extra_context or {}), "figures": figures})


@admin.register(Investigator)
class InvestigatorAdmin(admin.ModelAdmin):
    list_display = ["user", "firm", "active"]
    list_filter = ["firm", "active"]
    list_select_related = ["user", "firm"]
    raw_id_fields = ["user"]


@admin.register(ClockTarget)
class ClockTargetAdmin(admin.ModelAdmin):
    list_display = ["plan", "state", "days", "working_days"]
    list_filter = ["plan"]
    list_select_related = ["plan"]


@admin.register(InfoRequest)
class InfoRequestAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["pk", "claim", "status", "deadline", "made_by", "made_at", "closed_at"]
    list_filter = ["status"]
    list_select_related = ["claim", "made_by"]
    readonly_fields = ["claim", "documents", "note", "deadline", "status", "made_by", "made_at",
                       "reminded_at", "closed_at"]  # fmt: skip
