"""The apportionment's SQL: who may owe, each member's cohort (rules.Calendar's place, as
three width_buckets), and one chunk's INSERT ... SELECT of bills. The statements are built from
the period's calendar and cohorts; no statement grows with the number of cases (the cohorts'
figures travel as array parameters). billing/apportion.py runs them."""

from __future__ import annotations

from django.conf import settings
from django.db import connection

from billing import partitions, rules
from billing.models import ApportionmentPeriod, PeriodChunk, PeriodCohort

# Who may owe anything this period (rules.may_owe): in the pool by the cutoff, and covered at
# its first notice or later (a cover that ended before every notice shares nothing). Whether
# they share a case, and which, is their cohort.
_ELIGIBLE = """
    m.plan_id = %(plan)s AND m.in_pool_since <= %(cutoff)s
    AND (m.ended_at IS NULL OR m.ended_at > %(lower)s)
"""
# rules.Calendar.place: entry, exit (the notices strictly before the cover ended, all of them
# if it had not ended by the last), waiver class.
_PLACE = """
    width_bucket(m.in_pool_since, %(publicity)s::timestamptz[]) AS entry,
    CASE WHEN m.ended_at IS NULL OR m.ended_at > %(last_notice)s THEN %(notices)s
         ELSE width_bucket(m.ended_at - interval '1 microsecond', %(publicity)s::timestamptz[])
    END AS exit,
    width_bucket(m.joined_at, %(waivers)s::timestamptz[]) AS waiver_class
"""
# rules.Calendar.raw_cohort, and cohort_of (`exits`: the sorted keys prepare listed).
_RAW_COHORT = """
    CASE WHEN p.exit >= %(notices)s THEN p.entry * %(classes)s + p.waiver_class
         WHEN p.exit <= p.entry THEN %(notices)s * %(classes)s + p.waiver_class
         ELSE %(base)s + (p.entry::bigint * (%(notices)s + 1) + p.exit) * %(classes)s
              + p.waiver_class
    END
"""
_COHORT = """
    CASE WHEN p.exit >= %(notices)s THEN p.entry * %(classes)s + p.waiver_class
         WHEN p.exit <= p.entry THEN %(notices)s * %(classes)s + p.waiver_class
         ELSE %(base)s - 1 + width_bucket(
             (p.entry::bigint * (%(notices)s + 1) + p.exit) * %(classes)s + p.waiver_class,
             %(exits)s::bigint[])
    END
"""


def _calendar_params(calendar: rules.Calendar, cutoff_at) -> dict:
    return {
        "publicity": list(calendar.publicity),
        "waivers": list(calendar.waivers),
        "classes": calendar.classes,
        "notices": len(calendar.publicity),
        "last_notice": calendar.publicity[-1],
        "lower": min(calendar.publicity[0], cutoff_at),
        "base": calendar.base,
        "exits": list(calendar.exits),
    }


