from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransition, TransitionNotAllowed
from simple_history.admin import SimpleHistoryAdmin

from claims import admin_actions, selectors, services
from claims.desk_admin import (
    AssignmentInline,
    DeskFilter,
    InfoRequestInline,
    SubmittedFilter,
    days_and_hours,
    desk_ordering,
    due_column,
    in_state_column,
    load_view,
    reassign_action,
)
from claims.evidence import evidence_extension, evidence_open, evidence_verify_claim
from claims.history_admin import ClaimHistoryInline
from claims.models import (
    Claim,
    ClaimState,
    Condition,
    Dispute,
    EvidenceDocument,
    EvidenceKind,
    JuryDraw,
    ReasonKind,
)
from claims.reasons import reasons_of
from claims.requests import REQUESTABLE
from claims.review_admin import AppealInline, AuditInline, DisputeInline, JuryInline, SignalInline
from claims.rules import window_due_q, window_open_q
from mutual.core.admin_tools import (
    FastChangeListMixin,
    NationalIdSearchNeedsPermission,
    ReadOnlyInline,
    ReadOnlyMixin,
    run_in_bulk,
    yuan_column,
)
from mutual.core.errors import ServiceError
from mutual.core.money import format_yuan


class EvidenceInline(ReadOnlyInline):
    model = EvidenceDocument
    fields = ["position", "kind", "download", "size", "sha256_hex", "link_hex", "uploaded_at"]
    readonly_fields = fields

    @admin.display(description=_("SHA-256 of the file"))
    def sha256_hex(self, document):
        return format_html('<code class="hash">{}</code>', document.sha256)

    @admin.display(description=_("link hash"))
    def link_hex(self, document):
        return format_html('<code class="hash">{}</code>', document.link_hash)

    @admin.display(description=_("file"))
    def download(self, document):
        url = reverse("admin:claims_claim_evidence", args=[document.claim_id, document.pk])
        return format_html('<a href="{}">{}</a>', url, document.content_type)


class PublicityFilter(admin.SimpleListFilter):
    title = _("publicity window")
    parameter_name = "window"

    def lookups(self, request, model_admin):
        return [("open", _("open now")), ("due", _("ended, not yet closed"))]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "open":
            return queryset.filter(window_open_q(now))
        if self.value() == "due":
            return queryset.filter(window_due_q(now))
        return queryset


