"""The cases and the people who may share them: fees, waivers, who is covered at a notice."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass


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
