from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import TransitionNotAllowed

from members import services
from members.models import CoverBand, Member, Membership, MembershipStatus, Plan, years_before
from mutual.admin_tools import FastChangeListMixin
from mutual.money import format_yuan


class CoverBandInline(admin.TabularInline):
    model = CoverBand
    extra = 0


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
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
    fieldsets = [
        (None, {"fields": ["code", "name", "accepting_members"]}),
        (_("Eligibility"), {"fields": ["min_credit_score", "min_age_days", "max_age_years"]}),
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

    @admin.display(description=_("fee"))
    def fee_percent(self, plan: Plan) -> str:
        return f"{plan.management_fee_bp / 100:g}%"

    @admin.display(description=_("per-case cap (yuan)"))
    def per_case_cap(self, plan: Plan) -> str:
        return format_yuan(plan.per_case_cap_fen)

    @admin.display(description=_("yearly cap (yuan)"))
    def yearly_cap(self, plan: Plan) -> str:
        return format_yuan(plan.yearly_cap_fen)


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


class MembershipInline(admin.TabularInline):
    model = Membership
    fk_name = "member"
    extra = 0
    can_delete = False
    fields = ["plan", "status", "joined_at", "waiting_until", "cover", "ended_at"]
    readonly_fields = fields

    @admin.display(description=_("cover (yuan)"))
    def cover(self, membership: Membership) -> str:
        return format_yuan(membership.cover_fen)

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Member)
class MemberAdmin(FastChangeListMixin, admin.ModelAdmin):
    list_display = ["full_name", "national_id", "birth_date", "user", "created_at"]
    list_filter = [AgeBandFilter]
    list_select_related = ["user"]
    # Exact id and name prefix: both can use an index on a ten-million-row table.
    search_fields = ["=national_id", "^full_name"]
    search_help_text = _("Exact national id, or the start of the name.")
    raw_id_fields = ["user"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(FastChangeListMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "member",
        "plan",
        "status",
        "joined_at",
        "waiting_until",
        "cover",
        "ended_at",
    ]
    list_filter = ["plan", "status", AgeBandFilter, WaitingPeriodFilter]
    list_select_related = ["member", "plan"]
    search_fields = ["=member__national_id", "^member__full_name"]
    search_help_text = _("Exact national id, or the start of the member's name.")
    raw_id_fields = ["member", "migrated_from"]
    readonly_fields = ["status", "ended_at", "migrated_from", "in_pool_since"]
    actions = ["withdraw_selected"]
    BULK_LIMIT = 1000  # one transaction each; larger moves belong to plan_migrate

    @admin.display(description=_("cover (yuan)"), ordering="cover_fen")
    def cover(self, membership: Membership) -> str:
        return format_yuan(membership.cover_fen)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return self.readonly_fields
        # An existing membership changes only through its transitions.
        return [field.name for field in Membership._meta.fields]

    def has_add_permission(self, request):
        return False  # members join through the API (services.membership_join)

    @admin.action(description=_("Withdraw selected memberships"), permissions=["change"])
    def withdraw_selected(self, request, queryset):
        now = timezone.now()
        done = 0
        active = queryset.filter(status=MembershipStatus.ACTIVE).values_list("pk", flat=True)
        for membership_id in active[: self.BULK_LIMIT]:
            try:
                services.membership_withdraw(membership_id=membership_id, by=request.user, now=now)
                done += 1
            except (TransitionNotAllowed, PermissionDenied) as error:
                self.message_user(request, str(error), messages.ERROR)
        self.message_user(request, _("%(n)d memberships withdrawn.") % {"n": done})
        if active[self.BULK_LIMIT : self.BULK_LIMIT + 1].exists():
            self.message_user(
                request,
                _("Only the first %(n)d were processed.") % {"n": self.BULK_LIMIT},
                messages.WARNING,
            )
