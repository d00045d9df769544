"""A claim's history on its page: each move of its state log in the reader's language, its time
in Shanghai (with its offset), who made it and why. The rows are django-fsm-log's, read only."""

from __future__ import annotations

from django.contrib import admin
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm_log.admin import StateLogInline

from claims.models import ClaimState

TRANSITIONS = {
    "submit": _("submitted"),
    "start_investigation": _("investigation started"),
    "withdraw": _("withdrawn"),
    "publicize": _("sent to publicity"),
    "open_dispute_review": _("sent to dispute review"),
    "approve": _("approved"),
    "reject": _("refused"),
    "mark_paid": _("paid"),
    "reopen": _("reopened"),
    "appeal_to_jury": _("appeal sent to a jury"),
    "audit_review": _("held for review by the audit"),
}


# The descriptions the services write in the log, word for word (others carry a reason or a
# staff member's note, shown as written).
DESCRIPTIONS = {
    "claim submitted": _("claim submitted"),
    "withdrawn by the member": _("withdrawn by the member"),
    "assigned to an investigator": _("assigned to an investigator"),
    "publicity closed without dispute": _("publicity closed without dispute"),
    "payout posted": _("payout posted"),
    "held for review by the audit": _("held for review by the audit"),
}


def _state(value: str) -> str:
    return ClaimState(value).label if value in ClaimState.values else value


class ClaimHistoryInline(StateLogInline):
    verbose_name = _("move")
    verbose_name_plural = _("history")
    fields = ("when", "move", "from_state", "to_state", "who", "note")

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    @admin.display(description=_("when"))
    def when(self, row):
        return f"{timezone.localtime(row.timestamp):%Y-%m-%d %H:%M:%S %z}"

    @admin.display(description=_("move"))
    def move(self, row):
        return TRANSITIONS.get(row.transition, row.transition)

    @admin.display(description=_("from"))
    def from_state(self, row):
        return _state(row.source_state)

    @admin.display(description=_("to"))
    def to_state(self, row):
        return _state(row.state)

    @admin.display(description=_("by"))
    def who(self, row):
        return row.by.get_username() if row.by_id else _("the system")

    @admin.display(description=_("note"))
    def note(self, row):
        return DESCRIPTIONS.get(row.description or "", row.description or "")
