"""What members' plans tell them, through the notifications app: a lapse, and a cover that
ended or moved (a dependant's notices reach their account holder). Written by the services
that cause each event, in its transaction."""

from __future__ import annotations

import datetime

from django.utils.translation import gettext as _

from notifications.messages import renders
from notifications.models import NoticeKind
from notifications.services import notify


def notify_membership_lapsed(*, membership, reason: str, now: datetime.datetime) -> int:
    """The member is told their membership lapsed, and why (a withdrawal is not told)."""
    return notify(
        member_ids=[membership.member_id],
        kind=NoticeKind.LAPSE,
        event=f"lapse:{membership.pk}",
        payload={"plan": membership.plan.name, "reason": reason},
        now=now,
    )


def notify_cover_ended(
    *, membership, reason: str, now: datetime.datetime, moved_to: str = ""
) -> int:
    """The person is told their cover ended, and why, or that it moved to another plan (a
    dependant's notices go to their account holder). Once per membership."""
    member = membership.member
    payload = {"plan": membership.plan.name, "reason": reason}
    if member.payer_id is not None:
        payload["person"] = member.full_name
    if moved_to:
        payload["moved_to"] = moved_to
    return notify(
        member_ids=[member.pk],
        kind=NoticeKind.COVER,
        event=f"cover:{membership.pk}",
        payload=payload,
        now=now,
    )


@renders(NoticeKind.LAPSE)
def _lapse(p: dict) -> tuple[str, str]:
    facts = {"plan": p["plan"], "reason": p["reason"]}
    return (
        _("Your membership of %(plan)s has lapsed") % facts,
        _("Your membership of %(plan)s lapsed: %(reason)s.") % facts,
    )


@renders(NoticeKind.COVER)
def _cover(p: dict) -> tuple[str, str]:
    whose = _("%(person)s's") % {"person": p["person"]} if p.get("person") else _("Your")
    facts = {"whose": whose, "plan": p["plan"], "reason": p["reason"],
             "moved_to": p.get("moved_to")}  # fmt: skip
    if p.get("moved_to"):
        return (
            _("%(whose)s cover moved to %(moved_to)s") % facts,
            _(
                "%(whose)s cover in %(plan)s ended: %(reason)s. It continues in %(moved_to)s, "
                "with no new waiting period."
            )
            % facts,
        )
    return (
        _("%(whose)s cover in %(plan)s has ended") % facts,
        _("%(whose)s cover in %(plan)s ended: %(reason)s.") % facts,
    )
