"""Paying a posted period's claims: fund -> claim payable, claim approved -> paid."""

import datetime

from django.db import transaction

from billing.ledger import account_for, ledger_post
from billing.models import AccountRole, ApportionmentPeriod, PeriodStatus
from claims.models import Claim, ClaimState
from claims.services import claim_mark_paid


def period_pay_claims(*, period_id: int, now: datetime.datetime) -> int:
    """One transaction per claim (posting + transition), so a crash leaves each claim either
    paid with its posting or untouched; re-running pays only what is left."""
    period = ApportionmentPeriod.objects.select_related("plan").get(pk=period_id)
    if period.status != PeriodStatus.POSTED:
        return 0
    paid = 0
    for case in period.cases.select_related("claim").filter(claim__state=ClaimState.APPROVED):
        with transaction.atomic():
            # The finisher and beat may pay the same period at once: the claim row decides.
            claim = Claim.objects.select_for_update(of=("self",)).get(pk=case.claim_id)
            if claim.state != ClaimState.APPROVED:
                continue
            ledger_post(
                key=f"claim:{case.claim_id}:payout",
                description=f"payout of claim {case.claim_id}",
                now=now,
                lines=[
                    (account_for(plan=period.plan, role=AccountRole.FUND), case.amount_fen, 0),
                    (account_for(plan=period.plan, role=AccountRole.PAYABLE), 0, case.amount_fen),
                ],
            )
            claim_mark_paid(claim_id=case.claim_id, by=None, now=now)
        paid += 1
    ApportionmentPeriod.objects.filter(pk=period.pk, status=PeriodStatus.POSTED).update(
        status=PeriodStatus.PAID
    )
    return paid
