from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import AdminSplitDateTime
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from simple_history.admin import SimpleHistoryAdmin

from members import access, plan_rules, services
from members.history_admin import CoverBandHistoryAdmin  # noqa: F401 (registers it)
from members.models import (
    AccessLog,
    CoverBand,
    Member,
    Membership,
    MembershipStatus,
    Plan,
    years_before,
)
from mutual.core.admin_tools import (
    FastChangeListMixin,
    NationalIdSearchNeedsPermission,
    ReadOnlyInline,
    ReadOnlyMixin,
    run_in_bulk,
    yuan_column,
)
from mutual.core.errors import ServiceError
from mutual.core.money import format_percent_bp


class CoverBandInline(admin.TabularInline):
    model = CoverBand
    extra = 0


PLAN_FIELDSETS = [
    (None, {"fields": ["code", "name", "accepting_members"]}),
    (
        _("Eligibility"),
        {
            "fields": [
                "min_credit_score",
                "min_age_days",
                "min_age_years",
                "max_age_years",
                "age_successor",
            ]
        },
    ),
    (_("Waiting periods"), {"fields": ["illness_waiting_days", "accident_waiting_days"]}),
    (
        _("Apportionment"),
        {"fields": ["management_fee_bp", "per_case_cap_fen", "yearly_cap_fen"]},
    ),
    (
        _("Billing calendar"),
        {
            "fields": ["cutoff_days", "payout_delay_days"],
            "description": _(
                "Cutoff days as a comma-separated list, e.g. 1,16 or 14,28. A change applies "
                "to periods created from now on; existing periods keep their dates."
            ),
        },
    ),
    (
        _("Claims"),
        {"fields": ["publicity_days", "dispute_review", "jury_size", "jury_quorum"]},
    ),
    (_("Collections"), {"fields": ["payment_grace_days"]}),
]


class PlanForm(forms.ModelForm):
    effective_at = forms.SplitDateTimeField(
        label=_("in force from"),
        required=False,
        widget=AdminSplitDateTime,
        help_text=_(
            "Empty: from now. An earlier moment if the change took effect before it was "
            "entered: not before the plan's last change, nor on or before the cutoff of a "
            "period already billed. Periods are billed with the rules in force at their cutoff."
        ),
    )

    class Meta:
        model = Plan
        fields = [name for _title, options in PLAN_FIELDSETS for name in options["fields"]]

    def clean(self):
        cleaned = super().clean()
        effective_at = cleaned.get("effective_at")
        if effective_at is not None:
            try:
                plan_rules.plan_effective_at_check(
                    plan=self.instance, effective_at=effective_at, now=timezone.now()
                )
            except ServiceError as error:
                raise ValidationError({error.field: error.message}) from None
        return cleaned


@admin.register(Plan)
class PlanAdmin(SimpleHistoryAdmin):
    form = PlanForm
    history_list_display = ["effective_at"]
    list_display = [
        "code",
        "name",
        "accepting_members",
        "fee_percent",
        "per_case_cap",
        "yearly_cap",
    ]
    search_fields = ["code", "name"]
    inlines = [CoverBandInline]
    fieldsets = PLAN_FIELDSETS
    change_fieldset = (
        _("This change"),
        {
            "fields": ["effective_at"],
            "description": _("Every change is kept under History: who, when, old and new."),
        },
    )

    def get_fieldsets(self, request, obj=None):
        if not self.has_change_permission(request, obj):  # read-only: no change to date
            return self.fieldsets
        return [*self.fieldsets, self.change_fieldset]

    def save_model(self, request, obj, form, change):
        plan_rules.plan_save(
            plan=obj,
            by=request.user,
            now=timezone.now(),
            effective_at=form.cleaned_data.get("effective_at"),
        )

    def revert_disabled(self, request, obj=None):
        return True  # a change goes through the form, with the moment it is in force from

    @admin.display(description=_("fee"))
    def fee_percent(self, plan: Plan) -> str:
        return format_percent_bp(plan.management_fee_bp)

    per_case_cap = yuan_column("per_case_cap_fen", _("per-case cap (yuan)"), sortable=False)
    yearly_cap = yuan_column("yearly_cap_fen", _("yearly cap (yuan)"), sortable=False)


