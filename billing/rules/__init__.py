"""The apportionment rules in pure Python: the one statement of the arithmetic.

What a member owes for a period, exactly (a rational number of fen):
- Each case's total T = payout + fee (fee = payout x fee_bp / 10000, half up) is shared by its
  n sharers: the members covered at the start of its notice (publicity) — in the pool before
  it, and their cover not ended by then (`covers`). Each owes T / n. Leaving or lapsing after a
  case's notice does not take a member out of its share; joining after it does not add one.
- A promotion waives the case for members who joined before its date (the sponsor pays).
- The per-case cap limits what a member pays for one case: min(T / n, cap).
- The yearly cap limits the period's charge to what is left of it this year.
- Money recovered from a claim paid earlier (found fraudulent) lowers the next period's cases:
  it is spread over them in proportion to their totals (`recovery_split`), so T is what is left.

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

from billing.rules.cases import (
    Case,
    Member,
    carries_year_to_date,
    case_share,
    covers,
    fee_for,
    may_owe,
    recovery_split,
    waiver_date,
)
from billing.rules.cohorts import (
    Calendar,
    CohortShare,
    Shares,
    cohort_shares,
    covered_per_notice,
    sharers_per_case,
)
from billing.rules.lines import Line, member_lines
from billing.rules.rounding import Amounts, Extras, group_extras, member_amounts

__all__ = [
    "Amounts",
    "Calendar",
    "Case",
    "CohortShare",
    "Extras",
    "Line",
    "Member",
    "Shares",
    "carries_year_to_date",
    "case_share",
    "cohort_shares",
    "covered_per_notice",
    "covers",
    "fee_for",
    "group_extras",
    "may_owe",
    "member_amounts",
    "member_lines",
    "recovery_split",
    "sharers_per_case",
    "waiver_date",
]
