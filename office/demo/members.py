"""Demo plans and members, generated inside PostgreSQL (INSERT ... SELECT from generate_series),
so a million members take seconds; then their national ids are encrypted in batches, as the
migration of issue 22 encrypts (mutual.core.personal_data.seal_model).

Every attribute derives from md5(seed, index): the same --seed gives the same people."""

from __future__ import annotations

import datetime

from django.db import connection, transaction

from members.models import CoverBand, Member, Plan
from mutual.core.personal_data import seal_model

OLD_PLAN = "mutual-protection"
NEW_PLAN = "mutual-treasure"
SENIOR_PLAN = "mutual-senior"
USERNAME_PREFIX = "demo"
PLANS_SINCE = datetime.date(2018, 10, 16)  # the real plan's launch


def ensure_demo_plans() -> tuple[Plan, Plan]:
    """The seed's two pools: the old plan (closed) and its successor; and the successor's
    plan for 60 to 70 year olds (cancer only, at most 1 yuan a case), where members move at
    60. Each with its list of covered conditions (claims.catalogue). Idempotent."""
    from claims.catalogue import catalogue_load_senior, catalogue_load_standard

    old, _ = Plan.objects.get_or_create(
        code=OLD_PLAN,
        defaults={
            "name": "Mutual Protection (2018)",
            "accepting_members": False,
            "management_fee_bp": 1000,
        },
    )
    # Xiang Hu Bao apportioned on the 14th and the 28th and paid the same day: the seed's case,
    # public from 7 to 10 December 2018, was paid on the 14th.
    new, _ = Plan.objects.get_or_create(
        code=NEW_PLAN,
        defaults={"name": "Mutual Treasure", "cutoff_days": [14, 28], "payout_delay_days": 0},
    )
    for plan in (old, new):
        CoverBand.objects.get_or_create(
            plan=plan, max_age_years=39, defaults={"cover_fen": 300_000_00}
        )
        CoverBand.objects.get_or_create(
            plan=plan, max_age_years=59, defaults={"cover_fen": 100_000_00}
        )
    senior, _ = Plan.objects.get_or_create(
        code=SENIOR_PLAN,
        defaults={
            "name": "Plan for 60 to 70 year olds",
            "min_age_years": 60,
            "max_age_years": 70,
            "per_case_cap_fen": 100,
            "cutoff_days": [14, 28],
            "payout_delay_days": 0,
        },
    )
    CoverBand.objects.get_or_create(
        plan=senior, max_age_years=65, defaults={"cover_fen": 100_000_00}
    )
    CoverBand.objects.get_or_create(
        plan=senior, max_age_years=70, defaults={"cover_fen": 50_000_00}
    )
    if new.age_successor_id is None:
        Plan.objects.filter(pk=new.pk).update(age_successor=senior)
        new.refresh_from_db()
    catalogue_load_standard(plan=new, since=PLANS_SINCE, real_plan_changes=True)
    catalogue_load_senior(plan=senior, since=PLANS_SINCE)
    return old, new


# One statement per batch creates the login, the person and the membership.
# h(i) = a 31-bit number from md5(seed || ':' || i || ':' || salt), stable across runs.
_BATCH_SQL = """
WITH numbers AS (
    SELECT i,
           ('x' || substr(md5(%(seed)s || ':' || i || ':age'), 1, 8))::bit(32)::int & 2147483647
               AS h_age,
           ('x' || substr(md5(%(seed)s || ':' || i || ':join'), 1, 8))::bit(32)::int & 2147483647
               AS h_join,
           ('x' || substr(md5(%(seed)s || ':' || i || ':kind'), 1, 8))::bit(32)::int & 2147483647
               AS h_kind
      FROM generate_series(%(first)s, %(last)s) AS i
), users AS (
    INSERT INTO auth_user (username, password, is_superuser, first_name, last_name, email,
                           is_staff, is_active, date_joined)
    SELECT %(prefix)s || i, '!', false, '', '', '', false, true, %(now)s FROM numbers
    RETURNING id, username
), people AS (
    INSERT INTO members_member (user_id, full_name, national_id, national_id_index, birth_date,
                                created_at)
    SELECT users.id,
           'Member ' || n.i,
           'D' || %(seed)s || '-' || lpad(n.i::text, 9, '0'),
           'clear:D' || %(seed)s || '-' || lpad(n.i::text, 9, '0'),
           %(today)s::date - (40 + n.h_age %% (59 * 365))::int,
           %(now)s
      FROM users JOIN numbers AS n ON users.username = %(prefix)s || n.i
    RETURNING id, user_id, birth_date
)
INSERT INTO members_membership (member_id, plan_id, status, joined_at, in_pool_since,
                                waiting_until, cover_fen, ended_at)
SELECT people.id,
       CASE WHEN n.h_kind %% 10 = 0 THEN %(old_plan)s ELSE %(new_plan)s END,
       status,
       joined,
       joined,
       joined + make_interval(days => %(waiting_days)s),
       CASE WHEN date_part('year', age(%(today)s::date, people.birth_date)) <= 39
            THEN 30000000 ELSE 10000000 END,
       CASE WHEN status = 'active' THEN NULL ELSE %(now)s END
  FROM people
  JOIN users ON users.id = people.user_id
  JOIN numbers AS n ON users.username = %(prefix)s || n.i
 CROSS JOIN LATERAL (
       SELECT %(now)s - make_interval(days => 1 + n.h_join %% 400) AS joined,
              CASE n.h_kind %% 50 WHEN 1 THEN 'lapsed' WHEN 2 THEN 'withdrawn'
                   ELSE 'active' END AS status
 ) AS derived
"""


def existing_demo_members() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM auth_user WHERE username LIKE %s", [USERNAME_PREFIX + "%"]
        )
        return cursor.fetchone()[0]


def create_demo_members(
    *,
    first: int,
    last: int,
    seed: int,
    now: datetime.datetime,
    old: Plan,
    new: Plan,
    seal: bool = True,
) -> int:
    """Members number `first`..`last` (inclusive), in one transaction, sealed (unless `seal`
    is false: bench_seal times that pass itself). Returns the largest member id before."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(id), 0) FROM members_member")
        (before,) = cursor.fetchone()
        cursor.execute(
            _BATCH_SQL,
            {
                "seed": str(seed),
                "first": first,
                "last": last,
                "prefix": USERNAME_PREFIX,
                "now": now,
                "today": now.date(),
                "old_plan": old.pk,
                "new_plan": new.pk,
                "waiting_days": new.illness_waiting_days,
            },
        )
        if seal:
            seal_model(Member, after=before)
    return before