class AgeBandFilter(admin.SimpleListFilter):
    """Age today, by birth date ranges so the filter uses the birth_date index."""

    title = _("age band")
    parameter_name = "age_band"
    bands = {"0-17": (0, 17), "18-39": (18, 39), "40-59": (40, 59), "60+": (60, 200)}

    def lookups(self, request, model_admin):
        return [(key, key) for key in self.bands]

    def queryset(self, request, queryset):
        if self.value() not in self.bands:
            return queryset
        youngest, oldest = self.bands[self.value()]
        today = timezone.localdate()
        born_after = years_before(today, oldest + 1)
        born_by = years_before(today, youngest)
        prefix = "member__" if queryset.model is Membership else ""
        return queryset.filter(
            **{f"{prefix}birth_date__gt": born_after, f"{prefix}birth_date__lte": born_by}
        )


class WaitingPeriodFilter(admin.SimpleListFilter):
    title = _("illness waiting period")
    parameter_name = "waiting"

    def lookups(self, request, model_admin):
        return [("yes", _("still waiting")), ("no", _("covered for illness"))]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "yes":
            return queryset.filter(waiting_until__gt=now)
        if self.value() == "no":
            return queryset.filter(waiting_until__lte=now)
        return queryset


class MembershipInline(ReadOnlyInline):
    model = Membership
    fk_name = "member"
    fields = ["plan", "status", "joined_at", "waiting_until", "cover", "ended_at", "end_reason"]
    readonly_fields = fields
    cover = yuan_column("cover_fen", _("cover (yuan)"), sortable=False)


class DependantInline(ReadOnlyInline):
    """The household this account holder covers and pays for."""

    model = Member
    fk_name = "payer"
    verbose_name = _("covered family member")
    verbose_name_plural = _("household: the family members this account holder covers")
    fields = ["person", "relationship", "birth_date", "guardian_consent_at", "removed_at"]
    readonly_fields = fields
    show_change_link = True

    @admin.display(description=_("person"))
    def person(self, member: Member) -> str:
        return f"{member.full_name} ({member.national_id_masked})"


@admin.register(Member)
class MemberAdmin(NationalIdSearchNeedsPermission, FastChangeListMixin, admin.ModelAdmin):
    """National ids are masked everywhere; the full id is shown only by the "Show national id"
    button, which logs the look (members.access.member_national_id_reveal)."""

    change_form_template = "admin/members/member/change_form.html"
    list_display = ["full_name", "national_id_masked", "birth_date", "relationship", "payer",
                    "user", "created_at"]  # fmt: skip
    list_filter = [AgeBandFilter, "relationship"]
    list_select_related = ["user", "payer"]
    # Exact id and name prefix: both can use an index on a ten-million-row table. A
    # household is found by its account holder's name too (get_search_results).
    search_fields = ["=national_id", "^full_name"]
    SEARCH_LIMIT = 2_000
    search_help_text = _(
        "Exact national id, or the start of the name (of the person or of their account holder)."
    )
    raw_id_fields = ["user", "payer"]
    inlines = [MembershipInline, DependantInline]

    def get_search_results(self, request, queryset, search_term):
        """The people the term finds by their own id or name, and the dependants of account
        holders it finds by name: each set read through its own index, at most SEARCH_LIMIT
        ids each. (One WHERE OR-ing the person's columns with the joined holder's name made
        PostgreSQL scan all ten million people: 33 s a search.)"""
        found, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        if not term:
            return found, may_have_duplicates
        direct = list(found.order_by().values_list("pk", flat=True)[: self.SEARCH_LIMIT])
        holders = Member.objects.filter(payer__isnull=True, full_name__istartswith=term)
        dependants = list(
            Member.objects.filter(payer__in=holders.values("pk")[: self.SEARCH_LIMIT])
            .order_by()
            .values_list("pk", flat=True)[: self.SEARCH_LIMIT]
        )
        return queryset.filter(pk__in=direct + dependants), False

    @admin.display(description=_("national id"))
    def national_id_masked(self, member: Member) -> str:
        return member.national_id_masked

    def get_exclude(self, request, obj=None):
        # Typed in when the member is added; never sent to the browser afterwards.
        return ["national_id"] if obj is not None else []

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        # A household changes through its account holder (the API); consent is a record.
        return ["national_id_masked", "payer", "relationship", "guardian_consent_at",
                "guardian_consent_by", "removed_at"]  # fmt: skip

    def get_urls(self):
        own = [
            path(
                "<int:member_id>/national-id/",
                self.admin_site.admin_view(self.national_id_view),
                name="members_member_national_id",
            )
        ]
        return own + super().get_urls()

    def render_change_form(self, request, context, *args, obj=None, **kwargs):
        context["may_reveal_national_id"] = request.user.has_perm("members.view_national_id")
        return super().render_change_form(request, context, *args, obj=obj, **kwargs)

    @method_decorator(never_cache)
    def national_id_view(self, request, member_id: int):
        """POST only (a deliberate press, CSRF-checked); the answer is never cached."""
        if request.method != "POST":
            raise Http404
        member = get_object_or_404(Member, pk=member_id)
        national_id = access.member_national_id_reveal(
            member_id=member.pk, by=request.user, now=timezone.now()
        )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("National id of %(member)s") % {"member": member},
            "original": member,
            "national_id": national_id,
        }
        return TemplateResponse(request, "admin/members/member/national_id.html", context)


