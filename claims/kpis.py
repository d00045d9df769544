"""The claims desk's figures for the dashboard: open claims by state and age, the median and
90th percentile time in each state over the last 30 days, the first-pass rate, the overdue
counts, the audit sample's miss rate and the refusals and withdrawals by reason code. Each is
one aggregate query, whatever the number of claims (each reads an index: the spans by the time
they ended, the claims by state or decision time)."""

from __future__ import annotations

import datetime

from django.db.models import Aggregate, BigIntegerField, Count, Exists, OuterRef, Q

from claims.clock import overdue_q
from claims.models import (
    AuditOutcome,
    Claim,
    ClaimAudit,
    ClaimState,
    InfoRequest,
    Reason,
    StateSpan,
)

OPEN_STATES = (
    ClaimState.SUBMITTED,
    ClaimState.INVESTIGATING,
    ClaimState.PUBLICIZED,
    ClaimState.DISPUTED,
    ClaimState.APPROVED,
)
AGE_BUCKETS = (("d0_2", 2), ("d3_7", 7), ("d8_30", 30), ("d31_", None))
WINDOW = datetime.timedelta(days=30)
DAY = datetime.timedelta(days=1)


def open_by_state_and_age(*, now: datetime.datetime) -> list[dict]:
    """For each open state: how many claims, by days since they entered it, and how many late."""
    buckets = {}
    low = None
    for label, days in AGE_BUCKETS:
        q = Q()
        if low is not None:
            q &= Q(state_since__lte=now - low * DAY)
        if days is not None:
            q &= Q(state_since__gt=now - (days + 1) * DAY)
        buckets[label] = Count("pk", filter=q)
        low = None if days is None else days + 1
    rows = (
        Claim.objects.filter(state__in=OPEN_STATES)
        .values("state")
        .annotate(total=Count("pk"), late=Count("pk", filter=overdue_q(now)), **buckets)
        .order_by("state")
    )
    order = {state: i for i, state in enumerate(OPEN_STATES)}
    return [
        row | {"label": ClaimState(row["state"]).label}
        for row in sorted(rows, key=lambda row: order[row["state"]])
    ]


def time_in_state(*, now: datetime.datetime) -> list[dict]:
    """Each state left in the last 30 days: how many stays, the median and the 90th
    percentile of the time worked in it (waits on the claimant left out), in hours to one
    decimal."""
    rows = (
        StateSpan.objects.filter(left_at__gt=now - WINDOW, left_at__lte=now)
        .values("state")
        .annotate(
            moves=Count("pk"),
            p50=Percentile("median"),
            p90=Percentile("p90"),
        )
        .values_list("state", "moves", "p50", "p90")
    )
    order = {state: i for i, state in enumerate(ClaimState.values)}
    return [
        {
            "state": state,
            "label": ClaimState(state).label,
            "moves": n,
            "median_hours": _hours(p50),
            "p90_hours": _hours(p90),
        }
        for state, n, p50, p90 in sorted(rows, key=lambda r: order.get(r[0], 99))
    ]


def _hours(seconds: int) -> str:
    """Whole seconds as hours to one decimal, in integer arithmetic ("12.5")."""
    tenths = (seconds * 10 + 1800) // 3600
    return f"{tenths // 10}.{tenths % 10}"


class Percentile(Aggregate):
    """PostgreSQL's percentile_cont over the spans' worked seconds, rounded to whole seconds
    in the database (no float reaches Python)."""

    function = "percentile_cont"
    template = "round(%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s))::bigint"
    output_field = BigIntegerField()
    FRACTIONS = {"median": "0.5", "p90": "0.9"}

    def __init__(self, which: str):
        super().__init__("worked_seconds", fraction=self.FRACTIONS[which])


def first_pass_rate(*, now: datetime.datetime) -> tuple[int, int]:
    """(decided with no request for information, decided) over the last 30 days. Grouped by
    the test, so that PostgreSQL hashes the requests once (an aggregate FILTER with the same
    test ran it per claim: 0.85 s at a million claims)."""
    asked = InfoRequest.objects.filter(claim=OuterRef("pk"))
    rows = dict(
        Claim.objects.filter(
            state__in=[ClaimState.APPROVED, ClaimState.PAID, ClaimState.REJECTED],
            decided_at__gte=now - WINDOW,
            decided_at__lte=now,
        )
        .annotate(first_pass=~Exists(asked))
        .values("first_pass")
        .annotate(n=Count("pk"))
        .values_list("first_pass", "n")
    )
    return rows.get(True, 0), sum(rows.values())


def audit_miss_rate(*, now: datetime.datetime, days: int = 90) -> tuple[int, int]:
    """(missed, reviewed) among the audit samples decided in the last `days` days: the share
    of approvals a second look would have stopped."""
    figures = ClaimAudit.objects.filter(
        decided_at__gte=now - days * DAY, decided_at__lte=now
    ).aggregate(reviewed=Count("pk"), missed=Count("pk", filter=Q(outcome=AuditOutcome.MISSED)))
    return figures["missed"], figures["reviewed"]


def closed_by_reason(*, now: datetime.datetime) -> list[dict]:
    """Claims refused or withdrawn in the last 30 days, by their reason code (the catalogue's),
    the most frequent first: one aggregate over the decisions' index."""
    rows = (
        Claim.objects.filter(
            state__in=[ClaimState.REJECTED, ClaimState.WITHDRAWN],
            decided_at__gte=now - WINDOW,
            decided_at__lte=now,
        )
        .values("state", "reason_id")
        .annotate(n=Count("pk"))
        .order_by("-n", "state", "reason_id")
    )
    rows = list(rows)
    reasons = Reason.objects.in_bulk([row["reason_id"] for row in rows if row["reason_id"]])
    return [
        {
            "state": row["state"],
            "label": ClaimState(row["state"]).label,
            "code": reasons[row["reason_id"]].code if row["reason_id"] else "—",
            # Both languages: the panel is kept a minute for readers of either.
            "text_en": reasons[row["reason_id"]].text_en if row["reason_id"] else "",
            "text_zh": reasons[row["reason_id"]].text_zh if row["reason_id"] else "",
            "count": row["n"],
        }
        for row in rows
    ]


def desk_kpis(*, now: datetime.datetime) -> dict:
    first, decided = first_pass_rate(now=now)
    missed, reviewed = audit_miss_rate(now=now)
    return {
        "open": open_by_state_and_age(now=now),
        "time_in_state": time_in_state(now=now),
        "first_pass": (first, decided),
        "audit_missed": (missed, reviewed),
        "overdue": Claim.objects.filter(overdue_q(now)).count(),
        "closed_by_reason": closed_by_reason(now=now),
    }
