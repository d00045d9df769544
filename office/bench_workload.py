"""Set-up for `bench_apportion`: the real product's workload, built inside PostgreSQL.

- A plan of N members (code `bench-N-cK`, kept so that later runs reuse it) in households
  (30% of the members are dependants of an account holder) and in K cohorts:
  K - 1 entry dates spread over the two years before the plan's anchor (its creation), and the
  last cohort joining one by one through the fortnight before it, so that late joiners share
  only the cases publicized after they came (every case then has its own sharer count).
- Cases publicized evenly through that fortnight, approved now.
- A promotion: members of the first quarter of the cohorts pay nothing for the cases of the
  fortnight's first half (the sponsor does).
- An earlier posted period this year, whose bills put members' year to date anywhere from
  0 to 199 yuan, so that the 188-yuan yearly cap binds for some of them; and, for the figures
  of record, the half year of posted periods before it that production would hold.
- Leavers: 5% of the members leave during the fortnight of the notices, at times spread
  across it, so that they share the cases noticed before they left (their own cohorts)."""

from __future__ import annotations

import datetime

from django.db import connection, transaction
from tqdm import tqdm

from billing.models import ApportionmentPeriod, PeriodStatus, Promotion
from billing.partitions import bills_partition_create
from claims.models import Claim, ClaimState
from members.models import CoverBand, Member, Membership, Plan
from mutual.core.personal_data import seal_model

BATCH = 500_000
HISTORY = datetime.timedelta(days=730)
WINDOW = datetime.timedelta(days=15)

# Member i of N (1-based, in id order) is in cohort (i - 1) * K / N; the last cohort joins
# one by one through the window before the anchor. Households: in each ten, member 10k + 1 is
# the account holder (a login) and 10k + 2 .. 10k + 4 are the family they cover (no login):
# 30% of the members are dependants. Batches start at 10k + 1, so a household is never split.
_MEMBERS_SQL = """
WITH numbers AS (
    SELECT i, %(households)s AND i %% 10 BETWEEN 2 AND 4 AS dependant
      FROM generate_series(%(first)s, %(last)s) i
), users AS (
    INSERT INTO auth_user (username, password, is_superuser, first_name, last_name, email,
                           is_staff, is_active, date_joined)
    SELECT %(prefix)s || i, '!', false, '', '', '', false, true, %(anchor)s
      FROM numbers WHERE NOT dependant
    RETURNING id, username
), holders AS (
    INSERT INTO members_member (user_id, full_name, national_id, national_id_index, birth_date,
                                created_at, relationship)
    SELECT id, 'Bench member', username, 'clear:' || username, DATE '1990-01-01', %(anchor)s,
           'self' FROM users
    RETURNING id, national_id
), holder_numbers AS (
    SELECT id, substr(national_id, length(%(prefix)s) + 1)::bigint AS i FROM holders
), dependants AS (
    INSERT INTO members_member (user_id, full_name, national_id, national_id_index, birth_date,
                                created_at, relationship, payer_id)
    SELECT NULL, 'Bench family member', %(prefix)s || n.i, 'clear:' || %(prefix)s || n.i,
           DATE '2012-01-01', %(anchor)s, 'child', h.id
      FROM numbers n JOIN holder_numbers h ON h.i = n.i - n.i %% 10 + 1
     WHERE n.dependant
    RETURNING id, national_id
), numbered AS (
    SELECT id AS member_id, i FROM holder_numbers
    UNION ALL
    SELECT id, substr(national_id, length(%(prefix)s) + 1)::bigint FROM dependants
), joined AS (
    SELECT member_id, i,
           CASE WHEN %(cohorts)s = 1 THEN %(anchor)s - %(history)s
                WHEN (i - 1) * %(cohorts)s / %(total)s < %(cohorts)s - 1
                THEN %(anchor)s - %(history)s + (%(history)s - %(window)s)
                     * ((i - 1) * %(cohorts)s / %(total)s) / (%(cohorts)s - 1)
                ELSE %(anchor)s
                     - %(window)s * (%(total)s - i + 1) / (%(total)s - %(last_first)s + 1)
           END AS at
      FROM numbered
)
INSERT INTO members_membership (member_id, plan_id, status, joined_at, in_pool_since,
                                waiting_until, cover_fen)
SELECT member_id, %(plan)s, 'active', at, at, at + interval '90 days', 30000000
  FROM joined ORDER BY i
"""


def bench_plan(*, members: int, cohorts: int, households: bool = True) -> tuple[Plan, bool]:
    """The plan `bench-N-cK` with N active members (`bench-N-cK-solo`: every member an
    account holder); (plan, True) when it had to be built."""
    suffix = "" if households else "-solo"
    plan, created = Plan.objects.get_or_create(
        code=f"bench-{members}-c{cohorts}{suffix}",
        defaults={"name": f"Benchmark, {members:,} members in {cohorts} cohorts{suffix}"},
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
    if BATCH % 10:
        raise RuntimeError("a batch must hold whole households (a multiple of ten)")
    last_first = (cohorts - 1) * members // cohorts + 1  # first member of the last cohort
    before = Member.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
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
                        "total": members,
                        "cohorts": cohorts,
                        "last_first": last_first,
                        "plan": plan.pk,
                        "anchor": plan.created_at,
                        "history": HISTORY,
                        "window": WINDOW,
                        "households": households,
                    },
                )
            progress.update(last - first + 1)
    # Written in clear inside PostgreSQL, encrypted here as the migration encrypts.
    with tqdm(total=members, unit="sealed") as progress:
        seal_model(Member, after=before, progress=progress.update)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE members_membership")
    return plan, True


