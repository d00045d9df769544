"""Reading a plan's rules as they were: the money rules in force at a given moment; and who
was covered at a given moment (a case's sharers)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, fields

from django.db.models import Q

from members.models import Plan


def covered_at_q(at: datetime.datetime, *, prefix: str = "") -> Q:
    """Memberships covered at the instant `at`: in the pool before it, and their cover not
    ended by then. A case's sharers are the memberships of its plan covered at the start of
    its notice (billing/rules/ states the same rule for the period's run)."""
    return Q(**{f"{prefix}in_pool_since__lt": at}) & (
        Q(**{f"{prefix}ended_at__isnull": True}) | Q(**{f"{prefix}ended_at__gt": at})
    )


@dataclass(frozen=True)
class PlanRules:
    """A plan's money rules in force from `effective_at` (None: from the plan's beginning)."""

    management_fee_bp: int
    per_case_cap_fen: int
    yearly_cap_fen: int
    illness_waiting_days: int
    accident_waiting_days: int
    publicity_days: int
    cutoff_days: tuple[int, ...]
    payout_delay_days: int
    effective_at: datetime.datetime | None


RULE_FIELDS = [field.name for field in fields(PlanRules) if field.name != "effective_at"]


def _rules(source, effective_at: datetime.datetime | None) -> PlanRules:
    values = {name: getattr(source, name) for name in RULE_FIELDS}
    values["cutoff_days"] = tuple(values["cutoff_days"])
    return PlanRules(**values, effective_at=effective_at)


def plan_rules_at(*, plan: Plan, at: datetime.datetime) -> PlanRules:
    """The rules in force at `at`: those of the plan's last history row in force from `at` or
    earlier (rows are kept in the order of their effect; see members.plan_rules.plan_save).

    Before the plan's first row, its first rules: a plan's rules before it was entered are
    the ones it was entered with (seeds and tests enter plans after their first periods). A
    plan with no history at all (rows written around the model, e.g. by bulk insert) has only
    its present rules."""
    history = Plan.history.filter(id=plan.pk)
    in_force = history.filter(effective_at__lte=at).order_by("-effective_at", "-history_id")
    row = in_force.first()
    if row is not None:
        return _rules(row, row.effective_at)
    first = history.order_by("effective_at", "history_id").first()
    if first is not None:
        return _rules(first, None)
    return _rules(plan, None)
