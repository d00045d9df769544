"""Cohorts: the members who share exactly the same cases, and their exact shares (suffix sums
over the notices, as fractions over one common denominator)."""

from __future__ import annotations

import bisect
import datetime
import math
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from billing.rules.cases import Case
from mutual.core.errors import InvariantError


@dataclass(frozen=True)
class Calendar:
    """The cohort boundaries of a period: its distinct notice instants and waiver dates, and
    the cohorts of members whose cover ended during the notices (`exits`: sorted keys).

    A member's place is (entry, exit, waiver class): entry = notices at or before they
    entered the pool, exit = notices before their cover ended (all of them if it did not end
    before the last), class = waiver dates at or before they joined. They share the notices
    entry .. exit - 1. Cohort numbers: entry x classes + class for those still covered at the
    last notice (entry = P: shares nothing); `base` + the key's place in `exits` for the
    others, key = (entry x (P + 1) + exit) x classes + class; those whose cover ended before
    they shared anything are numbered as sharing nothing."""

    publicity: tuple[datetime.datetime, ...]
    waivers: tuple[datetime.datetime, ...]
    exits: tuple[int, ...] = ()

    @classmethod
    def of(cls, cases: Iterable[Case], exits: Iterable[int] = ()) -> Calendar:
        cases = list(cases)
        return cls(
            tuple(sorted({c.publicized_at for c in cases})),
            tuple(sorted({c.waive_if_joined_before for c in cases} - {None})),
            tuple(sorted(set(exits))),
        )

    def with_exits(self, exits: Iterable[int]) -> Calendar:
        return Calendar(self.publicity, self.waivers, tuple(sorted(set(exits))))

    @property
    def classes(self) -> int:
        """Waiver classes: 0 joined before every waiver date ... D joined after all of them."""
        return len(self.waivers) + 1

    @property
    def base(self) -> int:
        """The first number of a cohort whose cover ended during the notices."""
        return (len(self.publicity) + 1) * self.classes

    @property
    def size(self) -> int:
        return self.base + len(self.exits)

    def positions(self) -> dict[datetime.datetime, int]:
        """Each notice instant's place in the sorted list."""
        return {instant: i for i, instant in enumerate(self.publicity)}

    def place(
        self,
        *,
        in_pool_since: datetime.datetime,
        joined_at: datetime.datetime,
        ended_at: datetime.datetime | None = None,
    ) -> tuple[int, int, int]:
        """(entry, exit, waiver class). SQL: width_bucket(in_pool_since, publicity), for a
        cover that ended no later than the last notice width_bucket(ended_at - 1 µs,
        publicity) (the notices strictly before it), and width_bucket(joined_at, waivers)."""
        last = len(self.publicity)
        ended = last if ended_at is None else bisect.bisect_left(self.publicity, ended_at)
        return (
            bisect.bisect_right(self.publicity, in_pool_since),
            ended,
            bisect.bisect_right(self.waivers, joined_at),
        )

    def raw_cohort(self, entry: int, exit: int, waiver_class: int) -> int:
        """The cohort's number, or for a cover that ended during the notices `base` + its key
        (prepare lists those keys, `with_exits`, and numbers them densely)."""
        last = len(self.publicity)
        if exit >= last:
            return entry * self.classes + waiver_class
        if exit <= entry:  # ended before sharing anything
            return last * self.classes + waiver_class
        return self.base + (entry * (last + 1) + exit) * self.classes + waiver_class

    def cohort_of(
        self,
        *,
        in_pool_since: datetime.datetime,
        joined_at: datetime.datetime,
        ended_at: datetime.datetime | None = None,
    ) -> int:
        raw = self.raw_cohort(
            *self.place(in_pool_since=in_pool_since, joined_at=joined_at, ended_at=ended_at)
        )
        if raw < self.base:
            return raw
        return self.base + bisect.bisect_left(self.exits, raw - self.base)

    def span(self, cohort: int) -> tuple[int, int, int]:
        """(entry, exit, waiver class) of a cohort number."""
        if cohort < self.base:
            entry, waiver_class = divmod(cohort, self.classes)
            return entry, len(self.publicity), waiver_class
        rest, waiver_class = divmod(self.exits[cohort - self.base], self.classes)
        entry, exit = divmod(rest, len(self.publicity) + 1)
        return entry, exit, waiver_class

    def bounds(self, cohort: int) -> dict[str, datetime.datetime | None]:
        """The cohort as moments: entered the pool in [in_pool_from, in_pool_before), cover
        ended in (ended_after, ended_by] (both None: covered at the last notice), joined in
        [joined_from, joined_before)."""
        entry, exit, waiver_class = self.span(cohort)
        last = len(self.publicity)
        ended = exit < last
        return {
            "in_pool_from": self.publicity[entry - 1] if entry else None,
            "in_pool_before": self.publicity[entry] if entry < last else None,
            "ended_after": self.publicity[exit - 1] if ended and exit else None,
            "ended_by": self.publicity[exit] if ended else None,
            "joined_from": self.waivers[waiver_class - 1] if waiver_class else None,
            "joined_before": (
                self.waivers[waiver_class] if waiver_class < len(self.waivers) else None
            ),
        }