def members_per_group(
    period: ApportionmentPeriod, calendar: rules.Calendar, low_id: int
) -> tuple[rules.Calendar, dict[tuple[int, int], int]]:
    """One pass over the plan's memberships: eligible members per (chunk, cohort). Returns
    the calendar with the cohorts of covers that ended during the notices listed, and the
    groups numbered by it."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT (p.id - %(low)s) / %(size)s, {_RAW_COHORT}, count(*) "
            f"FROM (SELECT m.id, {_PLACE} FROM members_membership m WHERE {_ELIGIBLE}) AS p "
            "GROUP BY 1, 2",
            {
                "plan": period.plan_id,
                "cutoff": period.cutoff_at,
                "low": low_id,
                "size": settings.APPORTION_CHUNK_IDS,
                **_calendar_params(calendar, period.cutoff_at),
            },
        )
        raw = cursor.fetchall()
    calendar = calendar.with_exits(c - calendar.base for _, c, _ in raw if c >= calendar.base)
    dense = {key: calendar.base + i for i, key in enumerate(calendar.exits)}
    groups: dict[tuple[int, int], int] = {}
    for chunk, cohort, count in raw:
        if cohort >= calendar.base:
            cohort = dense[cohort - calendar.base]
        groups[chunk, cohort] = groups.get((chunk, cohort), 0) + count
    return calendar, groups


MAX_COHORTS = 2**22  # the chunk's sort key: cohort << 40, plus 40 bits of hash (signed)
_CHUNK_SQL = """
WITH eligible AS (
    SELECT p.id AS membership_id, {cohort} + 1 AS cohort, p.carries
      FROM (SELECT m.id, {place},
                   m.ended_at IS NULL OR m.ended_at > %(cutoff)s AS carries
              FROM members_membership m
             WHERE {eligible} AND m.id BETWEEN %(lo)s AND %(hi)s) AS p
), drawn AS (
    -- The chunk in draw order: by cohort, then by draw key (billing/draw.py), as one 64-bit
    -- sort key (a third of the time of sorting on cohort, hash and id). A member's place in
    -- the chunk is their place in their cohort plus the chunk's members in lower cohorts,
    -- which prepare counted: the `last_*` arrays are that count plus the cohort's extra fen.
    SELECT e.membership_id, e.cohort, e.carries, {year_to_date} AS ytd,
           row_number() OVER (
               ORDER BY (e.cohort::bigint << 40)
                        + (hashint8extended(e.membership_id, %(period)s) >> 24),
                        e.membership_id
           ) AS place
      FROM eligible e {previous_bills}
), amounts AS (
    SELECT membership_id, ytd, carries,
           (%(cases)s::int[])[cohort] AS cases,
           (%(gross)s::bigint[])[cohort] + (place <= (%(last_gross)s::int[])[cohort])::int
               AS gross,
           (%(net)s::bigint[])[cohort] + (place <= (%(last_net)s::int[])[cohort])::int AS net,
           (%(payable)s::bigint[])[cohort] + (place <= (%(last_payable)s::int[])[cohort])::int
               AS payable
      FROM drawn
), bills AS (
    SELECT membership_id, cases, gross, net, ytd,
           least(payable, greatest(0, %(year_cap)s - ytd)) AS charged
      FROM amounts
     WHERE cases > 0 OR (ytd > 0 AND carries)
), inserted AS ({write})
SELECT count(*), coalesce(sum(gross_fen), 0), coalesce(sum(charged_fen), 0),
       coalesce(max(charged_fen), 0)
  FROM inserted
"""
_WRITE_BILLS = """
    INSERT INTO {table} (period_id, membership_id, cases_count, gross_fen, waived_fen,
                              capped_fen, charged_fen, year_to_date_before_fen)
    SELECT %(period)s, membership_id, cases, gross, gross - net, net - charged, charged, ytd
      FROM bills
    RETURNING gross_fen, charged_fen
"""
_DRY_RUN = "SELECT gross AS gross_fen, charged AS charged_fen FROM bills"
_PREVIOUS_BILLS = """
      LEFT JOIN billing_bill p
        ON p.period_id = %(previous)s AND p.membership_id = e.membership_id
       AND p.membership_id BETWEEN %(lo)s AND %(hi)s
"""


def chunk_statement(
    period: ApportionmentPeriod, chunk: PeriodChunk, *, dry_run: bool = False
) -> tuple[str, dict]:
    cases = period.rule_cases()
    exits = period.cohorts.filter(index__gte=rules.Calendar.of(cases).base).order_by("index")
    calendar = rules.Calendar.of(cases).with_exits(exits.values_list("exit_key", flat=True))
    size = calendar.size
    arrays = {name: [0] * size for name in ("cases", "gross", "net", "payable")}
    for row in PeriodCohort.objects.filter(period=period).values_list(
        "index", "cases_count", "gross_base_fen", "net_base_fen", "payable_base_fen"
    ):
        index = row[0]
        for name, value in zip(("cases", "gross", "net", "payable"), row[1:], strict=True):
            arrays[name][index] = value
    # The last place in the chunk that pays a cohort's extra fen (0: nobody does).
    last = {name: [0] * size for name in ("last_gross", "last_net", "last_payable")}
    for cohort, gross, net, payable, before in chunk.extras:
        for name, extra in (("last_gross", gross), ("last_net", net), ("last_payable", payable)):
            last[name][cohort] = before + extra if extra else 0
    has_previous = period.previous_period_id is not None
    sql = _CHUNK_SQL.format(
        cohort=_COHORT,
        place=_PLACE,
        eligible=_ELIGIBLE,
        year_to_date=(
            "coalesce(p.year_to_date_before_fen, 0) + coalesce(p.charged_fen, 0)"
            if has_previous
            else "0::bigint"
        ),
        previous_bills=_PREVIOUS_BILLS if has_previous else "",
        write=_DRY_RUN if dry_run else _WRITE_BILLS.format(table=partitions.bills_table(period.pk)),
    )
    params = {
        "plan": period.plan_id,
        "period": period.pk,
        "previous": period.previous_period_id,
        "cutoff": period.cutoff_at,
        "lo": chunk.first_id,
        "hi": chunk.last_id,
        **_calendar_params(calendar, period.cutoff_at),
        "year_cap": period.yearly_cap_fen,
        **arrays,
        **last,
    }
    return sql, params
