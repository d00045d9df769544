"""A posted period's seal: the bills' Merkle root signed (billing/tree.py), recorded in the
ledger, and the bills told; then the fresh partition vacuumed. After the posting, never before:
the tree costs about as much as the apportionment at ten million bills, and the money does not
wait for it."""

from __future__ import annotations

import datetime
import logging

from django.db import connection, transaction

from billing import partitions, tree
from billing.ledger import ledger_record
from billing.models import FINISHED, ApportionmentPeriod
from billing.notices import notify_bills_posted

logger = logging.getLogger(__name__)


@transaction.atomic
def period_sign(*, period_id: int, now: datetime.datetime) -> ApportionmentPeriod:
    """Once posted: sign the bills' Merkle root (building any chunk's part not yet built),
    record it in the ledger (a memo posting), and tell the bills. Idempotent."""
    period = (
        ApportionmentPeriod.objects.select_for_update(of=("self",))
        .select_related("plan")
        .get(pk=period_id)
    )
    if period.status not in FINISHED or period.merkle_root or not period.members_count:
        return period
    if not period.chunks_total:  # bills not billed here (loaded history): no tree to build
        return period
    previous = tree.previous_sealed(period)
    if previous is not None and not previous.merkle_root:
        # The head signs the previous root: sealing now would sign a broken link for good.
        # Beat sends both seals again, the earlier one first.
        logger.info("period %s: its seal waits for period %s's", period.pk, previous.pk)
        return period
    tree.tree_sign(period, now=now)
    period.bills_told_at = now
    period.save(update_fields=["merkle_size", "merkle_root", "merkle_head", "bills_told_at"])
    ledger_record(
        key=f"period:{period.pk}:merkle-root",
        description=f"Merkle root of period {period.pk}'s {period.merkle_size} bills: "
        f"{period.merkle_root}",
        now=now,
    )
    # Told once sealed, so that a member told of a bill can prove it at once; and the
    # notices (one per member) do not hold the seal back behind them on the workers. Bills are
    # debited, and their grace counted, from here (billing/debits.py): never before told.
    notify_bills_posted(period=period, now=now)
    return period


def period_vacuum(*, period_id: int) -> None:
    """VACUUM (ANALYZE) the period's fresh partition once it is posted: statistics, the
    visibility map and frozen rows now, rather than autovacuum at a random later moment,
    perhaps in the middle of the next run. VACUUM cannot run inside a transaction: there (the
    inline run of a test, the demo's seed) it is left to autovacuum."""
    if connection.in_atomic_block:
        return
    table = partitions.bills_table(period_id)
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [table])
        if cursor.fetchone()[0] is not None:  # a period with no case has no bills
            cursor.execute(f"VACUUM (ANALYZE) {table}")
