"""The public pages, no login: each posted period's report (HTML and JSON), the cases in
publicity, and the key that signs the periods' heads. Thin: billing/report.py reads."""

import datetime
from decimal import Decimal

from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views.decorators.http import conditional_page
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import permissions
from rest_framework.response import Response
from rest_framework.views import APIView

from billing import report, tree
from mutual.core.money import format_yuan


def _yuan_of_fen(exact: str) -> str:
    """An exact share in fen ('348.571429') as yuan to the fen, rounded half up."""
    return format_yuan(
        int((Decimal(exact) + Decimal("0.5")).to_integral_value(rounding="ROUND_FLOOR"))
    )


def _display(data: dict) -> dict:
    for case in data["cases"]:
        case["amount_yuan"] = format_yuan(case["amount_fen"])
        if case.get("publicity_ends_at"):  # the API's ISO 8601 instant, shown in Shanghai
            ends = timezone.localtime(datetime.datetime.fromisoformat(case["publicity_ends_at"]))
            case["publicity_ends_local"] = f"{ends:%Y-%m-%d %H:%M}"
    for share in data.get("shares", []):
        share["payable_yuan"] = _yuan_of_fen(share["payable_share_fen"])
    data["totals_yuan"] = {k: format_yuan(v) for k, v in data.get("totals", {}).items()}
    for estimate in [data.get("next_period_estimate"), *data.get("estimates", [])]:
        if estimate:
            estimate["share_yuan"] = _yuan_of_fen(estimate["share_fen"])
            estimate["payable_yuan"] = _yuan_of_fen(estimate["after_per_case_cap_fen"])
            estimate["sponsor_yuan"] = _yuan_of_fen(estimate["sponsor_fen"])
    return data


def index_page(request):
    return render(request, "billing/public/index.html", {"periods": report.public_periods()})


def _with_estimate(period) -> dict:
    data = report.period_report_kept(period)
    data["next_period_estimate"] = report.plan_estimate(period.plan, now=timezone.now())
    return data


def period_page(request, pk: int):
    period = get_object_or_404(report.public_periods(), pk=pk)
    data = _display(_with_estimate(period))
    return render(request, "billing/public/period.html", {"report": data, "period": period})


def cases_page(request):
    data = _display(
        {
            "cases": report.cases_in_publicity(),
            "estimates": report.next_period_estimates(now=timezone.now()),
        }
    )
    return render(request, "billing/public/cases.html", data)


class _Public(APIView):
    permission_classes = [permissions.AllowAny]
    authentication_classes = []


class PublicPeriodView(_Public):
    """A posted period's public report: anonymised cases, totals, shares per cohort, and the
    Merkle root of its bills with the signed head that chains it to the previous period."""

    @extend_schema(responses={200: OpenApiTypes.OBJECT, 304: None})
    @method_decorator(conditional_page)  # ETag of the answer; 304 to If-None-Match
    def get(self, request, pk: int):
        return Response(_with_estimate(get_object_or_404(report.public_periods(), pk=pk)))


class PublicCasesView(_Public):
    """Every plan's cases in their public window now, anonymised, and per plan an estimate
    of the next period's share per member from them (billing/rules/)."""

    @extend_schema(responses={200: OpenApiTypes.OBJECT, 304: None})
    @method_decorator(conditional_page)  # ETag of the answer; 304 to If-None-Match
    def get(self, request):
        return Response(
            {
                "results": report.cases_in_publicity(),
                "next_period_estimates": report.next_period_estimates(now=timezone.now()),
            }
        )


class SigningKeyView(_Public):
    """The Ed25519 public key that signs the periods' heads (64 hex digits)."""

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        return Response({"algorithm": "Ed25519", "public_key": tree.public_key_hex()})
