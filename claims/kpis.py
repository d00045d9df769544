"""The claims desk's figures for the dashboard: open claims by state and age, the median and
90th percentile time in each state over the last 30 days, the first-pass rate, the overdue
counts and the audit sample's miss rate. Each is one aggregate query, whatever the number of
claims (the state log's time index keeps the 30 days cheap)."""

from __future__ import annotations

import datetime

from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.models import Count, Exists, OuterRef, Q

from claims.clock import overdue_q
from claims.models import AuditOutcome, Claim, ClaimAudit, ClaimState, InfoRequest

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
    return sorted(rows, key=lambda row: order[row["state"]])


_TIME_IN_STATE = """
WITH moved AS (
    SELECT s.object_id, s.source_state, s.timestamp
      FROM django_fsm_log_statelog s
     WHERE s.content_type_id = %(ct)s AND s.timestamp >= %(since)s AND s.timestamp < %(now)s
), spans AS (
    SELECT m.source_state,
           EXTRACT(EPOCH FROM m.timestamp - COALESCE(
               (SELECT max(p.timestamp) FROM django_fsm_log_statelog p
                 WHERE p.content_type_id = %(ct)s AND p.object_id = m.object_id
                   AND p.timestamp < m.timestamp),
               c.submitted_at)) AS seconds
      FROM moved m JOIN claims_claim c ON c.id = m.object_id
)
SELECT source_state, count(*),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds),
       percentile_cont(0.9) WITHIN GROUP (ORDER BY seconds)
  FROM spans WHERE source_state IS NOT NULL GROUP BY source_state
"""


def time_in_state(*, now: datetime.datetime) -> list[dict]:
    """Each state left in the last 30 days: how many moves, the median and the 90th
    percentile of the time spent in it (waits on the claimant included), in hours."""
    ct = ContentType.objects.get_for_model(Claim).pk
    with connection.cursor() as cursor:
        cursor.execute(_TIME_IN_STATE, {"ct": ct, "since": now - WINDOW, "now": now})
        rows = cursor.fetchall()
    order = {state: i for i, state in enumerate(ClaimState.values)}
    return [
        {"state": state, "moves": n, "median_hours": p50 / 3600, "p90_hours": p90 / 3600}
        for state, n, p50, p90 in sorted(rows, key=lambda r: order.get(r[0], 99))
    ]


def first_pass_rate(*, now: datetime.datetime) -> tuple[int, int]:
    """(decided with no request for information, decided) over the last 30 days."""
    asked = InfoRequest.objects.filter(claim=OuterRef("pk"))
    figures = Claim.objects.filter(
        state__in=[ClaimState.APPROVED, ClaimState.PAID, ClaimState.REJECTED],
        decided_at__gte=now - WINDOW,
        decided_at__lte=now,
    ).aggregate(decided=Count("pk"), first_pass=Count("pk", filter=~Exists(asked)))
    return figures["first_pass"], figures["decided"]


def audit_miss_rate(*, now: datetime.datetime, days: int = 90) -> tuple[int, int]:
    """(missed, reviewed) among the audit samples decided in the last `days` days: the share
    of approvals a second look would have stopped."""
    figures = ClaimAudit.objects.filter(
        decided_at__gte=now - days * DAY, decided_at__lte=now
    ).aggregate(reviewed=Count("pk"), missed=Count("pk", filter=Q(outcome=AuditOutcome.MISSED)))
    return figures["missed"], figures["reviewed"]


def desk_kpis(*, now: datetime.datetime) -> dict:
    first, decided = first_pass_rate(now=now)
    missed, reviewed = audit_miss_rate(now=now)
    return {
        "open": open_by_state_and_age(now=now),
        "time_in_state": time_in_state(now=now),
        "first_pass": (first, decided),
        "first_pass_share": None if not decided else first / decided,
        "audit_missed": (missed, reviewed),
        "audit_miss_share": None if not reviewed else missed / reviewed,
        "overdue": Claim.objects.filter(overdue_q(now)).count(),
    }
