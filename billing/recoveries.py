"""Recovering a payout: money paid on a claim later found fraudulent (or paid in error) comes
back, and goes to the plan's members by lowering their next period.

The books are never edited. Recording a recovery writes a Recovery row and its compensating
posting in one transaction: Dr cash, Cr recovered (a liability: owed to the members). The next
period prepared spends what is owed, up to its own total, on its cases (rules.recovery_split):
its sharers owe that much less, the claimants are paid in full, and `period_finish` posts it
Dr recovered. What one period cannot spend waits for the next."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Sum

from billing import rules
from billing.errors import ErrorCode
from billing.ledger import account_for, ledger_post
from billing.models import AccountRole, ApportionmentPeriod, PeriodCase, Recovery
from claims.models import Claim, ClaimState, ReasonKind
from claims.reasons import reason_for
from mutual.core.errors import ServiceError
from mutual.core.money import format_yuan

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def recoverable_fen(*, claim_id: int) -> int:
    """What was paid on the claim and is not recovered yet."""
    paid = PeriodCase.objects.filter(claim_id=claim_id).values_list("amount_fen", flat=True)
    recovered = Recovery.objects.filter(claim_id=claim_id).aggregate(s=Sum("amount_fen"))["s"]
    return (paid.first() or 0) - (recovered or 0)


@transaction.atomic
def claim_recover(
    *,
    claim_id: int,
    amount_fen: int,
    reason_code: str,
    note: str,
    by: User,
    now: datetime.datetime,
) -> Recovery:
    """Record money recovered from a paid claim, at most what is left of its payout."""
    if by is None or not by.has_perm("billing.add_recovery"):
        raise PermissionDenied(f"{by} may not record recoveries")
    reason = reason_for(reason_code, kind=ReasonKind.RECOVERY, field="reason")
    if not (note or "").strip():
        raise ServiceError("say what was found and how the money came back", field="note")
    # Two recoveries of one claim at once: the claim's row makes them take turns, so together
    # they never exceed its payout.
    claim = Claim.objects.select_for_update(of=("self",)).filter(pk=claim_id).first()
    if claim is None:
        raise ServiceError(f"there is no claim {claim_id}", field="claim")
    if claim.state != ClaimState.PAID:
        raise ServiceError(
            f"claim {claim_id} is {claim.get_state_display()}: only a paid claim is recovered",
            code=ErrorCode.NOT_PAID,
            field="claim",
        )
    left = recoverable_fen(claim_id=claim_id)
    if not isinstance(amount_fen, int) or isinstance(amount_fen, bool) or amount_fen <= 0:
        raise ServiceError("the amount must be more than 0", code=ErrorCode.AMOUNT, field="amount")
    if amount_fen > left:
        raise ServiceError(
            f"only {format_yuan(left)} yuan of claim {claim_id}'s payout is left to recover",
            code=ErrorCode.NOTHING_TO_RECOVER if left == 0 else ErrorCode.AMOUNT,
            field="amount",
        )
    number = Recovery.objects.filter(claim_id=claim_id).count() + 1
    posting = ledger_post(
        key=f"claim:{claim_id}:recovery:{number}",
        description=f"recovery {number} of claim {claim_id}'s payout ({reason.code})",
        now=now,
        lines=[
            (account_for(plan=claim.plan, role=AccountRole.CASH), amount_fen, 0),
            (account_for(plan=claim.plan, role=AccountRole.RECOVERED), 0, amount_fen),
        ],
    )
    return Recovery.objects.create(
        plan_id=claim.plan_id,
        claim_id=claim_id,
        amount_fen=amount_fen,
        reason=reason,
        note=note.strip(),
        recorded_by=by,
        recorded_at=now,
        posting=posting,
    )


def recovered_to_spend(*, period: ApportionmentPeriod) -> int:
    """What the plan's members are owed from recoveries recorded before the period's cutoff,
    less what the plan's other periods already spent (a period prepared once keeps its share,
    even failed and retried)."""
    recovered = Recovery.objects.filter(
        plan_id=period.plan_id, recorded_at__lt=period.cutoff_at
    ).aggregate(s=Sum("amount_fen"))["s"]
    spent = (
        ApportionmentPeriod.objects.filter(plan_id=period.plan_id)
        .exclude(pk=period.pk)
        .aggregate(s=Sum("recovered_fen"))["s"]
    )
    return max((recovered or 0) - (spent or 0), 0)


def spend_on_cases(period: ApportionmentPeriod, period_cases: list[PeriodCase]) -> None:
    """Spend what the members are owed from recovered payouts on the period's cases being
    prepared, up to their total (apportion.period_prepare holds the plan's row: no other
    period of the plan prepares meanwhile)."""
    totals = [c.amount_fen + c.fee_fen for c in period_cases]
    period.recovered_fen = min(recovered_to_spend(period=period), sum(totals))
    for case, part in zip(
        period_cases, rules.recovery_split(totals, period.recovered_fen), strict=True
    ):
        case.recovered_fen = part
