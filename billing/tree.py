"""The Merkle tree over a period's bills (RFC 9162, billing/merkle.py), and its signed head.

One tree per period: the MTH of all its bills in membership-id order. Leaf i is the canonical
encoding of the i-th bill (`LEAF`: version 1, period, pseudonym, gross, waived, capped,
charged, big-endian), the pseudonym being HMAC-SHA256(MUTUAL_LEAF_KEY, period || membership),
so that a leaf reveals no one. Each chunk of membership ids is built on its own (a Celery task
each, once the period is posted): its bills read in one value (40 bytes a bill: memory bounded
by the chunk's size, flat in N) and hashed in C (billing/leafhash.py) into a compact range at
its leaf offset (the bills of the chunks before it). The seal joins the chunks' ranges into
the root (O(chunks * log n) hashes), signs the head with Ed25519 and records the root in the
ledger (a memo posting, `period:N:merkle-root`, beside the period's money postings). Levels
from `KEPT_LEVEL` up are stored (`TreeNode`), with where each block of 256 leaves starts
(`TreeBlock`), so that a proof rehashes at most two blocks (billing/proofs.py)."""

from __future__ import annotations

import datetime
import json
import struct

import psycopg
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction

from billing import leafhash, merkle, partitions
from billing.models import FINISHED, ApportionmentPeriod, PeriodChunk, TreeBlock, TreeNode
from mutual.core.errors import InvariantError
from mutual.core.keyed_hash import PrefixedHmac, hmac_key_block

KEPT_LEVEL = 8
BLOCK = 1 << KEPT_LEVEL
LEAF = struct.Struct(">Bq32sqqqq")  # version, period, pseudonym, gross, waived, capped, charged
_IDS = struct.Struct(">qq")  # the pseudonym's message: period, membership
HEAD_FORMAT = "mutual-period-head/1"
_PAGE = 20_000


def _setting(name: str) -> str:
    value = getattr(settings, name, None)
    if not value:
        raise ImproperlyConfigured(f"{name} is not set: periods cannot be sealed nor proved")
    return value


def leaf_key() -> bytes:
    """MUTUAL_LEAF_KEY as HMAC's one 64-byte block (what billing/_leaves.c takes)."""
    return hmac_key_block(_setting("MUTUAL_LEAF_KEY").encode())


class Pseudonyms:
    """Each membership's pseudonym in one period: HMAC-SHA256(key, period || membership)."""

    def __init__(self, period_id: int, padded_key: bytes | None = None):
        self._hmac = PrefixedHmac(leaf_key() if padded_key is None else padded_key)
        self.period_id = period_id

    def of(self, membership_id: int) -> bytes:
        return self._hmac.digest(_IDS.pack(self.period_id, membership_id))


def leaf_bytes(period_id: int, pseudonym: bytes, gross, waived, capped, charged) -> bytes:
    return LEAF.pack(1, period_id, pseudonym, gross, waived, capped, charged)


def bills_in_order(period_id: int, first_id: int, last_id: int, limit: int | None = None):
    """(membership, gross, waived, capped, charged) of the period's bills with membership ids
    in [first_id, last_id], in id order, a page at a time (keyset, so memory stays flat)."""
    table = partitions.bills_table(period_id)
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [table])
        if cursor.fetchone()[0] is None:
            return
        after, left = first_id - 1, limit
        while left is None or left > 0:
            page = _PAGE if left is None else min(_PAGE, left)
            cursor.execute(
                f"SELECT membership_id, gross_fen, waived_fen, capped_fen, charged_fen "
                f"FROM {table} WHERE membership_id > %s AND membership_id <= %s "
                f"ORDER BY membership_id LIMIT %s",
                [after, last_id, page],
            )
            rows = cursor.fetchall()
            yield from rows
            if len(rows) < page:
                return
            after = rows[-1][0]
            if left is not None:
                left -= len(rows)


def leaf_hashes(period_id: int, rows) -> list[tuple[int, bytes]]:
    names = Pseudonyms(period_id)
    return [
        (row[0], merkle.leaf_hash(leaf_bytes(period_id, names.of(row[0]), *row[1:])))
        for row in rows
    ]


