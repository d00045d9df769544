"""Rounding to whole fen, exact for the period and within 1 fen for every member: each group's
floor, the largest remainders, and who in a group pays the extra fen (the draw)."""

from __future__ import annotations

from dataclasses import dataclass

from billing.draw import hashint8extended
from billing.rules.cohorts import CohortShare, Shares
from mutual.core.errors import InvariantError


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
