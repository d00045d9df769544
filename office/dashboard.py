"""The admin index's dashboard: a few aggregate figures, cached a minute (counting ten million
memberships by plan and status is a scan), and bar charts drawn as SVG on the server."""

from __future__ import annotations

from django.core.cache import cache
from django.db.models import Count
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.text import format_lazy

from billing.models import FINISHED, ApportionmentPeriod, PeriodStatus
from claims.models import Claim, ClaimState
from members.models import Membership, MembershipStatus
from mutual.core.money import format_yuan

CACHE_SECONDS = 60
FAILURE_CHARS = 200


def dashboard_figures() -> dict:
    figures = cache.get("dashboard")
    if figures is None:
        figures = _compute()
        cache.set("dashboard", figures, CACHE_SECONDS)
    return figures


def _compute() -> dict:
    memberships = [
        # Lazy: the figures are kept a minute for readers of either language.
        (format_lazy("{} · {}", row["plan__code"], MembershipStatus(row["status"]).label), row["n"])
        for row in Membership.objects.values("plan__code", "status")
        .annotate(n=Count("pk")).order_by("plan__code", "status")
    ]  # fmt: skip
    by_state = dict(Claim.objects.values_list("state").annotate(n=Count("pk")))
    claims = [(label, by_state.get(value, 0)) for value, label in ClaimState.choices]
    now = timezone.now()
    windows = [
        (f"#{claim.pk} {claim.diagnosis[:30]}",
         max(0, round((claim.publicity_ends_at - now).total_seconds() / 86400, 1)))
        for claim in Claim.objects.filter(state=ClaimState.PUBLICIZED)
        .order_by("publicity_ends_at")[:10]
    ]  # fmt: skip
    periods = [
        {"period": str(p), "members": f"{p.members_count:,}", "total": format_yuan(p.total_fen),
         "share": format_yuan(p.charged_fen // p.members_count) if p.members_count else "—",
         "sponsor": format_yuan(p.sponsor_fen)}
        for p in ApportionmentPeriod.objects.filter(
            status__in=FINISHED).select_related("plan")
        .order_by("-cutoff_at")[:6]
    ]  # fmt: skip
    # When these figures were counted (they are kept a minute): shown beside them.
    computed_at = f"{timezone.localtime(now):%Y-%m-%d %H:%M:%S}"
    return {"memberships": memberships, "claims": claims, "windows": windows, "periods": periods,
            "computed_at": computed_at}  # fmt: skip


def failed_periods(*, limit: int = 10) -> dict:
    """Periods whose run failed, newest first, for the "needs attention" box. Not cached (a
    retry must clear it at once); one query, whatever the number of failed periods."""
    rows = list(
        ApportionmentPeriod.objects.filter(status=PeriodStatus.FAILED)
        .select_related("plan")
        .only("pk", "cutoff_at", "failed_at", "failure", "plan__code")
        .order_by("-failed_at", "-pk")[: limit + 1]
    )
    return {
        "periods": [
            {
                "period": str(period),
                "failed_at": period.failed_at,
                "failure": period.failure[:FAILURE_CHARS]
                + ("…" if len(period.failure) > FAILURE_CHARS else ""),
                "url": reverse("admin:billing_apportionmentperiod_change", args=[period.pk]),
            }
            for period in rows[:limit]
        ],
        "more": len(rows) > limit,
        "list_url": reverse("admin:billing_apportionmentperiod_changelist")
        + f"?status__exact={PeriodStatus.FAILED}",
    }


def bar_chart(items: list[tuple[str, float]], *, unit: str = "", width: int = 420) -> SafeString:
    """Horizontal bars, one row per item, scaled to the largest value."""
    if not items:
        return format_html("<p>{}</p>", "—")
    row, label_width = 22, 170
    largest = max(value for _, value in items) or 1
    bars = format_html_join(
        "",
        '<text x="0" y="{}" class="label">{}</text>'
        '<rect x="{}" y="{}" width="{}" height="14" rx="2"></rect>'
        '<text x="{}" y="{}" class="value">{}{}</text>',
        (
            (i * row + 12, label, label_width, i * row + 1,
             max(1, int((width - label_width - 70) * value / largest)),
             label_width + int((width - label_width - 70) * value / largest) + 6,
             i * row + 12, f"{value:,}", unit)
            for i, (label, value) in enumerate(items)
        ),
    )  # fmt: skip
    return format_html(
        '<svg class="dash-chart" role="img" width="{}" height="{}" '
        'viewBox="0 0 {} {}">{}</svg>',
        width, row * len(items), width, row * len(items), bars,
    )  # fmt: skip
