from django import template

from mutual.dashboard import bar_chart, dashboard_figures

register = template.Library()


@register.simple_tag
def dashboard() -> dict:
    return dashboard_figures()


@register.simple_tag
def chart(items, unit: str = ""):
    return bar_chart(items, unit=unit)