def _copy(model, columns: list[str], rows: list[tuple]) -> None:
    if not rows:
        return
    with (
        connection.cursor() as cursor,
        cursor.copy(f"COPY {model._meta.db_table} ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)


def _chunk_offset(chunk: PeriodChunk) -> int:
    earlier = PeriodChunk.objects.filter(period_id=chunk.period_id, index__lt=chunk.index)
    return sum(earlier.values_list("members_count", flat=True))


def bills_records(period_id: int, first_id: int, last_id: int) -> bytes:
    """The period's bills with membership ids in [first_id, last_id], in id order, as records
    of five big-endian int8s (membership, gross, waived, capped, charged), 40 bytes a bill.
    Read in one value, in binary, as they lie on disk (a chunk's bills were inserted together,
    in the draw's order) and sorted in billing/leafhash.py: at 250,000 bills 0.07 s, against
    0.4 s in the index's order (a heap page a bill) and more through COPY or as text."""
    table = partitions.bills_table(period_id)
    with transaction.atomic():
        connection.ensure_connection()
        # Django's cursors bind on the client, and those return text only (hex: twice the
        # bytes, then decoded); a plain psycopg cursor on the same connection returns binary.
        with psycopg.Cursor(connection.connection) as cursor:
            # A bitmap scan, whatever the statistics say (a fresh partition may have none):
            # the chunk's few thousand pages. No parallel workers: the chunks are the
            # parallelism, one task each. Put back after: SET LOCAL outlives a savepoint, and
            # a caller's transaction (a proof, say) must not inherit it.
            cursor.execute(
                "SELECT current_setting('enable_seqscan'), current_setting('enable_indexscan'),"
                " current_setting('max_parallel_workers_per_gather')"
            )
            saved = cursor.fetchone()
            cursor.execute(_PLANNER, ["off", "off", "0"])
            cursor.execute(
                f"SELECT string_agg(int8send(membership_id) || int8send(gross_fen) "
                f"|| int8send(waived_fen) || int8send(capped_fen) || int8send(charged_fen), "
                f"''::bytea) FROM {table} WHERE membership_id BETWEEN %s AND %s",
                [first_id, last_id],
                binary=True,
            )
            records = cursor.fetchone()[0]
            cursor.execute(_PLANNER, list(saved))
    return leafhash.sorted_records(records or b"")


_PLANNER = (
    "SELECT set_config('enable_seqscan', %s, true), set_config('enable_indexscan', %s, true),"
    " set_config('max_parallel_workers_per_gather', %s, true)"
)


def chunk_tree_build(*, chunk_id: int, now: datetime.datetime) -> bool:
    """Hash one billed chunk's bills into its compact range; store its kept levels and block
    starts. Idempotent: the chunk is locked, and marked in the transaction that stores them.
    The hashing is billing/leafhash.py's (C when built): whole blocks of 256 leaves are folded
    there, the few leaves before the chunk's first block boundary and after its last one here."""
    with transaction.atomic():
        chunk = PeriodChunk.objects.select_for_update(of=("self",)).get(pk=chunk_id)
        if chunk.tree_done_at is not None:
            return False
        if chunk.done_at is None:
            raise InvariantError(f"chunk {chunk.pk} is not billed: its tree cannot be built")
        period_id, offset = chunk.period_id, _chunk_offset(chunk)
        records = bills_records(period_id, chunk.first_id, chunk.last_id)
        ids, hashes = leafhash.leaf_hashes(records, period_id, leaf_key())
        del records
        count = len(ids) // 8
        if count != chunk.members_count:
            raise InvariantError(
                f"chunk {chunk.pk} has {count} bills, but billed {chunk.members_count}"
            )
        nodes: list[tuple] = []
        compact = merkle.CompactRange(
            begin=offset,
            end=offset,
            keep_from=KEPT_LEVEL,
            on_node=lambda level, index, digest: nodes.append((period_id, level, index, digest)),
        )
        aligned = min((-offset) % BLOCK, count)  # leaves before the first block boundary
        blocks = [
            (
                period_id,
                (offset + i) // BLOCK,
                int.from_bytes(ids[8 * i : 8 * i + 8], "big", signed=True),
            )
            for i in range(aligned, count, BLOCK)
        ]
        whole_end = aligned + (count - aligned) // BLOCK * BLOCK
        for i in range(aligned):
            compact.append(0, hashes[32 * i : 32 * i + 32])
        for i in range(aligned, whole_end, BLOCK):
            block_root = leafhash.perfect_root(hashes[32 * i : 32 * (i + BLOCK)])
            compact.append_subtree(KEPT_LEVEL, block_root)
        for i in range(whole_end, count):
            compact.append(0, hashes[32 * i : 32 * i + 32])
        _copy(TreeNode, ["period_id", "level", "index", "digest"], nodes)
        _copy(TreeBlock, ["period_id", "index", "first_membership_id"], blocks)
        PeriodChunk.objects.filter(pk=chunk.pk).update(
            tree_done_at=now, tree_range=compact.to_json()
        )
    return True


def chunks_without_tree(*, period_id: int) -> list[int]:
    pending = PeriodChunk.objects.filter(period_id=period_id, tree_done_at__isnull=True)
    return list(pending.order_by("index").values_list("pk", flat=True))


def previous_sealed(period: ApportionmentPeriod) -> ApportionmentPeriod | None:
    """The plan's last finished period with bills before this one: the link of the heads'
    chain. A period with no case has no tree; nor has one whose bills were not billed in
    chunks (history loaded from elsewhere): the chain starts after it."""
    return (
        ApportionmentPeriod.objects.filter(
            plan_id=period.plan_id,
            cutoff_at__lt=period.cutoff_at,
            status__in=FINISHED,
            members_count__gt=0,
            chunks_total__gt=0,
        )
        .order_by("-cutoff_at")
        .first()
    )


def head_bytes(head: dict) -> bytes:
    """What is signed: the head as canonical JSON (sorted keys, no spaces, ASCII)."""
    return json.dumps(head, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def signing_key():
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    seed = _setting("MUTUAL_SIGNING_KEY")
    try:
        raw = bytes.fromhex(seed)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise ImproperlyConfigured("MUTUAL_SIGNING_KEY must be 64 hex digits (an Ed25519 seed)")
    return Ed25519PrivateKey.from_private_bytes(raw)


def public_key_hex() -> str:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return signing_key().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def tree_sign(period: ApportionmentPeriod, *, now: datetime.datetime) -> str:
    """Join the chunks' ranges (building any not yet built, here), sign the head and set the
    period's tree fields (the caller, billing.sealing.period_sign, saves them). Returns the
    root, hex."""
    for chunk_id in chunks_without_tree(period_id=period.pk):
        chunk_tree_build(chunk_id=chunk_id, now=now)
    spanning: list[tuple] = []
    whole = merkle.CompactRange(
        keep_from=KEPT_LEVEL,
        on_node=lambda level, index, digest: spanning.append((period.pk, level, index, digest)),
    )
    for data in period.chunks.order_by("index").values_list("tree_range", flat=True):
        whole.extend(merkle.CompactRange.from_json(data))
    _copy(TreeNode, ["period_id", "level", "index", "digest"], spanning)
    previous = previous_sealed(period)
    head = {
        "format": HEAD_FORMAT,
        "plan": period.plan.code,
        "period": period.pk,
        "cutoff": period.cutoff_at.isoformat(),
        "size": whole.end,
        "root": whole.root().hex(),
        "previous_period": previous.pk if previous else None,
        "previous_root": (previous.merkle_root or None) if previous else None,
        "timestamp": now.isoformat(),
    }
    signature = signing_key().sign(head_bytes(head))
    period.merkle_size, period.merkle_root = whole.end, head["root"]
    period.merkle_head = {
        "head": head,
        "signature": signature.hex(),
        "public_key": public_key_hex(),
    }
    return head["root"]
