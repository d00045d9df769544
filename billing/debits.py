"""Collecting members' charges through a payment gateway, retrying failures, and lapsing
memberships still unpaid after the plan's grace period."""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.db import connection, transaction
from django.utils.module_loading import import_string

from billing.ledger import account_for, ledger_post
from billing.models import (
    FINISHED,
    AccountRole,
    ApportionmentPeriod,
    Bill,
    PeriodChunk,
)
from billing.notices import notify_debits_failed
from members.models import Membership, MembershipStatus
from members.services import membership_lapse
from mutual.core.timezones import local_date

RETRY_AFTER = datetime.timedelta(days=1)


@dataclass(frozen=True)
class DebitResult:
    ok: bool
    error: str = ""


class PaymentGateway(Protocol):
    def debit(
        self, *, account_id: int, membership_id: int, amount_fen: int, reference: str
    ) -> DebitResult:
        """Take `amount_fen` from the payment method of the account holder `account_id` (the
        member who pays for the membership's person: themselves, or their payer). `reference`
        is an idempotency key: a gateway must not debit twice for one reference."""


class LocalPaymentGateway:
    """Deterministic and offline: about one account in fifty is declined, always the same."""

    def __init__(self):
        self.debited: dict[str, int] = {}

    def debit(
        self, *, account_id: int, membership_id: int, amount_fen: int, reference: str
    ) -> DebitResult:
        if reference in self.debited:
            return DebitResult(ok=True)
        if hashlib.sha256(str(account_id).encode()).digest()[0] < 6:
            return DebitResult(ok=False, error="declined: insufficient funds")
        self.debited[reference] = amount_fen
        return DebitResult(ok=True)


def lapse_due_at(period: ApportionmentPeriod) -> datetime.datetime | None:
    """When a bill of `period` still unpaid lapses its membership: the plan's grace after the
    bills were told (at the seal). One rule for collection and for the notice that says it."""
    if period.bills_told_at is None:
        return None
    return period.bills_told_at + datetime.timedelta(days=period.plan.payment_grace_days)


NOT_TRIED = "not tried: an earlier bill of the same account was declined"


def _in_household_order(bills: list[Bill]) -> list[tuple[Bill, int]]:
    """The bills with their account, each account's together: the account holder's own bill
    first, then the others' in joining order."""
    people = {
        pk: (payer_id or member_id, payer_id is not None, joined_at)
        for pk, member_id, payer_id, joined_at in Membership.objects.filter(
            pk__in=[b.membership_id for b in bills]
        ).values_list("pk", "member_id", "member__payer_id", "joined_at")
    }
    ordered = sorted(bills, key=lambda b: (*people[b.membership_id], b.membership_id))
    return [(bill, people[bill.membership_id][0]) for bill in ordered]


def default_gateway() -> PaymentGateway:
    path = getattr(settings, "MUTUAL_PAYMENT_GATEWAY", "billing.debits.LocalPaymentGateway")
    return import_string(path)()


CLAIM_LEASE = datetime.timedelta(minutes=10)


def collect_chunk(
    *,
    chunk_id: int,
    now: datetime.datetime,
    gateway: PaymentGateway | None = None,
    batch_size: int = 1000,
) -> dict[str, int]:
    """Debit the due, unpaid bills of one chunk, a batch at a time, in three steps (as
    notices are delivered): take the batch (a short transaction leases its bills), call the
    gateway with no lock held and no transaction open (a slow gateway keeps no bill locked),
    then record every result and post the collected total once: Dr cash, Cr members'
    receivable. A bill is debited from its account holder's payment method; in a batch an
    account's bills go together, its own bill first, and once one is declined its later ones
    wait for the retry. Idempotent by the bill: its reference `bill:<id>` tells the gateway
    not to debit it twice, should a collector die between the debit and the record."""
    gateway = gateway or default_gateway()
    chunk = PeriodChunk.objects.select_related("period__plan").get(pk=chunk_id)
    totals = {"collected": 0, "failed": 0}
    if chunk.period.bills_told_at is None:  # told at the seal: never debited before
        return totals
    lease = now + CLAIM_LEASE
    while due := _take_batch(chunk, now=now, lease=lease, batch_size=batch_size):
        outcomes = []  # (bill, result or None: not tried)
        declined = set()
        for bill, account in _in_household_order(due):
            if account in declined:
                outcomes.append((bill, None))
                continue
            result = gateway.debit(
                account_id=account,
                membership_id=bill.membership_id,
                amount_fen=bill.charged_fen,
                reference=f"bill:{bill.pk}",
            )
            if not result.ok:
                declined.add(account)
            outcomes.append((bill, result))
        _record(chunk, outcomes, now=now, lease=lease, totals=totals)
    return totals


def _take_batch(chunk: PeriodChunk, *, now, lease, batch_size: int) -> list[Bill]:
    """The next due bills, leased until `lease` in a transaction of their own: another
    collector skips them (SKIP LOCKED now, the lease after the commit); a collector that dies
    leaves them due again once the lease ends."""
    with transaction.atomic():
        due = list(
            Bill.objects.select_for_update(skip_locked=True)
            .filter(
                period_id=chunk.period_id,
                paid_at__isnull=True,
                written_off_at__isnull=True,
                charged_fen__gt=0,
                membership_id__gte=chunk.first_id,
                membership_id__lte=chunk.last_id,
            )
            .exclude(next_debit_at__gt=now)
            .order_by("membership_id")[:batch_size]
        )
        Bill.objects.filter(period_id=chunk.period_id, pk__in=[b.pk for b in due]).update(
            next_debit_at=lease
        )
    return due