def promotion(plan: Plan) -> Promotion:
    """Members of the first quarter of the cohorts pay nothing for the window's first half."""
    anchor = plan.created_at
    promo, _ = Promotion.objects.get_or_create(
        plan=plan,
        name="benchmark promotion",
        defaults={
            "joined_before": anchor - HISTORY + (HISTORY - WINDOW) / 4,
            "cases_before": anchor - WINDOW / 2,
        },
    )
    return promo


def earlier_period(plan: Plan, *, cutoff_at: datetime.datetime) -> ApportionmentPeriod:
    """A posted period this year whose bills put each member's year to date at 0-199 yuan
    (written directly: this is the history the benchmark reads, not what it measures)."""
    period = ApportionmentPeriod.objects.create(
        plan=plan,
        starts_at=cutoff_at - WINDOW,
        cutoff_at=cutoff_at,
        status=PeriodStatus.POSTED,
        posted_at=cutoff_at,
    )
    bills_partition_create(period.pk)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO billing_bill (period_id, membership_id, cases_count, gross_fen,
                                      waived_fen, capped_fen, charged_fen,
                                      year_to_date_before_fen)
            SELECT %(period)s, id, 1, c, 0, 0, c, 0
              FROM (SELECT id, (id * 7919 %% 200) * 100 AS c
                      FROM members_membership WHERE plan_id = %(plan)s) m
            """,
            {"period": period.pk, "plan": plan.pk},
        )
        members = cursor.rowcount
    ApportionmentPeriod.objects.filter(pk=period.pk).update(members_count=members)
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM (ANALYZE) billing_bill_p{period.pk}")
    return period


def approved_claims(
    plan: Plan,
    claimant: Membership,
    cases: list[tuple[datetime.datetime, int]],
    *,
    decided_at: datetime.datetime,
) -> list[Claim]:
    """Claims approved at `decided_at`, one per (publicized_at, amount_fen): a stand-in for
    the lifecycle (which has its own tests), for benchmarks and billing tests."""
    return Claim.objects.bulk_create(
        Claim(
            membership=claimant,
            plan=plan,
            state=ClaimState.APPROVED,
            incident_kind="accident",
            incident_date=publicized.date(),
            diagnosis_date=publicized.date(),
            diagnosis="benchmark case",
            hospital="benchmark",
            cover_fen=claimant.cover_fen,
            amount_requested_fen=amount,
            amount_approved_fen=amount,
            submitted_at=publicized,
            publicity_starts_at=publicized,
            publicity_ends_at=publicized,
            decided_at=decided_at,
        )
        for publicized, amount in cases
    )


def approved_cases(*, plan: Plan, count: int, now: datetime.datetime) -> list[Claim]:
    """`count` claims approved now, publicized evenly through the window before the anchor."""
    claimant = Membership.objects.filter(plan=plan).order_by("pk").first()
    start = plan.created_at - WINDOW
    amounts = (300_000_00, 100_000_00, 123_456_78)
    return approved_claims(
        plan,
        claimant,
        [(start + WINDOW * i / count, amounts[i % 3]) for i in range(count)],
        decided_at=now,
    )


def history(plan: Plan, *, periods: int, before: datetime.datetime) -> int:
    """Posted periods of the plan, one a fortnight back from `before`, each with a bill per
    member (written directly: the database a production run would meet, half a year of
    periods for 12). Kept: later runs count what exists and add only what is missing.
    Returns how many were added."""
    have = ApportionmentPeriod.objects.filter(
        plan=plan, status=PeriodStatus.POSTED, cutoff_at__lt=before, chunks_total=0
    ).count()
    added = 0
    for k in range(have, periods):
        cutoff = before - WINDOW * (periods - k + 1)
        period = earlier_period(plan, cutoff_at=cutoff)
        added += period is not None
    return added


def leavers(plan: Plan, *, share: float, now: datetime.datetime) -> int:
    """Make `share` of the plan's members leave during the window of the notices (spread
    across it, never before they entered the pool): or, with share 0, bring back those who
    were made to. Returns the memberships changed."""
    every = round(1 / share) if share else 0
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE members_membership SET status = 'active', ended_at = NULL, end_reason = '' "
            "WHERE plan_id = %s AND end_reason = 'bench-left'",
            [plan.pk],
        )
        changed = cursor.rowcount
        if every:
            cursor.execute(
                """UPDATE members_membership
                      SET status = 'withdrawn', end_reason = 'bench-left',
                          ended_at = greatest(in_pool_since + interval '1 second',
                                              %(start)s + %(window)s * ((id * 7919) %% 1000) / 1000)
                    WHERE plan_id = %(plan)s AND status = 'active' AND id %% %(every)s = 7""",
                {"start": plan.created_at - WINDOW, "window": WINDOW, "plan": plan.pk,
                 "every": every},
            )  # fmt: skip
            changed = cursor.rowcount
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE members_membership")
    return changed