@admin.register(Claim)
class ClaimAdmin(NationalIdSearchNeedsPermission, FastChangeListMixin, admin.ModelAdmin):
    change_form_template = "admin/claims/claim/change_form.html"
    # What fits at 1400 px beside the filters: the plan and the kind (filters), the approved
    # amount, the time in state and the risk score are on the claim's page (the risky desk
    # orders by the score).
    list_display = [
        "id",
        "claimant",
        "state",
        "requested",
        "submitted_at",
        "investigator",
        "due",
        "window_left",
    ]
    list_filter = [
        DeskFilter,
        SubmittedFilter,
        "state",
        PublicityFilter,
        "plan",
        "incident_kind",
        "condition__category",
        "reason",  # refusals, withdrawals and reopenings by their code
    ]
    list_select_related = ["membership__member", "plan", "investigator"]
    # The diagnosis is encrypted at rest: it is read on the claim, not searched.
    search_fields = ["=id", "=membership__member__national_id", "^hospital"]
    search_help_text = _("Claim number, exact national id, or the start of the hospital's name.")
    inlines = [
        EvidenceInline,
        InfoRequestInline,
        DisputeInline,
        JuryInline,
        AssignmentInline,
        SignalInline,
        AppealInline,
        AuditInline,
        ClaimHistoryInline,
    ]
    actions = ["take_for_investigation", "approve_closed_windows", reassign_action]
    fieldsets = [
        (
            _("Claim"),
            {
                "fields": [
                    "state",
                    "membership",
                    "patient",
                    "submitted_by",
                    "plan",
                    "condition",
                    "incident_kind",
                    "incident_date",
                    "diagnosis_date",
                    "diagnosis",
                    "hospital",
                ]
            },
        ),
        (_("Money (yuan)"), {"fields": ["cover", "requested", "approved"]}),
        (
            _("Investigation"),
            {
                "fields": [
                    "investigator",
                    "investigation_summary",
                    "investigation_recorded_by",
                    "investigation_recorded_at",
                ]
            },
        ),
        (
            _("Publicity and decision"),
            {
                "fields": [
                    "publicity_starts_at",
                    "publicity_ends_at",
                    "decided_at",
                    "reason",
                    "decision_reason",
                    "reopened",
                    "risk_score",
                    "audit_held",
                    "paid_at",
                ]
            },
        ),
        (
            _("Clock"),
            {"fields": ["state_since", "due_at", "paused_at", "paused_seconds", "overdue_told_at"]},
        ),
    ]

    def get_ordering(self, request):
        return desk_ordering(request) or super().get_ordering(request)

    def get_readonly_fields(self, request, obj=None):
        # Nothing is edited in place: every change is a button below, through the services.
        return [name for fieldset in self.fieldsets for name in fieldset[1]["fields"]]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("patient"))
    def claimant(self, claim):
        return claim.membership.member

    @admin.display(description=_("patient"))
    def patient(self, claim):
        member = claim.membership.member
        if member.payer_id is None:
            return str(member)
        return _("%(person)s (%(relationship)s of %(holder)s)") % {
            "person": member,
            "relationship": member.get_relationship_display(),
            "holder": member.payer,
        }

    cover = yuan_column("cover_fen", _("cover"), sortable=False)
    requested = yuan_column("amount_requested_fen", _("requested"))
    approved = yuan_column("amount_approved_fen", _("approved"))

    @admin.display(description=_("due"), ordering="due_at")
    def due(self, claim):
        return due_column(claim)

    @admin.display(description=_("publicity left"), ordering="publicity_ends_at")
    def window_left(self, claim):
        if claim.state != ClaimState.PUBLICIZED:
            return "—"
        left = claim.publicity_ends_at - timezone.now()
        if left.total_seconds() <= 0:
            return _("closing")
        return days_and_hours(left)

    # --- change page: buttons and evidence --------------------------------------------------
    def get_urls(self):
        own = [
            path(
                "<int:claim_id>/act/<str:action>/",
                self.admin_site.admin_view(self.act_view),
                name="claims_claim_act",
            ),
            path(
                "<int:claim_id>/evidence/<int:document_id>/",
                self.admin_site.admin_view(self.evidence_view),
                name="claims_claim_evidence",
            ),
            path(
                "desk-load/",
                self.admin_site.admin_view(lambda request: load_view(self, request)),
                name="claims_claim_desk_load",
            ),
        ]
        return own + super().get_urls()

    def render_change_form(self, request, context, *args, obj=None, **kwargs):
        if obj is not None:
            context["claim_actions"] = admin_actions.available_actions(
                obj, request.user, timezone.now()
            )
            context["chain_problems"] = evidence_verify_claim(obj.pk)
            context["evidence_count"] = obj.evidence.count()
            context["requested_yuan"] = format_yuan(obj.amount_requested_fen)
            context["evidence_kinds"] = EvidenceKind.choices
            context["investigators"] = selectors.investigators()
            context["requestable"] = [
                (value, label) for value, label in EvidenceKind.choices if value in REQUESTABLE
            ]
            context["claim_in_state"] = in_state_column(obj)
            context["claim_due"] = due_column(obj)
            context["refusal_reasons"] = reasons_of(ReasonKind.REFUSAL)
            context["reopen_reasons"] = reasons_of(ReasonKind.REOPEN)
            # The draw is its own task after the window closes: say so while it is pending.
            context["jury_draw"] = (
                JuryDraw.objects.filter(claim=obj, round=obj.reopened).defer("eligible").first()
            )
        return super().render_change_form(request, context, *args, obj=obj, **kwargs)

    def act_view(self, request, claim_id: int, action: str):
        if request.method != "POST":
            raise Http404
        claim = get_object_or_404(Claim, pk=claim_id)
        if not self.has_view_permission(request, claim):
            raise PermissionDenied
        # Viewing the claim is not enough: `perform` checks the button's own permission before
        # its service runs (and the service checks again); a refusal is an error message.
        try:
            message = admin_actions.perform(
                action,
                claim_id=claim_id,
                user=request.user,
                now=timezone.now(),
                data=request.POST,
                files=request.FILES,
            )
        except ServiceError as error:
            self.message_user(request, error.message, messages.ERROR)
        except (TransitionNotAllowed, ConcurrentTransition):
            self.message_user(
                request,
                _("That is not possible in the claim's current state (it may have just changed)."),
                messages.ERROR,
            )
        except PermissionDenied as error:
            self.message_user(request, str(error) or _("Not allowed."), messages.ERROR)
        else:
            self.message_user(request, message, messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:claims_claim_change", args=[claim_id]))

    def evidence_view(self, request, claim_id: int, document_id: int):
        """The file itself; evidence_open checks the permission and logs who opened it."""
        try:
            document, stored = evidence_open(
                claim_id=claim_id, document_id=document_id, by=request.user, now=timezone.now()
            )
        except EvidenceDocument.DoesNotExist:
            raise Http404 from None
        # Downloaded, never rendered in the admin's origin, and sandboxed if a browser does.
        response = FileResponse(
            stored,
            content_type=document.content_type,
            as_attachment=True,
            filename=f"claim-{claim_id}-document-{document.position}"
            f"{evidence_extension(document.content_type)}",
        )
        response["Content-Security-Policy"] = "sandbox; default-src 'none'"
        patch_cache_control(response, private=True, no_store=True)  # a medical record
        return response

    # --- bulk actions ----------------------------------------------------------------------
    # Bulk actions are offered only to those with their permission (and the services check it).
    def has_investigate_permission(self, request):
        return request.user.has_perm("claims.investigate_claim")

    def has_assign_permission(self, request):
        return request.user.has_perm("claims.assign_claim")

    def has_decide_permission(self, request):
        return request.user.has_perm("claims.decide_claim")

    @admin.action(
        description=_("Take selected claims for investigation (assign to me)"),
        permissions=["investigate"],
    )
    def take_for_investigation(self, request, queryset):
        run_in_bulk(
            self,
            request,
            queryset.filter(state=ClaimState.SUBMITTED).values_list("pk", flat=True),
            lambda claim_id, now: services.claim_start_investigation(
                claim_id=claim_id, investigator_id=request.user.pk, by=request.user, now=now
            ),
            done_message=_("%(n)d claim(s) done."),
        )

    @admin.action(
        description=_("Approve selected undisputed claims whose window has closed"),
        permissions=["decide"],
    )
    def approve_closed_windows(self, request, queryset):
        due = queryset.filter(window_due_q(timezone.now()))
        run_in_bulk(
            self,
            request,
            due.values_list("pk", flat=True),
            lambda claim_id, now: services.claim_approve(
                claim_id=claim_id, by=request.user, now=now
            ),
            done_message=_("%(n)d claim(s) done."),
        )


@admin.register(Dispute)
class DisputeAdmin(
    NationalIdSearchNeedsPermission, FastChangeListMixin, ReadOnlyMixin, admin.ModelAdmin
):
    list_display = ["claim", "member", "created_at"]
    list_select_related = ["claim", "member"]
    search_fields = ["=claim__id", "=member__national_id"]
    readonly_fields = ["claim", "member", "reason", "created_at"]


@admin.register(Condition)
class ConditionAdmin(SimpleHistoryAdmin):
    """A plan's covered conditions, with their dates in force; every change is kept (History).
    A claim is judged by the list in force on its event day, so a change is a new version
    from a date (end the old one the day before), never an edit of what earlier claims read."""

    list_display = ["plan", "code", "name_en", "name_zh", "category", "pays", "in_force_from",
                    "in_force_until"]  # fmt: skip
    list_filter = ["plan", "category"]
    search_fields = ["^code", "^name_en", "name_zh"]
    list_select_related = ["plan"]
    pays = yuan_column("pays_fen", _("pays (yuan; empty: the full cover)"), sortable=False)
