"""Changing a plan's rules: every change kept in its history, with the moment it is in force
from (members.selectors.plan_rules_at reads them back)."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from members.errors import ErrorCode
from members.models import Plan
from mutual.core.errors import ServiceError

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def plan_effective_at_check(
    *, plan: Plan, effective_at: datetime.datetime, now: datetime.datetime
) -> None:
    """Raise ServiceError unless a change of `plan` may be in force from `effective_at`.

    Not in the future: the plan's row holds the rules in force now, and every other reader
    (joining, publicity, the calendar) reads it. Not before the plan's last change: history
    rows then stay in the order of their effect, so each is the whole rule set in force until
    the next. Not on or before the cutoff of a period already billed: its rules are frozen."""
    if effective_at > now:
        raise ServiceError(
            "a change cannot take effect in the future: make it on the day it takes effect",
            code=ErrorCode.EFFECTIVE_IN_FUTURE,
            field="effective_at",
        )
    if plan.pk is None:
        return
    last = plan.history.order_by("-effective_at", "-history_id").first()
    if last is not None and effective_at < last.effective_at:
        raise ServiceError(
            "the plan's rules last changed with effect from "
            f"{timezone.localtime(last.effective_at):%Y-%m-%d %H:%M}; "
            "a change cannot take effect before that",
            code=ErrorCode.EFFECTIVE_BEFORE_LAST_CHANGE,
            field="effective_at",
        )
    billed = (
        plan.periods.exclude(status="open")  # billing.PeriodStatus.OPEN: not yet prepared
        .filter(cutoff_at__gte=effective_at)
        .order_by("-cutoff_at")
        .first()
    )
    if billed is not None:
        raise ServiceError(
            f"period {billed} is already billed with the rules in force at its cutoff; "
            "a change can take effect only after that cutoff",
            code=ErrorCode.PERIOD_BILLED,
            field="effective_at",
        )


@transaction.atomic
def plan_save(
    *,
    plan: Plan,
    by: User | None,
    now: datetime.datetime,
    effective_at: datetime.datetime | None = None,
) -> Plan:
    """Create or change a plan. Its history gets a row with the new values, who (`by`), when
    (`now`) and from when they are in force (`effective_at`, default now; see
    plan_effective_at_check). Periods are billed with the rules in force at their cutoff
    (members.selectors.plan_rules_at)."""
    if by is not None and not by.has_perm(
        "members.change_plan" if plan.pk is not None else "members.add_plan"
    ):
        raise PermissionDenied(f"{by} may not change plans")
    if plan.pk is not None:  # two changes at once: the second sees the first's history row
        Plan.objects.select_for_update().filter(pk=plan.pk).values_list("pk").get()
    effective_at = now if effective_at is None else effective_at
    plan_effective_at_check(plan=plan, effective_at=effective_at, now=now)
    plan._history_user = by
    plan._history_date = now
    plan._rules_effective_at = effective_at
    try:
        plan.save()
    finally:
        del plan._history_user, plan._history_date, plan._rules_effective_at
    return plan
