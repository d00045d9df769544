"""Set-up for `bench_apportion`: a plan of N members built inside PostgreSQL, and approved cases.

The plan is kept (code `bench-N`) so that a second run measures again without rebuilding it."""

from __future__ import annotations

import datetime

from django.db import connection, transaction
from tqdm import tqdm

from claims.models import Claim, ClaimState
from members.models import CoverBand, Membership, Plan

BATCH = 500_000

_MEMBERS_SQL = """
WITH users AS (
    INSERT INTO auth_user (username, password, is_superuser, first_name, last_name, email,
                           is_staff, is_active, date_joined)
    SELECT %(prefix)s || i, '!', false, '', '', '', false, true, %(joined)s
      FROM generate_series(%(first)s, %(last)s) AS i
    RETURNING id
), people AS (
    INSERT INTO members_member (user_id, full_name, national_id, birth_date, created_at)
    SELECT id, 'Bench member', %(prefix)s || id, DATE '1990-01-01', %(joined)s FROM users
    RETURNING id
)
INSERT INTO members_membership (member_id, plan_id, status, joined_at, in_pool_since,
                                waiting_until, cover_fen)
SELECT id, %(plan)s, 'active', %(joined)s, %(joined)s, %(joined)s + interval '90 days', 30000000
  FROM people
"""


def bench_plan(*, members: int, joined: datetime.datetime) -> tuple[Plan, bool]:
    """The plan `bench-N` with N active members; (plan, True) when it had to be built."""
    plan, created = Plan.objects.get_or_create(
        code=f"bench-{members}", defaults={"name": f"Benchmark, {members:,} members"}
    )
    if created:
        CoverBand.objects.create(plan=plan, max_age_years=59, cover_fen=300_000_00)
    have = Membership.objects.filter(plan=plan).count()
    if have == members:
        return plan, False
    if have:
        raise RuntimeError(
            f"{plan.code} holds {have} memberships, not {members}: drop it or use another size"
        )
    with tqdm(total=members, unit="members") as progress:
        for first in range(1, members + 1, BATCH):
            last = min(first + BATCH - 1, members)
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(
                    _MEMBERS_SQL,
                    {
                        "prefix": f"bench{plan.pk}-",
                        "first": first,
                        "last": last,
                        "plan": plan.pk,
                        "joined": joined,
                    },
                )
            progress.update(last - first + 1)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE members_membership")
    return plan, True


def approved_cases(*, plan: Plan, count: int, now: datetime.datetime) -> list[Claim]:
    """`count` claims approved just now (a benchmark stand-in for the lifecycle, which has its
    own tests), publicized after every member joined so that everyone shares them."""
    claimants = Membership.objects.filter(plan=plan).order_by("pk")[:count]
    claims = []
    for index, membership in enumerate(claimants):
        amount = (300_000_00, 100_000_00, 123_456_78)[index % 3]
        claims.append(
            Claim.objects.create(
                membership=membership,
                plan=plan,
                state=ClaimState.APPROVED,
                incident_kind="accident",
                incident_date=now.date(),
                diagnosis_date=now.date(),
                diagnosis="benchmark case",
                hospital="benchmark",
                cover_fen=membership.cover_fen,
                amount_requested_fen=amount,
                amount_approved_fen=amount,
                submitted_at=now,
                publicity_starts_at=now,
                publicity_ends_at=now,
                decided_at=now,
            )
        )
    return claims
