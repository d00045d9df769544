"""Finance's what-if page in the admin: N cases of given amounts over M members under a
plan's rules (billing/whatif.py, which runs billing/rules/). Thin: a form and a template."""

from __future__ import annotations

import re

from django import forms
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from billing import whatif
from members.models import Plan
from mutual.core.errors import ServiceError
from mutual.core.money import format_exact_yuan, format_yuan, parse_yuan

PERMISSION = "billing.view_apportionmentperiod"


class WhatIfForm(forms.Form):
    plan = forms.ModelChoiceField(Plan.objects.order_by("code"), label=_("plan"))
    amounts = forms.CharField(
        label=_("case amounts (yuan)"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One amount per case, separated by spaces, commas or new lines."),
        max_length=20_000,
    )
    members = forms.IntegerField(label=_("members"), min_value=1, max_value=10**9)
    year_to_date = forms.CharField(
        label=_("already paid this year per member (yuan)"), required=False, max_length=32
    )

    def clean_amounts(self) -> list[int]:
        words = [w for w in re.split(r"[\s,\uff0c]+", self.cleaned_data["amounts"]) if w]
        try:
            return [parse_yuan(w, field="amounts") for w in words]
        except ServiceError as error:
            raise forms.ValidationError(error.message) from None

    def clean_year_to_date(self) -> int:
        try:
            return parse_yuan(self.cleaned_data["year_to_date"], field="year_to_date") or 0
        except ServiceError as error:
            raise forms.ValidationError(error.message) from None


def _figures(outcome: whatif.Outcome) -> list[tuple[str, str]]:
    def exact(fen) -> str:
        return format_exact_yuan(fen)

    return [
        (_("cases"), f"{outcome.cases:,}"),
        (_("members"), f"{outcome.members:,}"),
        (_("payouts (yuan)"), format_yuan(outcome.cases_fen)),
        (_("management fees (yuan)"), format_yuan(outcome.fees_fen)),
        (_("cases and fees (yuan)"), format_yuan(outcome.total_fen)),
        (_("share per member, uncapped (yuan)"), exact(outcome.share_fen)),
        (_("taken off by the per-case cap (yuan)"), exact(outcome.per_case_cap_effect_fen)),
        (_("taken off by the yearly cap (yuan)"), exact(outcome.yearly_cap_effect_fen)),
        (_("charged per member (yuan)"), exact(outcome.charged_fen)),
        (_("charged to members in all (yuan)"), exact(outcome.collected_fen)),
        (_("covered by the sponsor (yuan)"), exact(outcome.sponsor_fen)),
    ]


def what_if_view(request, *, admin_site):
    if not request.user.has_perm(PERMISSION):
        raise PermissionDenied
    form = WhatIfForm(request.POST or None)
    figures = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            outcome = whatif.what_if(
                plan=data["plan"],
                amounts_fen=data["amounts"],
                members=data["members"],
                year_to_date_fen=data["year_to_date"],
                now=timezone.now(),
            )
        except ServiceError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            figures = _figures(outcome)
    context = {
        **admin_site.each_context(request),
        "title": _("What if: cases shared under a plan's rules"),
        "form": form,
        "figures": figures,
    }
    return TemplateResponse(request, "admin/billing/what_if.html", context)
