"""Collecting members' charges through a payment gateway, retrying failures, and lapsing
memberships still unpaid after the plan's grace period."""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.db import transaction
from django.utils.module_loading import import_string

from billing.ledger import account_for, ledger_post
from billing.models import (
    FINISHED,
    AccountRole,
    ApportionmentPeriod,
    Bill,
    PeriodChunk,
)
from members.models import MembershipStatus
from members.notifications.events import notify_debits_failed
from members.services import membership_lapse

RETRY_AFTER = datetime.timedelta(days=1)


@dataclass(frozen=True)
class DebitResult:
    ok: bool
    error: str = ""


class PaymentGateway(Protocol):
    def debit(self, *, membership_id: int, amount_fen: int, reference: str) -> DebitResult:
        """Take `amount_fen` from the member's payment method. `reference` is an idempotency
        key: a gateway must not debit twice for one reference."""


class LocalPaymentGateway:
    """Deterministic and offline: about one membership in fifty is declined, always the same."""

    def __init__(self):
        self.debited: dict[str, int] = {}

    def debit(self, *, membership_id: int, amount_fen: int, reference: str) -> DebitResult:
        if reference in self.debited:
            return DebitResult(ok=True)
        if hashlib.sha256(str(membership_id).encode()).digest()[0] < 6:
            return DebitResult(ok=False, error="declined: insufficient funds")
        self.debited[reference] = amount_fen
        return DebitResult(ok=True)


def default_gateway() -> PaymentGateway:
    path = getattr(settings, "MUTUAL_PAYMENT_GATEWAY", "billing.debits.LocalPaymentGateway")
    return import_string(path)()


def collect_chunk(
    *,
    chunk_id: int,
    now: datetime.datetime,
    gateway: PaymentGateway | None = None,
    batch_size: int = 1000,
) -> dict[str, int]:
    """Debit the due, unpaid bills of one chunk, a batch per transaction. Each batch locks its
    bills (SKIP LOCKED, so workers can share a chunk), records every result, and posts the
    collected total once: Dr cash, Cr members' receivable."""
    gateway = gateway or default_gateway()
    chunk = PeriodChunk.objects.select_related("period__plan").get(pk=chunk_id)
    plan = chunk.period.plan
    totals = {"collected": 0, "failed": 0}
    if chunk.period.bills_told_at is None:  # told at the seal: never debited before
        return totals
    while True:
        with transaction.atomic():
            due = list(
                Bill.objects.select_for_update(skip_locked=True)
                .filter(
                    period_id=chunk.period_id,
                    paid_at__isnull=True,
                    charged_fen__gt=0,
                    membership_id__gte=chunk.first_id,
                    membership_id__lte=chunk.last_id,
                )
                .exclude(next_debit_at__gt=now)
                .order_by("membership_id")[:batch_size]
            )
            if not due:
                return totals
            collected_fen = 0
            for bill in due:
                result = gateway.debit(
                    membership_id=bill.membership_id,
                    amount_fen=bill.charged_fen,
                    reference=f"bill:{bill.pk}",
                )
                bill.debit_attempts += 1
                if result.ok:
                    bill.paid_at, bill.last_debit_error = now, ""
                    collected_fen += bill.charged_fen
                    totals["collected"] += 1
                else:
                    bill.next_debit_at, bill.last_debit_error = (
                        now + RETRY_AFTER,
                        result.error[:200],
                    )
                    totals["failed"] += 1
            Bill.objects.bulk_update(
                due, ["paid_at", "debit_attempts", "next_debit_at", "last_debit_error"]
            )
            failed = [bill for bill in due if bill.paid_at is None]
            if failed:
                notify_debits_failed(period=chunk.period, bills=failed, now=now)
            ledger_post(
                key=f"collect:{chunk.period_id}:{due[0].pk}:{due[-1].pk}:{now.isoformat()}",
                description=f"collected from {len(due)} bills of {chunk.period}",
                now=now,
                lines=[
                    (account_for(plan, AccountRole.CASH), collected_fen, 0),
                    (account_for(plan, AccountRole.RECEIVABLE), 0, collected_fen),
                ],
            )


def lapse_unpaid(*, period_id: int, now: datetime.datetime) -> int:
    """Lapse memberships whose bill is still unpaid once the plan's grace period has passed
    since the period was sealed (when its bills were told). Each lapse is a logged FSM
    transition by the system."""
    period = ApportionmentPeriod.objects.select_related("plan").get(pk=period_id)
    if period.bills_told_at is None or period.status not in FINISHED:
        return 0
    if now < period.bills_told_at + datetime.timedelta(days=period.plan.payment_grace_days):
        return 0
    unpaid = Bill.objects.filter(
        period=period,
        paid_at__isnull=True,
        charged_fen__gt=0,
        membership__status=MembershipStatus.ACTIVE,
    ).values_list("membership_id", flat=True)
    lapsed = 0
    for membership_id in unpaid.iterator():
        membership_lapse(
            membership_id=membership_id,
            by=None,
            now=now,
            reason=f"bill of {period} unpaid after {period.plan.payment_grace_days} days",
        )
        lapsed += 1
    return lapsed
