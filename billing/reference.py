"""The bills of a period member by member, by billing/rules/: the reference the set-based SQL
of billing/apportion.py is tested against (tests/test_apportion_rules.py), and the exact
charge a member's bill must be within a fen of."""

from __future__ import annotations

import datetime
from fractions import Fraction

from billing.draw import draw_key
from billing.rules import (
    Amounts,
    Calendar,
    Case,
    Member,
    carries_year_to_date,
    cohort_shares,
    group_extras,
    may_owe,
    member_amounts,
    member_lines,
    sharers_per_case,
)


def period_calendar(cases: list[Case], members: list[Member]) -> Calendar:
    """The period's calendar with the cohorts of the members whose cover ended during the
    notices, as prepare lists them."""
    calendar = Calendar.of(cases)
    exits = set()
    for m in members:
        raw = calendar.raw_cohort(
            *calendar.place(in_pool_since=m.in_pool_since, joined_at=m.joined_at,
                            ended_at=m.ended_at)
        )  # fmt: skip
        if raw >= calendar.base:
            exits.add(raw - calendar.base)
    return calendar.with_exits(exits)


def reference_bills(
    *,
    period_id: int,
    cutoff_at: datetime.datetime,
    cases: list[Case],
    members: list[Member],
    year_to_date: dict[int, int],
    per_case_cap_fen: int,
    yearly_cap_fen: int,
    first_id: int,
    chunk_ids: int,
) -> dict[int, Amounts]:
    """The bills of a period, member by member. `first_id` and `chunk_ids` cut the membership
    ids into chunks as the period's run does; `year_to_date` is what each paid this year."""
    if not cases:
        return {}  # a period with no case bills no one (apportion.period_prepare)
    first_notice = min(c.publicized_at for c in cases)
    eligible = [m for m in members if may_owe(m, cutoff_at=cutoff_at, first_notice=first_notice)]
    calendar = period_calendar(cases, eligible)
    cohort_of = {
        m.membership_id: calendar.cohort_of(
            in_pool_since=m.in_pool_since, joined_at=m.joined_at, ended_at=m.ended_at
        )
        for m in eligible
    }
    per_cohort: dict[int, int] = {}
    for m in eligible:
        per_cohort[cohort_of[m.membership_id]] = per_cohort.get(cohort_of[m.membership_id], 0) + 1
    sharers = sharers_per_case(cases, calendar, per_cohort)
    shares = cohort_shares(
        cases, calendar, sharers, per_case_cap_fen=per_case_cap_fen, cohorts=per_cohort
    )
    groups: dict[tuple[int, int], list[int]] = {}
    for m in eligible:
        cohort = cohort_of[m.membership_id]
        if shares.cohorts[cohort].cases_count:
            chunk = (m.membership_id - first_id) // chunk_ids
            groups.setdefault((chunk, cohort), []).append(m.membership_id)
    extras = group_extras(
        shares,
        {key: len(ids) for key, ids in groups.items()},
        total_fen=sum(c.total_fen for c in cases),
        period_id=period_id,
    )
    bills = {}
    for key, ids in groups.items():
        ordered = sorted(ids, key=lambda i: draw_key(membership_id=i, period_id=period_id))
        for place, membership_id in enumerate(ordered, start=1):
            bills[membership_id] = member_amounts(
                shares.cohorts[key[1]],
                shares,
                draw=place,
                extras=extras[key],
                year_to_date_fen=year_to_date.get(membership_id, 0),
                yearly_cap_fen=yearly_cap_fen,
            )
    for m in eligible:  # no case this period, but a member's year to date is carried on
        if (
            m.membership_id not in bills
            and year_to_date.get(m.membership_id, 0) > 0
            and carries_year_to_date(m, cutoff_at)
        ):
            bills[m.membership_id] = Amounts(0, 0, 0, 0, 0)
    return bills


def exact_charge(
    member: Member,
    cases: list[Case],
    sharers: list[int],
    *,
    per_case_cap_fen: int,
    yearly_cap_fen: int,
    year_to_date_fen: int,
) -> Fraction:
    """What the member owes, exactly: the sum of their lines (rules.member_lines)."""
    lines = member_lines(
        member,
        cases,
        sharers,
        per_case_cap_fen=per_case_cap_fen,
        headroom_fen=yearly_cap_fen - year_to_date_fen,
    )
    return sum((line.charged_fen for line in lines), Fraction(0))