@admin.register(Membership)
class MembershipAdmin(NationalIdSearchNeedsPermission, FastChangeListMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "member",
        "plan",
        "status",
        "joined_at",
        "waiting_until",
        "cover",
        "ended_at",
        "end_reason",
    ]
    list_filter = ["plan", "status", "end_reason", AgeBandFilter, WaitingPeriodFilter]
    list_select_related = ["member", "plan"]
    search_fields = ["=member__national_id", "^member__full_name"]
    search_help_text = _("Exact national id, or the start of the member's name.")
    raw_id_fields = ["member", "migrated_from"]
    readonly_fields = ["status", "ended_at", "migrated_from", "in_pool_since"]
    actions = ["withdraw_selected"]

    cover = yuan_column("cover_fen", _("cover (yuan)"))

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return self.readonly_fields
        # An existing membership changes only through its transitions.
        return [field.name for field in Membership._meta.fields]

    def has_add_permission(self, request):
        return False  # members join through the API (services.membership_join)

    @admin.action(description=_("Withdraw selected memberships"), permissions=["change"])
    def withdraw_selected(self, request, queryset):
        run_in_bulk(
            self,
            request,
            queryset.filter(status=MembershipStatus.ACTIVE).values_list("pk", flat=True),
            lambda membership_id, now: services.membership_withdraw(
                membership_id=membership_id, by=request.user, now=now
            ),
            done_message=_("%(n)d memberships withdrawn."),
        )


@admin.register(AccessLog)
class AccessLogAdmin(
    NationalIdSearchNeedsPermission, FastChangeListMixin, ReadOnlyMixin, admin.ModelAdmin
):
    """Who saw what: superusers only, read-only (the table itself refuses UPDATE and DELETE)."""

    list_display = ["at", "user", "kind", "member", "what"]
    list_filter = ["kind"]
    list_select_related = ["user", "member"]
    search_fields = ["=user__username", "=member__national_id"]
    search_help_text = _("Exact username of who looked, or exact national id of whose data.")
    fields = ["at", "user", "kind", "member", "what"]
    readonly_fields = fields

    @admin.display(description=_("object"))
    def what(self, entry: AccessLog) -> str:
        content_type = ContentType.objects.get_for_id(entry.content_type_id)  # cached
        return f"{content_type.name} #{entry.object_id}"

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser
