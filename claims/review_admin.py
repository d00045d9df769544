"""Second looks in the admin: a claim's disputes, jury, signals, appeals and audit as inlines on
its page, the appeals and audit lists, and each plan's desk policy."""

from __future__ import annotations

from django.contrib import admin

from claims.models import Appeal, ClaimAudit, ClaimSignal, DeskPolicy, Dispute, JurySeat
from mutual.core.admin_tools import FastChangeListMixin, ReadOnlyInline, ReadOnlyMixin


class DisputeInline(ReadOnlyInline):
    model = Dispute
    fields = ["round", "member", "reason", "created_at"]
    readonly_fields = fields


class JuryInline(ReadOnlyInline):
    model = JurySeat
    fields = ["round", "member", "drawn_at", "vote", "voted_at"]
    readonly_fields = fields

    # No jury yet: no empty table (the page's jury line says "not drawn yet", issue 25).
    def has_view_permission(self, request, obj=None):
        seated = obj is None or JurySeat.objects.filter(claim=obj).exists()
        return seated and super().has_view_permission(request, obj)


class SignalInline(ReadOnlyInline):
    model = ClaimSignal
    fields = ["code", "weight", "detail", "computed_at"]
    readonly_fields = fields


class AppealInline(ReadOnlyInline):
    model = Appeal
    fields = ["filed_at", "reason", "status", "decided_by", "decided_at", "note"]
    readonly_fields = fields


class AuditInline(ReadOnlyInline):
    model = ClaimAudit
    fields = ["picked_at", "permille", "seed", "outcome", "decided_by", "decided_at", "note"]
    readonly_fields = fields


@admin.register(Appeal)
class AppealAdmin(FastChangeListMixin, ReadOnlyMixin, admin.ModelAdmin):
    """Appeals are decided on the claim's page (Uphold / Dismiss); this is the list."""

    list_display = ["pk", "claim", "status", "filed_at", "decided_by", "decided_at"]
    list_filter = ["status"]
    list_select_related = ["claim", "decided_by"]
    readonly_fields = ["claim", "filed_by", "reason", "filed_at", "refused_by", "status",
                       "decided_by", "decided_at", "note"]  # fmt: skip


@admin.register(ClaimAudit)
class ClaimAuditAdmin(FastChangeListMixin, ReadOnlyMixin, admin.ModelAdmin):
    """The audit sample; each is reviewed on the claim's page (Confirm / Missed)."""

    list_display = ["claim", "outcome", "picked_at", "decided_by", "decided_at"]
    list_filter = ["outcome"]
    list_select_related = ["claim", "decided_by"]
    readonly_fields = ["claim", "seed", "permille", "picked_at", "outcome", "decided_by",
                       "decided_at", "note"]  # fmt: skip


@admin.register(DeskPolicy)
class DeskPolicyAdmin(admin.ModelAdmin):
    list_display = ["plan", "risk_threshold", "audit_permille"]
    list_select_related = ["plan"]
    readonly_fields = ["audit_seed"]  # recorded, so that the sample can be recomputed
