"""Recoveries in the admin: finance records one on a paid claim (one service call), everyone
with the right reads the list. Rows are never changed nor deleted: a mistake is answered by
the books, not by an edit."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from billing import recoveries
from billing.models import Recovery
from claims.models import ReasonKind
from claims.reasons import reasons_of
from mutual.core.admin_tools import yuan_column
from mutual.core.errors import ServiceError
from mutual.core.money import parse_yuan


class RecoveryForm(forms.Form):
    claim = forms.IntegerField(label=_("claim number"), min_value=1)
    amount_yuan = forms.CharField(
        label=_("amount recovered (yuan)"), max_length=32, help_text=_("For example 300000.00")
    )
    reason = forms.ChoiceField(label=_("reason"))
    note = forms.CharField(label=_("note"), widget=forms.Textarea(attrs={"rows": 4}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason"].choices = [("", "---------")] + [
            (r.code, f"{r.code}: {r.text()}") for r in reasons_of(ReasonKind.RECOVERY)
        ]


@admin.register(Recovery)
class RecoveryAdmin(admin.ModelAdmin):
    list_display = ["recorded_at", "claim_link", "amount", "reason", "recorded_by"]
    list_select_related = ["reason", "recorded_by"]
    list_filter = ["plan", "reason"]
    search_fields = ["=claim__id"]
    readonly_fields = ["plan", "claim", "amount_fen", "reason", "note", "recorded_by",
                       "recorded_at", "posting"]  # fmt: skip
    amount = yuan_column("amount_fen", _("amount (yuan)"))

    @admin.display(description=_("claim"), ordering="claim_id")
    def claim_link(self, recovery):
        url = reverse("admin:claims_claim_change", args=[recovery.claim_id])
        return format_html('<a href="{}">#{}</a>', url, recovery.claim_id)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("record/", view(self.record_view), name="billing_recovery_record"),
            *super().get_urls(),
        ]

    def add_view(self, request, form_url="", extra_context=None):
        return self.record_view(request)

    def record_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = RecoveryForm(request.POST or None, initial={"claim": request.GET.get("claim")})
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                recovery = recoveries.claim_recover(
                    claim_id=data["claim"],
                    amount_fen=parse_yuan(data["amount_yuan"], field="amount_yuan"),
                    reason_code=data["reason"],
                    note=data["note"],
                    by=request.user,
                    now=timezone.now(),
                )
            except ServiceError as error:
                field = {"amount": "amount_yuan"}.get(error.field, error.field)
                form.add_error(field if field in form.fields else None, error.message)
            else:
                self.message_user(
                    request,
                    _("Recovery recorded on claim %(claim)s: the plan's next period spends it.")
                    % {"claim": recovery.claim_id},
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:billing_recovery_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Record a recovery"),
            "opts": self.model._meta,
            "form": form,
        }
        return TemplateResponse(request, "admin/billing/recovery/record.html", context)
