"""The cases and the people who may share them: fees, waivers, who is covered at a notice."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction


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
    # Money recovered from claims paid earlier (found fraudulent), spent on this case: its
    # sharers owe that much less, the claimant is paid in full (`recovery_split`).
    recovered_fen: int = 0

    @property
    def total_fen(self) -> int:
        """What the case's sharers owe together."""
        return self.amount_fen + self.fee_fen - self.recovered_fen


def case_share(case: Case, sharers: int, per_case_cap_fen: int | None) -> tuple[Fraction, Fraction]:
    """Each sharer's exact share of the case, and what the per-case cap leaves of it (None: no
    cap); promotions and the yearly cap aside."""
    share = Fraction(case.total_fen, sharers)
    return share, share if per_case_cap_fen is None else min(share, Fraction(per_case_cap_fen))


def recovery_split(totals: list[int], recovered_fen: int) -> list[int]:
    """Spread money recovered over a period's cases in proportion to their totals (what each
    costs its sharers), by largest remainder, ties to the earlier case: every sharer's cost
    falls by the same fraction, and the parts add up to `recovered_fen` exactly. The caller
    spends at most the period's total; the rest waits for the next period."""
    whole = sum(totals)
    if not 0 <= recovered_fen <= whole:
        raise ValueError(f"cannot spend {recovered_fen} fen over cases costing {whole}")
    if not recovered_fen:
        return [0] * len(totals)
    parts = [total * recovered_fen // whole for total in totals]
    remainders = sorted(range(len(totals)), key=lambda i: (-(totals[i] * recovered_fen % whole), i))
    for i in remainders[: recovered_fen - sum(parts)]:
        parts[i] += 1
    return parts


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
