"""The apportionment rules in pure Python: the one statement of the arithmetic.

What a member owes for a period, exactly (a rational number of fen):
- Each case's total T = payout + fee (fee = payout x fee_bp / 10000, half up) is shared by its
  n sharers: the members covered at the start of its notice (publicity) — in the pool before
  it, and their cover not ended by then (`covers`). Each owes T / n. Leaving or lapsing after a
  case's notice does not take a member out of its share; joining after it does not add one.
- A promotion waives the case for members who joined before its date (the sponsor pays).
- The per-case cap limits what a member pays for one case: min(T / n, cap).
- The yearly cap limits the period's charge to what is left of it this year.

Members who entered the pool between the same two notices, whose cover ended between the same
two notices (or not before the last), and who joined between the same two waiver dates share
exactly the same cases with the same waivers: they form a *cohort* and owe the same exact
amounts. So the arithmetic is done once per cohort (suffix sums over the cases sorted by
notice), and a member's amounts are a lookup: O(log cases) each. Members whose cover ended
during the notices are few; their cohorts are listed one by one (`Calendar.exits`), the
others are numbered by entry and waiver class alone.

Rounding to whole fen, exact for the period and within 1 fen for every member:
- Members are grouped by cohort and by chunk of membership ids (the unit the workers bill).
  A group of N members whose exact gross share is G owes N x G in all; each group is given
  floor(N x G) fen, and the fen still missing to the period's total go one each to the groups
  with the largest remainders (ties broken by the draw below). So the shares add up to the
  cases and fees exactly.
- In a group, everyone pays floor(G); the `extra` members with the lowest draw key pay one fen
  more. The draw key is the top 40 bits of PostgreSQL's hashint8extended(membership_id,
  period_id), then the membership id (billing/draw.py): drawn afresh each period, so the same
  members do not pay the extra fen period after period.
- What is not waived (G less waivers) and what is payable (that, after the per-case cap) are
  rounded the same way inside the group, with the extra fen to the same members first, but never
  up past the exact group total (the sponsor keeps that fraction of a fen). The charge is the
  payable amount, cut at the yearly headroom. Every member's charge is therefore within 1 fen of
  their exact share, and two members with the same exact share differ by at most 1 fen.

`billing/apportion.py` applies these rules to millions of members in SQL with the cohort and
group figures computed here (its cohort expression is `Calendar`'s, in SQL); `member_lines`
states one member's share case by case (a bill's breakdown, the property test's exact
charge); `reference_bills` (billing/reference.py) applies them member by member, and the
property test checks that all give the same bills."""

from __future__ import annotations

import bisect
import datetime
import math
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from billing.draw import hashint8extended
from mutual.core.errors import InvariantError


def fee_for(amount_fen: int, fee_bp: int) -> int:
    """The management fee on a payout, in fen, rounded half up."""
    return (amount_fen * fee_bp + 5_000) // 10_000


def waiver_date(
    publicized_at: datetime.datetime,
    promotions: Iterable[tuple[datetime.datetime, datetime.datetime]],
) -> datetime.datetime | None:
    """Members who joined before the returned date pay nothing for this case. `promotions` are
    (joined_before, cases_before) pairs; a case publicized before `cases_before` is covered."""
    dates = [joined for joined, cases_before in promotions if publicized_at < cases_before]
    return max(dates) if dates else None


@dataclass(frozen=True)
class Case:
    claim_id: int
    publicized_at: datetime.datetime
    amount_fen: int
    fee_fen: int
    waive_if_joined_before: datetime.datetime | None = None

    @property
    def total_fen(self) -> int:
        return self.amount_fen + self.fee_fen


@dataclass(frozen=True)
class Member:
    membership_id: int
    joined_at: datetime.datetime
    in_pool_since: datetime.datetime
    ended_at: datetime.datetime | None = None


def covers(member: Member, at: datetime.datetime) -> bool:
    """Covered at the instant `at`: in the pool before it, cover not ended by then (the same
    rule as members.selectors.covered_at_q)."""
    return member.in_pool_since < at and (member.ended_at is None or member.ended_at > at)


def may_owe(
    member: Member, *, cutoff_at: datetime.datetime, first_notice: datetime.datetime
) -> bool:
    """Counted in a period (SQL: apportion._ELIGIBLE): in the pool by the cutoff, and covered
    at its first notice or later (or at the cutoff). Their cohort says what they share."""
    return member.in_pool_since <= cutoff_at and (
        member.ended_at is None or member.ended_at > min(first_notice, cutoff_at)
    )


