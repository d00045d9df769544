"""Reads for billing: a bill broken down by case, recomputed from the period's cases and the
membership by the same rules as apportion.py (no members x cases rows are stored)."""

from __future__ import annotations

from dataclasses import dataclass

from billing.models import Bill


@dataclass(frozen=True)
class CaseCharge:
    claim_id: int
    share_fen: int  # the member's exact share of payout + fee
    waived_fen: int  # by a promotion, paid by the sponsor
    case_capped_fen: int  # above the per-case cap, paid by the sponsor
    year_capped_fen: int  # above the yearly cap, paid by the sponsor
    charged_fen: int  # what the member pays


def bill_breakdown(bill: Bill) -> list[CaseCharge]:
    """Cases in claim order; the yearly cap is applied in that order."""
    membership, period = bill.membership, bill.period
    plan = period.plan
    headroom = (
        None
        if bill.year_to_date_before_fen is None
        else max(0, plan.yearly_cap_fen - bill.year_to_date_before_fen)
    )
    rows = []
    for case in period.cases.order_by("claim_id"):
        if membership.in_pool_since >= case.publicized_at:
            continue
        share = case.base_share_fen + (1 if membership.pk <= case.extra_fen_up_to_id else 0)
        waived = (
            share
            if case.waive_if_joined_before and membership.joined_at < case.waive_if_joined_before
            else 0
        )
        payable = 0 if waived else min(share, plan.per_case_cap_fen)
        charged = payable if headroom is None else min(payable, headroom)
        if headroom is not None:
            headroom -= charged
        rows.append(
            CaseCharge(
                case.claim_id, share, waived, share - waived - payable, payable - charged, charged
            )
        )
    return rows
