"""Reads for billing: the periods beat works on, and a bill broken down by case, from the
period's cases and the membership by the rules of billing/rules/ (no members x cases rows are
stored)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from fractions import Fraction

from django.core.cache import cache
from django.db.models import F, QuerySet

from billing import rules
from billing.models import FINISHED, ApportionmentPeriod, Bill, PeriodCase, PeriodStatus
from members.households import household_of

# Bills stay open to collection this many periods back (about a year of fortnightly periods).
COLLECTED_PERIODS = 24


def periods_failed() -> QuerySet[ApportionmentPeriod]:
    """Periods whose run failed and that wait for finance to retry."""
    return ApportionmentPeriod.objects.filter(status=PeriodStatus.FAILED).order_by("pk")


def period_all_billed(*, period_id: int) -> bool:
    """A running period with chunks, every one of them billed: ready to post."""
    return periods_billed_not_posted().filter(pk=period_id).exists()


def periods_billed_not_posted() -> QuerySet[ApportionmentPeriod]:
    """Running periods whose chunks are all billed (the posting is what is left)."""
    return (
        ApportionmentPeriod.objects.filter(status=PeriodStatus.RUNNING, chunks_total__gt=0)
        .exclude(chunks__done_at__isnull=True)
        .order_by("pk")
    )


def periods_awaiting_payout() -> QuerySet[ApportionmentPeriod]:
    """Posted periods whose claims are not all paid yet (paying marks them paid)."""
    return ApportionmentPeriod.objects.filter(status=PeriodStatus.POSTED).order_by("pk")


def periods_unsealed(*, now: datetime.datetime) -> QuerySet[ApportionmentPeriod]:
    """Periods posted over 15 minutes ago whose bills' Merkle tree is still not sealed (its
    tasks lost with a worker): beat sends them again."""
    return ApportionmentPeriod.objects.filter(
        status__in=FINISHED,
        merkle_root="",
        members_count__gt=0,
        chunks_total__gt=0,
        posted_at__lt=now - datetime.timedelta(minutes=15),
    ).order_by("pk")


def period_is_sealed(*, period_id: int) -> bool:
    return ApportionmentPeriod.objects.filter(pk=period_id).exclude(merkle_root="").exists()


def periods_to_collect() -> QuerySet[ApportionmentPeriod]:
    """The last sealed periods, latest first: their bills, told at the seal, are debited and
    their unpaid members lapsed."""
    return ApportionmentPeriod.objects.filter(
        status__in=FINISHED, bills_told_at__isnull=False
    ).order_by("-cutoff_at")[:COLLECTED_PERIODS]


def period_cases(period: ApportionmentPeriod) -> list[PeriodCase]:
    """A period's cases in claim order; a posted period's never change, so they are read once
    and kept in the cache (keyed by the period and when it was posted)."""
    if period.status not in FINISHED or period.posted_at is None:
        return list(period.cases.order_by("claim_id"))
    key = f"period-cases:{period.pk}:{period.posted_at.timestamp()}"
    cases = cache.get(key)
    if cases is None:
        cases = list(period.cases.order_by("claim_id"))
        cache.set(key, cases, timeout=7 * 24 * 3600)
    return cases


def bills_of(member) -> QuerySet[Bill]:
    """The bills of a member's household (theirs and the people they cover and pay for),
    newest period first, the account holder's own first, with their period, plan and person
    (not the period's cases)."""
    return (
        Bill.objects.filter(membership__member__in=household_of(member))
        .select_related("period__plan", "membership__member")
        .order_by(
            "-period_id", F("membership__member__payer_id").asc(nulls_first=True), "membership_id"
        )
    )


def bills_version(
    member, *, period_id: int | None = None
) -> tuple[tuple, datetime.datetime | None]:
    """What a household's bills (or one period's) show that can still change once posted —
    which bills, paid or not, the period's status — and when it last changed: one query."""
    bills = Bill.objects.filter(membership__member__in=household_of(member))
    if period_id is not None:
        bills = bills.filter(period_id=period_id)
    rows = tuple(
        bills.order_by("period_id", "membership_id").values_list(
            "period_id", "membership_id", "paid_at", "period__status", "period__posted_at"
        )
    )
    moments = [m for row in rows for m in (row[2], row[4]) if m is not None]
    return (member.pk, rows), max(moments, default=None)


@dataclass(frozen=True)
class CaseCharge:
    """One line of a bill, in exact fen. `claim_id` None is the rounding line: what rounding
    the member's exact total to whole fen added or took (always less than 1 fen charged)."""

    claim_id: int | None
    share_fen: Fraction  # the member's exact share of payout + fee
    waived_fen: Fraction  # by a promotion, paid by the sponsor
    case_capped_fen: Fraction  # above the per-case cap, paid by the sponsor
    year_capped_fen: Fraction  # above the yearly cap, paid by the sponsor
    charged_fen: Fraction  # what the member pays


def bill_breakdown(*, bill: Bill) -> list[CaseCharge]:
    """The cases the member shared, in claim order (the yearly cap is applied in that order),
    by rules.member_lines; then a rounding line when the exact lines do not add up to the
    bill's whole fen."""
    membership, period = bill.membership, bill.period
    cases = period_cases(period)
    # The rules the period was billed under, not the plan's rules of today.
    lines = rules.member_lines(
        rules.Member(
            membership.pk, membership.joined_at, membership.in_pool_since, membership.ended_at
        ),
        [case.rule_case() for case in cases],
        [case.members_count for case in cases],
        per_case_cap_fen=period.per_case_cap_fen,
        headroom_fen=(
            None
            if bill.year_to_date_before_fen is None
            else period.yearly_cap_fen - bill.year_to_date_before_fen
        ),
    )
    rows = [
        CaseCharge(
            line.claim_id,
            line.share_fen,
            line.waived_fen,
            line.case_capped_fen,
            line.year_capped_fen,
            line.charged_fen,
        )
        for line in lines
    ]
    rounding = CaseCharge(
        None,
        bill.gross_fen - sum((r.share_fen for r in rows), Fraction(0)),
        bill.waived_fen - sum((r.waived_fen for r in rows), Fraction(0)),
        bill.capped_fen - sum((r.case_capped_fen + r.year_capped_fen for r in rows), Fraction(0)),
        Fraction(0),
        bill.charged_fen - sum((r.charged_fen for r in rows), Fraction(0)),
    )
    if any((rounding.share_fen, rounding.waived_fen, rounding.case_capped_fen,
            rounding.charged_fen)):  # fmt: skip
        rows.append(rounding)
    return rows