def covered_per_notice(spans: Iterable[tuple[int, int, int]], notices: int) -> list[int]:
    """How many are covered at each of `notices` sorted notices, from (entry, exit, count)
    spans: `count` members covered at the notices entry .. exit - 1 (a difference array)."""
    change = [0] * (notices + 1)
    for entry, exit, count in spans:
        if entry < exit:
            change[entry] += count
            change[exit] -= count
    covered, running = [], 0
    for delta in change[:-1]:
        running += delta
        covered.append(running)
    return covered


def sharers_per_case(
    cases: list[Case], calendar: Calendar, members_per_cohort: dict[int, int]
) -> list[int]:
    """n for each case: the members of every cohort whose notices span include its own."""
    covered = covered_per_notice(
        ((*calendar.span(cohort)[:2], count) for cohort, count in members_per_cohort.items()),
        len(calendar.publicity),
    )
    position = calendar.positions()
    return [covered[position[c.publicized_at]] for c in cases]


@dataclass(frozen=True)
class CohortShare:
    """A cohort member's exact amounts, as numerators over the period's common denominator."""

    cohort: int
    cases_count: int
    gross: int  # every shared case: T / n
    net: int  # less the waived cases
    payable: int  # net, with each case cut at the per-case cap


@dataclass(frozen=True)
class Shares:
    """The exact share of every cohort of a period. All amounts are fractions over one common
    denominator (the lcm of the sharer counts), so they add and compare as integers."""

    denominator: int
    cohorts: dict[int, CohortShare]

    def fen(self, numerator: int) -> Fraction:
        return Fraction(numerator, self.denominator)

    def base(self, numerator: int) -> int:
        return numerator // self.denominator

    def display(self, numerator: int) -> Decimal:
        """Rounded down to a millionth of a fen, for reports."""
        return Decimal(numerator * 10**6 // self.denominator).scaleb(-6)


def cohort_shares(
    cases: list[Case],
    calendar: Calendar,
    sharers: list[int],
    *,
    per_case_cap_fen: int,
    cohorts: Iterable[int],
) -> Shares:
    """Suffix sums over the notice instants, one per waiver class: O(cases x classes); then
    each cohort's amounts are a difference of two of them."""
    if any(n <= 0 for n in sharers):
        raise InvariantError("every case needs at least one sharer")
    denominator = math.lcm(*set(sharers)) if sharers else 1
    last = len(calendar.publicity)
    # suffix[i][w]: (cases, gross, net, payable) of notices i .. last - 1 for waiver class w.
    per_instant = [[[0, 0, 0, 0] for _ in range(calendar.classes)] for _ in range(last + 1)]
    position = calendar.positions()
    waiver_position = {date: i for i, date in enumerate(calendar.waivers)}
    for case, n in zip(cases, sharers, strict=True):
        share = case.total_fen * (denominator // n)
        capped = min(share, per_case_cap_fen * denominator)
        waiver = waiver_position.get(case.waive_if_joined_before)
        for waiver_class, sums in enumerate(per_instant[position[case.publicized_at]]):
            sums[0] += 1
            sums[1] += share
            # Waived for members who joined before the date: classes 0..waiver.
            if waiver is None or waiver_class > waiver:
                sums[2] += share
                sums[3] += capped
    for i in range(last - 1, -1, -1):
        for waiver_class in range(calendar.classes):
            later, here = per_instant[i + 1][waiver_class], per_instant[i][waiver_class]
            for k in range(4):
                here[k] += later[k]
    result: dict[int, CohortShare] = {}
    for cohort in set(cohorts):
        entry, exit, waiver_class = calendar.span(cohort)
        exit = max(exit, entry)
        start, end = per_instant[entry][waiver_class], per_instant[exit][waiver_class]
        result[cohort] = CohortShare(cohort, *(a - b for a, b in zip(start, end, strict=True)))
    return Shares(denominator, result)