def carries_year_to_date(member: Member, cutoff_at: datetime.datetime) -> bool:
    """Still a member at the cutoff: a bill of no case carries their year to date onwards."""
    return member.in_pool_since <= cutoff_at and (
        member.ended_at is None or member.ended_at > cutoff_at
    )


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


@dataclass(frozen=True)
class Extras:
    """How many members of a group pay one fen more than the cohort's base amounts."""

    gross: int
    net: int
    payable: int


def group_extras(
    shares: Shares,
    groups: dict[tuple[int, int], int],
    *,
    total_fen: int,
    period_id: int,
) -> dict[tuple[int, int], Extras]:
    """`groups` maps (chunk, cohort) to its number of members. Largest remainders over the
    groups make the gross shares add up to `total_fen` exactly (see the module's docstring)."""
    d = shares.denominator
    span = max(shares.cohorts, default=0) + 1  # one integer for (chunk, cohort)
    floors = 0
    remainders = []
    for (chunk, cohort), members in groups.items():
        whole, remainder = divmod(members * shares.cohorts[cohort].gross, d)
        floors += whole
        if remainder:
            tie = hashint8extended(chunk * span + cohort, period_id)
            remainders.append((-remainder, tie, (chunk, cohort)))
    missing = total_fen - floors
    if not 0 <= missing <= len(remainders):
        raise InvariantError(f"rounding cannot reach the total: {missing} fen missing")
    remainders.sort()
    rounded_up = {key for _, _, key in remainders[:missing]}
    result = {}
    for key, members in groups.items():
        share = shares.cohorts[key[1]]
        gross = (members * share.gross) // d - members * shares.base(share.gross)
        gross += key in rounded_up
        # Equal exact amounts get equal extras; a smaller one never gets more (nested rounding).
        net = gross if share.net == share.gross else members * (share.net % d) // d
        payable = net if share.payable == share.net else members * (share.payable % d) // d
        result[key] = Extras(gross, net, payable)
    return result


@dataclass(frozen=True)
class Amounts:
    cases_count: int
    gross_fen: int
    waived_fen: int
    capped_fen: int
    charged_fen: int


def member_amounts(
    share: CohortShare | None,
    shares: Shares,
    *,
    draw: int,
    extras: Extras | None,
    year_to_date_fen: int,
    yearly_cap_fen: int,
) -> Amounts:
    """One member's bill; `draw` is their 1-based place in their group by draw key."""
    if share is None:
        return Amounts(0, 0, 0, 0, 0)
    extras = extras or Extras(0, 0, 0)
    gross = shares.base(share.gross) + (draw <= extras.gross)
    net = shares.base(share.net) + (draw <= extras.net)
    payable = shares.base(share.payable) + (draw <= extras.payable)
    charged = min(payable, max(0, yearly_cap_fen - year_to_date_fen))
    return Amounts(share.cases_count, gross, gross - net, net - charged, charged)


@dataclass(frozen=True)
class Line:
    """One case of a member's share, in exact fen: shared, waived by a promotion, cut by the
    per-case cap, cut by the yearly cap, charged (shared = the other four)."""

    claim_id: int
    share_fen: Fraction
    waived_fen: Fraction
    case_capped_fen: Fraction
    year_capped_fen: Fraction
    charged_fen: Fraction


def member_lines(
    member: Member,
    cases: Iterable[Case],
    sharers: Iterable[int],
    *,
    per_case_cap_fen: int,
    headroom_fen: int | None,
) -> list[Line]:
    """The member's exact share of each case they share, in the given order (the yearly cap,
    `headroom_fen` of it left this year, None: not binding, is applied in that order): the
    rules stated case by case, with no cohorts and no rounding."""
    headroom = None if headroom_fen is None else Fraction(max(0, headroom_fen))
    lines = []
    for case, n in zip(cases, sharers, strict=True):
        if not covers(member, case.publicized_at):
            continue
        share = Fraction(case.total_fen, n)
        waived = (
            share
            if case.waive_if_joined_before is not None
            and member.joined_at < case.waive_if_joined_before
            else Fraction(0)
        )
        payable = Fraction(0) if waived else min(share, Fraction(per_case_cap_fen))
        charged = payable if headroom is None else min(payable, headroom)
        if headroom is not None:
            headroom -= charged
        lines.append(
            Line(case.claim_id, share, waived, share - waived - payable, payable - charged, charged)
        )
    return lines
