from django import template

from office.dashboard import bar_chart, dashboard_figures, failed_periods

register = template.Library()


@register.simple_tag
def dashboard() -> dict:
    return dashboard_figures()


@register.simple_tag(takes_context=True)
def needs_attention(context) -> dict | None:
    """Failed periods, for users who may see periods (finance); None for the others."""
    user = context.get("user")
    if user is None or not user.has_perm("billing.view_apportionmentperiod"):
        return None
    return failed_periods()


@register.simple_tag(takes_context=True)
def more_attention(context) -> dict | None:
    """Stuck chunks, undelivered notices, claims waiting on a reviewer or on their jury's
    draw (office.attention)."""
    from django.utils import timezone

    from office.attention import attention_for

    user = context.get("user")
    if user is None or not user.is_authenticated:
        return None
    return attention_for(user, now=timezone.now())


@register.simple_tag
def chart(items, unit: str = ""):
    return bar_chart(items, unit=unit)


@register.simple_tag(takes_context=True)
def desk_figures(context) -> dict | None:
    """The claims desk's KPIs (claims.kpis), for staff who see claims; cached a minute."""
    from django.core.cache import cache
    from django.utils import timezone

    from claims.kpis import desk_kpis

    user = context.get("user")
    if user is None or not user.has_perm("claims.view_claim"):
        return None
    figures = cache.get("desk-kpis")
    if figures is None:
        now = timezone.now()
        figures = desk_kpis(now=now) | {
            "computed_at": f"{timezone.localtime(now):%Y-%m-%d %H:%M:%S}"
        }
        cache.set("desk-kpis", figures, 60)
    return figures
