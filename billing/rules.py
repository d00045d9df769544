"""The apportionment rules in pure Python: the one statement of the arithmetic.

What a member owes for a period, exactly (a rational number of fen):
- Each case's total T = payout + fee (fee = payout x fee_bp / 10000, half up) is shared by the
  n members who were in the pool before it was publicized and are still members at the cutoff:
  each owes T / n.
- A promotion waives the case for members who joined before its date (the sponsor pays).
- The per-case cap limits what a member pays for one case: min(T / n, cap).
- The yearly cap limits the period's charge to what is left of it this year.

Members who entered the pool between the same two publicity instants share exactly the same
cases, and those who joined between the same two waiver dates have the same waivers: they form a
*cohort* and owe the same exact amounts. So the arithmetic is done once per cohort (suffix sums
over the cases sorted by publicity), and a member's amounts are a lookup: O(log cases) each.

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
group figures computed here; `reference_bills` applies them member by member, and the property
test checks that both give the same bills."""

from __future__ import annotations

import bisect
import datetime
import math
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from billing.draw import draw_key, hashint8extended
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
class Calendar:
    """The cohort boundaries of a period: its distinct publicity instants and waiver dates."""

    publicity: tuple[datetime.datetime, ...]
    waivers: tuple[datetime.datetime, ...]

    @classmethod
    def of(cls, cases: Iterable[Case]) -> Calendar:
        cases = list(cases)
        return cls(
            tuple(sorted({c.publicized_at for c in cases})),
            tuple(sorted({c.waive_if_joined_before for c in cases} - {None})),
        )

    @property
    def classes(self) -> int:
        """Waiver classes: 0 joined before every waiver date ... D joined after all of them."""
        return len(self.waivers) + 1

    @property
    def size(self) -> int:
        return (len(self.publicity) + 1) * self.classes

    def positions(self) -> dict[datetime.datetime, int]:
        """Each publicity instant's place in the sorted list."""
        return {instant: i for i, instant in enumerate(self.publicity)}

    def cohort_of(self, *, in_pool_since: datetime.datetime, joined_at: datetime.datetime) -> int:
        """SQL: width_bucket(in_pool_since, publicity) * classes + width_bucket(joined_at, ...)."""
        skipped = bisect.bisect_right(self.publicity, in_pool_since)
        return skipped * self.classes + bisect.bisect_right(self.waivers, joined_at)

    def bounds(self, cohort: int) -> dict[str, datetime.datetime | None]:
        skipped, waiver_class = divmod(cohort, self.classes)
        return {
            "in_pool_from": self.publicity[skipped - 1] if skipped else None,
            "in_pool_before": self.publicity[skipped] if skipped < len(self.publicity) else None,
            "joined_from": self.waivers[waiver_class - 1] if waiver_class else None,
            "joined_before": (
                self.waivers[waiver_class] if waiver_class < len(self.waivers) else None
            ),
        }


def sharers_per_case(
    cases: list[Case], calendar: Calendar, members_per_cohort: dict[int, int]
) -> list[int]:
    """n for each case: the members of every cohort that entered the pool before it."""
    per_skipped = [0] * (len(calendar.publicity) + 1)
    for cohort, count in members_per_cohort.items():
        per_skipped[cohort // calendar.classes] += count
    before = [0]  # before[i]: members who skipped fewer than i publicity instants
    for count in per_skipped:
        before.append(before[-1] + count)
    position = calendar.positions()
    return [before[position[c.publicized_at] + 1] for c in cases]


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
    """Suffix sums over the publicity instants, one per waiver class: O(cases x classes)."""
    if any(n <= 0 for n in sharers):
        raise InvariantError("every case needs at least one sharer")
    denominator = math.lcm(*set(sharers)) if sharers else 1
    by_instant: list[list[tuple[int, int, int | None]]] = [[] for _ in calendar.publicity]
    position = calendar.positions()
    waiver_position = {date: i for i, date in enumerate(calendar.waivers)}
    for case, n in zip(cases, sharers, strict=True):
        share = case.total_fen * (denominator // n)
        capped = min(share, per_case_cap_fen * denominator)
        waiver = waiver_position.get(case.waive_if_joined_before)
        by_instant[position[case.publicized_at]].append((share, capped, waiver))
    wanted = set(cohorts)
    result: dict[int, CohortShare] = {}
    gross = [0] * calendar.classes
    net = [0] * calendar.classes
    payable = [0] * calendar.classes
    count = 0
    for skipped in range(len(calendar.publicity), -1, -1):
        if skipped < len(calendar.publicity):
            for share, capped, waiver in by_instant[skipped]:
                count += 1
                for waiver_class in range(calendar.classes):
                    gross[waiver_class] += share
                    # Waived for members who joined before the date: classes 0..waiver.
                    if waiver is None or waiver_class > waiver:
                        net[waiver_class] += share
                        payable[waiver_class] += capped
        for waiver_class in range(calendar.classes):
            cohort = skipped * calendar.classes + waiver_class
            if cohort in wanted:
                result[cohort] = CohortShare(
                    cohort, count, gross[waiver_class], net[waiver_class], payable[waiver_class]
                )
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
class Member:
    membership_id: int
    joined_at: datetime.datetime
    in_pool_since: datetime.datetime
    ended_at: datetime.datetime | None = None


def is_eligible(member: Member, cutoff_at: datetime.datetime) -> bool:
    """In the pool by the cutoff and still a member at it."""
    return member.in_pool_since <= cutoff_at and (
        member.ended_at is None or member.ended_at > cutoff_at
    )


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
    calendar = Calendar.of(cases)
    eligible = [m for m in members if is_eligible(m, cutoff_at)]
    cohort_of = {
        m.membership_id: calendar.cohort_of(in_pool_since=m.in_pool_since, joined_at=m.joined_at)
        for m in eligible
    }
    no_case = len(calendar.publicity) * calendar.classes  # first cohort that shares nothing
    per_cohort: dict[int, int] = {}
    groups: dict[tuple[int, int], list[int]] = {}
    for m in eligible:
        cohort = cohort_of[m.membership_id]
        per_cohort[cohort] = per_cohort.get(cohort, 0) + 1
        if cohort < no_case:
            chunk = (m.membership_id - first_id) // chunk_ids
            groups.setdefault((chunk, cohort), []).append(m.membership_id)
    sharers = sharers_per_case(cases, calendar, per_cohort)
    shares = cohort_shares(
        cases, calendar, sharers, per_case_cap_fen=per_case_cap_fen, cohorts=per_cohort
    )
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
    for m in eligible:  # no case this period, but the year to date is carried on a bill
        if m.membership_id not in bills and year_to_date.get(m.membership_id, 0) > 0:
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
    """The charge as the rules state it, case by case, with no cohorts and no rounding."""
    payable = sum(
        (
            min(Fraction(case.total_fen, n), per_case_cap_fen)
            for case, n in zip(cases, sharers, strict=True)
            if member.in_pool_since < case.publicized_at
            and not (
                case.waive_if_joined_before is not None
                and member.joined_at < case.waive_if_joined_before
            )
        ),
        Fraction(0),
    )
    return min(payable, Fraction(max(0, yearly_cap_fen - year_to_date_fen)))
