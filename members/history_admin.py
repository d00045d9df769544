"""The history of cover bands in the admin (cover by age is a money rule): who changed what,
when, in the reader's language (django-simple-history's own fields have English names)."""

from __future__ import annotations

from django.contrib import admin
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from members.models import CoverBand
from mutual.core.admin_tools import ReadOnlyMixin

CHANGES = {
    "+": pgettext_lazy("a change", "created"),
    "~": pgettext_lazy("a change", "changed"),
    "-": pgettext_lazy("a change", "deleted"),
}


@admin.register(CoverBand.history.model)
class CoverBandHistoryAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """Every change of a cover band: who, when, what it became. Read-only; shown to whoever
    may view plans."""

    list_display = ["changed_at", "changed_by", "change", "plan", "max_age_years", "cover_fen"]
    list_filter = ["plan"]
    list_select_related = ["history_user", "plan"]
    ordering = ["-history_date"]

    @admin.display(description=_("changed at"), ordering="history_date")
    def changed_at(self, row):
        return f"{timezone.localtime(row.history_date):%Y-%m-%d %H:%M:%S %z}"

    @admin.display(description=_("changed by"))
    def changed_by(self, row):
        return row.history_user.get_username() if row.history_user_id else "—"

    @admin.display(description=_("change"))
    def change(self, row):
        return CHANGES.get(row.history_type, row.history_type)

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("members.view_plan")

    def has_module_permission(self, request):
        return self.has_view_permission(request)
