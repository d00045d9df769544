"""One member's share of a period case by case: what a bill's breakdown shows, and the exact
charge the property test holds every bill within a fen of."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

from billing.rules.cases import Case, Member, case_share, covers


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
        share, capped = case_share(case, n, per_case_cap_fen)
        waived = (
            share
            if case.waive_if_joined_before is not None
            and member.joined_at < case.waive_if_joined_before
            else Fraction(0)
        )
        payable = Fraction(0) if waived else capped
        charged = payable if headroom is None else min(payable, headroom)
        if headroom is not None:
            headroom -= charged
        lines.append(
            Line(case.claim_id, share, waived, share - waived - payable, payable - charged, charged)
        )
    return lines