@transaction.atomic
def _record(chunk: PeriodChunk, outcomes, *, now, lease, totals: dict[str, int]) -> None:
    """Each result, on the bills still leased to this collector (a lease that ran out may have
    been taken again: then the other collector records it); the collected total posted once."""
    period = chunk.period
    mine = {
        bill.pk: bill
        for bill in Bill.objects.select_for_update().filter(
            period_id=period.pk,
            pk__in=[bill.pk for bill, _ in outcomes],
            paid_at__isnull=True,
            next_debit_at=lease,
        )
    }
    collected_fen, failed = 0, []
    for taken, result in outcomes:
        bill = mine.get(taken.pk)
        if bill is None:
            continue
        if result is None:
            bill.next_debit_at, bill.last_debit_error = now + RETRY_AFTER, NOT_TRIED
            continue
        bill.debit_attempts += 1
        if result.ok:
            bill.paid_at, bill.next_debit_at, bill.last_debit_error = now, None, ""
            collected_fen += bill.charged_fen
            totals["collected"] += 1
        else:
            bill.next_debit_at, bill.last_debit_error = now + RETRY_AFTER, result.error[:200]
            failed.append(bill)
            totals["failed"] += 1
    if not mine:
        return
    Bill.objects.bulk_update(
        list(mine.values()), ["paid_at", "debit_attempts", "next_debit_at", "last_debit_error"]
    )
    if failed:
        notify_debits_failed(
            period=period, bills=failed, now=now, lapse_on=local_date(lapse_due_at(period))
        )
    first, last = min(mine), max(mine)
    ledger_post(
        key=f"collect:{period.pk}:{first}:{last}:{now.isoformat()}",
        description=f"collected from {len(mine)} bills of {period}",
        now=now,
        lines=[
            (account_for(plan=period.plan, role=AccountRole.CASH), collected_fen, 0),
            (account_for(plan=period.plan, role=AccountRole.RECEIVABLE), 0, collected_fen),
        ],
    )


def lapse_unpaid(*, period_id: int, now: datetime.datetime) -> int:
    """Once the plan's grace has passed since the period's bills were told (lapse_due_at):
    lapse the live memberships whose bill is still unpaid, last joined first (an account
    holder's lapse takes their household out, members.services.membership_end), then book to
    the sponsor what collection could not recover from memberships no longer live: Dr
    sponsor, Cr members' receivable, each such bill marked written off. Each lapse is a
    logged FSM transition by the system. Returns how many memberships lapsed."""
    period = ApportionmentPeriod.objects.select_related("plan").get(pk=period_id)
    due_at = lapse_due_at(period)
    if due_at is None or period.status not in FINISHED or now < due_at:
        return 0
    unpaid = (
        Bill.objects.filter(
            period=period,
            paid_at__isnull=True,
            written_off_at__isnull=True,
            charged_fen__gt=0,
            membership__status=MembershipStatus.ACTIVE,
        )
        .order_by("-membership__joined_at", "-membership_id")
        .values_list("membership_id", flat=True)
    )
    lapsed = 0
    for membership_id in unpaid.iterator():
        if not Membership.objects.filter(pk=membership_id, status=MembershipStatus.ACTIVE).exists():
            continue  # taken out with its household meanwhile
        membership_lapse(
            membership_id=membership_id,
            by=None,
            now=now,
            reason=f"bill of {period} unpaid after {period.plan.payment_grace_days} days",
        )
        lapsed += 1
    bills_write_off(period_id=period.pk, now=now)
    return lapsed


@transaction.atomic
def bills_write_off(*, period_id: int, now: datetime.datetime) -> int:
    """The period's unpaid bills of memberships no longer live, past the grace: the sponsor
    bears them (a member who lapsed or left is still billed for the cases noticed while they
    were covered; what cannot be collected is not charged to the others). Idempotent: a bill
    is written off once. Returns the fen written off."""
    period = ApportionmentPeriod.objects.select_related("plan").get(pk=period_id)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""UPDATE {Bill._meta.db_table} AS b SET written_off_at = %s
                  FROM members_membership m
                 WHERE b.period_id = %s AND b.paid_at IS NULL AND b.written_off_at IS NULL
                   AND b.charged_fen > 0 AND m.id = b.membership_id AND m.status <> 'active'
             RETURNING b.id, b.charged_fen""",
            [now, period.pk],
        )
        rows = cursor.fetchall()
    written_off = sum(charged for _, charged in rows)
    if written_off:
        ledger_post(
            key=f"write-off:{period.pk}:{min(pk for pk, _ in rows)}:{now.isoformat()}",
            description=f"{len(rows)} unpaid bills of {period} of ended memberships, borne by "
            "the sponsor",
            now=now,
            lines=[
                (account_for(plan=period.plan, role=AccountRole.SPONSOR), written_off, 0),
                (account_for(plan=period.plan, role=AccountRole.RECEIVABLE), 0, written_off),
            ],
        )
    return written_off
