"""Posting to the double-entry ledger: balanced, idempotent, append-only."""

from __future__ import annotations

import datetime

from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from psycopg.errors import UniqueViolation

from billing.models import ROLE_KINDS, Account, Posting, PostingLine
from members.models import Plan
from mutual.core.errors import InvariantError


class UnbalancedPosting(InvariantError):
    """The lines a service built do not balance: a bug in the service, never the caller's."""


def account_for(*, plan: Plan, role: str) -> Account:
    account, _ = Account.objects.get_or_create(
        plan=plan, role=role, defaults={"kind": ROLE_KINDS[role]}
    )
    return account


def ledger_post(
    *, key: str, description: str, now: datetime.datetime, lines: list[tuple[Account, int, int]]
) -> Posting | None:
    """lines: (account, debit_fen, credit_fen); zero lines are dropped. Posting the same key
    again returns the first posting and writes nothing (safe for re-delivered tasks)."""
    lines = [(account, debit, credit) for account, debit, credit in lines if debit or credit]
    if not lines:
        return None  # nothing moved: no empty posting
    debits, credits = sum(d for _, d, _ in lines), sum(c for _, _, c in lines)
    if debits != credits:
        raise UnbalancedPosting(f"posting {key} does not balance: Dr {debits} != Cr {credits}")
    existing = Posting.objects.filter(idempotency_key=key).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            posting = Posting.objects.create(
                idempotency_key=key, description=description, posted_at=now
            )
            PostingLine.objects.bulk_create(
                PostingLine(posting=posting, account=account, debit_fen=debit, credit_fen=credit)
                for account, debit, credit in lines
            )
    except IntegrityError as error:
        if not isinstance(error.__cause__, UniqueViolation):
            raise  # a line the database refuses: the real cause, not a missing posting
        # Another worker posted the same key between our check and our insert.
        return Posting.objects.get(idempotency_key=key)
    return posting


def ledger_record(*, key: str, description: str, now: datetime.datetime) -> Posting:
    """A memo posting: a fact the ledger must hold with the money (a period's Merkle root),
    no lines. Idempotent like `ledger_post`: the same key again returns the first record."""
    posting, _ = Posting.objects.get_or_create(
        idempotency_key=key, defaults={"description": description, "posted_at": now, "memo": True}
    )
    if not posting.memo or posting.description != description:
        raise InvariantError(f"posting {key} exists and records something else")
    return posting


def account_balance(account: Account) -> int:
    """Debits minus credits."""
    totals = account.lines.aggregate(dr=Sum("debit_fen"), cr=Sum("credit_fen"))
    return (totals["dr"] or 0) - (totals["cr"] or 0)


def ledger_verify() -> list[str]:
    """Every posting balances and has lines (a memo has none); the whole ledger balances."""
    problems = []
    unbalanced = (
        PostingLine.objects.values("posting_id", "posting__idempotency_key")
        .annotate(dr=Sum("debit_fen"), cr=Sum("credit_fen"))
        .exclude(dr=F("cr"))
    )
    for row in unbalanced:
        problems.append(
            f"posting {row['posting_id']} ({row['posting__idempotency_key']}) does not balance: "
            f"Dr {row['dr']} != Cr {row['cr']}"
        )
    for posting in Posting.objects.filter(lines__isnull=True, memo=False):
        problems.append(f"posting {posting.pk} ({posting.idempotency_key}) has no lines")
    for posting in Posting.objects.filter(memo=True, lines__isnull=False).distinct():
        problems.append(f"memo {posting.pk} ({posting.idempotency_key}) moves money")
    totals = PostingLine.objects.aggregate(dr=Sum("debit_fen"), cr=Sum("credit_fen"))
    if (totals["dr"] or 0) != (totals["cr"] or 0):
        problems.append(f"ledger does not balance: Dr {totals['dr']} != Cr {totals['cr']}")
    return problems
