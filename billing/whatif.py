"""What-if and forecast: billing/rules/'s arithmetic (the module billing itself uses) on
cases that are not billed yet.

- `what_if`: N cases of given amounts shared by M members under a plan's rules, every member
  in the pool before every case: the exact share per member, what the per-case and yearly
  caps take off it, and what the sponsor covers.
- `plan_forecast`: the same for a plan's cases in publicity now, each shared by the members
  covered at its notice (in the pool before it, not left by then): an estimate of the next period's
  share for a member who shares them all (promotions and members' years to date are left
  out: they lower the charge, never raise it)."""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass
from fractions import Fraction

from django.core.cache import cache
from django.db import connection

from billing import rules
from billing.errors import ErrorCode
from claims.models import Claim, ClaimState
from members.models import Plan
from mutual.core.errors import ServiceError

MAX_CASES = 1_000
POOL_COUNTS_SECONDS = 60


@dataclass(frozen=True)
class Outcome:
    members: int
    cases: int
    cases_fen: int
    fees_fen: int
    total_fen: int
    share_fen: Fraction  # per member, every case T / n
    after_case_cap_fen: Fraction  # each case's share cut at the per-case cap
    charged_fen: Fraction  # that, cut at what the yearly cap leaves
    per_case_cap_fen: int
    yearly_cap_fen: int

    @property
    def per_case_cap_effect_fen(self) -> Fraction:
        return self.share_fen - self.after_case_cap_fen

    @property
    def yearly_cap_effect_fen(self) -> Fraction:
        return self.after_case_cap_fen - self.charged_fen

    @property
    def collected_fen(self) -> Fraction:
        return self.charged_fen * self.members

    @property
    def sponsor_fen(self) -> Fraction:
        return self.total_fen - self.collected_fen


def outcome_for(
    plan: Plan, cases: list[rules.Case], sharers: list[int], *, year_to_date_fen: int
) -> Outcome:
    """For a member who shares every case (covered at every notice, no waiver)."""
    calendar = rules.Calendar.of(cases)
    shares = rules.cohort_shares(
        cases, calendar, sharers, per_case_cap_fen=plan.per_case_cap_fen, cohorts=[0]
    )
    everyone = shares.cohorts[0]  # in the pool before every case, no waiver
    payable = shares.fen(everyone.payable)
    headroom = max(0, plan.yearly_cap_fen - year_to_date_fen)
    total = sum(c.total_fen for c in cases)
    return Outcome(
        members=max(sharers),
        cases=len(cases),
        cases_fen=sum(c.amount_fen for c in cases),
        fees_fen=sum(c.fee_fen for c in cases),
        total_fen=total,
        share_fen=shares.fen(everyone.gross),
        after_case_cap_fen=payable,
        charged_fen=min(payable, Fraction(headroom)),
        per_case_cap_fen=plan.per_case_cap_fen,
        yearly_cap_fen=plan.yearly_cap_fen,
    )


def what_if(
    *, plan: Plan, amounts_fen: list[int], members: int, year_to_date_fen: int = 0, now
) -> Outcome:
    """N cases of `amounts_fen` over `members`, under `plan`'s fee and caps as of now."""
    if not amounts_fen or len(amounts_fen) > MAX_CASES:
        raise ServiceError(
            f"give 1 to {MAX_CASES} case amounts", code=ErrorCode.CASES, field="amounts"
        )
    if any(a <= 0 for a in amounts_fen):
        raise ServiceError("every amount must be positive", code=ErrorCode.AMOUNT, field="amounts")
    if members <= 0:
        raise ServiceError(
            "there must be at least one member", code=ErrorCode.MEMBERS, field="members"
        )
    if year_to_date_fen < 0:
        raise ServiceError("cannot be negative", code=ErrorCode.YTD, field="year_to_date")
    cases = [
        rules.Case(i, now, a, rules.fee_for(a, plan.management_fee_bp))
        for i, a in enumerate(amounts_fen)
    ]
    return outcome_for(plan, cases, [members] * len(cases), year_to_date_fen=year_to_date_fen)


def plan_forecast(*, plan: Plan, now: datetime.datetime) -> Outcome | None:
    """The next period's share from the plan's cases in publicity now, or None if none."""
    claims = Claim.objects.filter(
        plan=plan, state__in=[ClaimState.PUBLICIZED, ClaimState.DISPUTED]
    ).values_list("pk", "publicity_starts_at", "amount_approved_fen")
    cases = [
        rules.Case(pk, starts, amount, rules.fee_for(amount, plan.management_fee_bp))
        for pk, starts, amount in claims
        if amount
    ]
    if not cases:
        return None
    calendar = rules.Calendar.of(cases)
    covered = dict(zip(calendar.publicity, _covered_at(plan, calendar.publicity), strict=True))
    sharers = [covered[case.publicized_at] for case in cases]
    if min(sharers) == 0:
        return None
    return outcome_for(plan, cases, sharers, year_to_date_fen=0)


def _covered_at(plan: Plan, instants) -> list[int]:
    """The plan's members covered at each instant: a case's sharers are those covered at its
    notice, whether or not they left since (billing/rules/). Kept a minute: public pages
    ask on every hit, without login, and each count reads the whole pool."""
    instants_hash = hashlib.sha256(",".join(i.isoformat() for i in instants).encode())
    key = f"covered-at:{plan.pk}:{instants_hash.hexdigest()}"
    counts = cache.get(key)
    if counts is None:
        counts = _count_covered(plan, list(instants))
        cache.set(key, counts, POOL_COUNTS_SECONDS)
    return counts


_SPANS_SQL = """
SELECT width_bucket(in_pool_since, %(instants)s::timestamptz[]),
       CASE WHEN ended_at IS NULL OR ended_at > %(last)s THEN %(count)s
            ELSE width_bucket(ended_at - interval '1 microsecond', %(instants)s::timestamptz[])
       END,
       count(*)
  FROM members_membership
 WHERE plan_id = %(plan)s AND in_pool_since < %(last)s
   AND (ended_at IS NULL OR ended_at > %(first)s)
 GROUP BY 1, 2
"""


def _count_covered(plan: Plan, instants: list) -> list[int]:
    """One pass over the plan's memberships: each covers the sorted instants from its entry
    to its exit (rules.Calendar.place); a difference array gives the count at each."""
    with connection.cursor() as cursor:
        cursor.execute(
            _SPANS_SQL,
            {"instants": instants, "last": instants[-1], "first": instants[0],
             "count": len(instants), "plan": plan.pk},
        )  # fmt: skip
        spans = cursor.fetchall()
    return rules.covered_per_notice(spans, len(instants))
