"""A verifiable jury draw: the seed committed when the first dispute opens, the jury drawn by
mutual/jury.py's rule from the eligible members' pseudonyms, the seed revealed once the claim
is decided. Anyone recomputes the jury with `python -m mutual.jury` (README, Check it
yourself)."""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import heapq
import hmac
import itertools
import secrets
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connection
from django.db.models import Exists, OuterRef

from claims.models import Claim, ClaimState, JuryDraw
from members.models import Consent, ConsentPurpose, DisputeReview, Membership, MembershipStatus
from mutual import jury as rule
from mutual.core.errors import InvariantError
from mutual.core.keyed_hash import PrefixedHmac
from mutual.core.tasks import task_send_on_commit

_IDS = struct.Struct(">qq")  # claim, membership
PAGE_SIZE = 20_000  # eligible members named per query
# The draw's pseudonyms, then the sorted list they make (session-local temporary tables).
_STAGED, _SORTED = "jury_draw_staged", "jury_draw_sorted"
_COPY_IN = f"COPY {_STAGED} (p) FROM STDIN (FORMAT BINARY)"
# COPY's binary format: a header, then per row its field count (1) and the field's length
# (32), then a trailer. Written whole rather than row by row (psycopg's write_row): a third
# of the time a draw spends in Python at a million members.
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_COPY_ROW = struct.pack(">hi", 1, 32)
_COPY_TRAILER = struct.pack(">h", -1)
# bytea sorts as the rule sorts bytes (memcmp, then length); an empty list is b"".
_SORT_SQL = f"""
CREATE TEMPORARY TABLE {_SORTED} AS
SELECT listed AS eligible, n, encode(sha256(listed), 'hex') AS sha256
  FROM (SELECT coalesce(string_agg(p, ''::bytea ORDER BY p), ''::bytea) AS listed,
               count(*) AS n
          FROM {_STAGED}) AS staged
"""
UNDECIDED = (ClaimState.PUBLICIZED, ClaimState.DISPUTED)


def _key() -> bytes:
    value = getattr(settings, "MUTUAL_LEAF_KEY", None)
    if not value:
        raise ImproperlyConfigured("MUTUAL_LEAF_KEY is not set: juries cannot be drawn")
    return value.encode()


def pseudonym(key: bytes, claim_id: int, membership_id: int) -> bytes:
    """HMAC-SHA256(key, "jury" || claim || membership): names no one without the key."""
    return hmac.digest(key, b"jury" + _IDS.pack(claim_id, membership_id), hashlib.sha256)


class _Pseudonyms:
    """`pseudonym` for every eligible member of one draw, the key's pads hashed once."""

    def __init__(self, key: bytes, claim_id: int):
        self._hmac = PrefixedHmac(key, prefix=b"jury")
        self.claim_id = claim_id

    def of(self, membership_id: int) -> bytes:
        return self._hmac.digest(_IDS.pack(self.claim_id, membership_id))


def jury_commit(*, claim: Claim, now: datetime.datetime) -> JuryDraw | None:
    """Commit a fresh secret seed for a jury plan's claim, once per round of publicity (the
    caller holds its lock)."""
    if claim.plan.dispute_review != DisputeReview.JURY:
        return None
    existing = JuryDraw.objects.filter(claim=claim, round=claim.reopened).defer("eligible")
    if (draw := existing.first()) is not None:
        return draw
    seed = secrets.token_bytes(rule.SEED_BYTES)
    return JuryDraw.objects.create(
        claim=claim,
        round=claim.reopened,
        seed=seed.hex(),
        commitment=rule.commitment_of(seed),
        committed_at=now,
    )


@dataclass(frozen=True)
class Pick:
    """A draw computed but not yet written: the jurors (pseudonym, member id), lowest rank
    first, and the sorted eligible list's count and SHA-256 (the list itself waits in a
    temporary table for `jury_record`)."""

    size: int
    jurors: list[tuple[bytes, int]]
    eligible_count: int
    eligible_sha256: str


def _eligible_pages(*, claim: Claim, draw: JuryDraw, excluded: set[int], page_size: int):
    """The eligible memberships (id, member id) in id order, a keyset page at a time on the
    (plan, status, id) index: each page is its own short query, so nothing stays open while
    the page is named and ranked. The rule: the plan's active members who entered its pool
    by the commitment, less `excluded` and those who withdrew their consent to jury service."""
    jury = Consent.objects.filter(member=OuterRef("member_id"), purpose=ConsentPurpose.JURY)
    withdrawn, in_force = jury.filter(withdrawn_at__isnull=False), jury.filter(withdrawn_at=None)
    eligible = (
        Membership.objects.filter(
            plan_id=claim.plan_id,
            status=MembershipStatus.ACTIVE,
            in_pool_since__lte=draw.committed_at,
        )
        .exclude(member_id__in=excluded)
        .exclude(Exists(withdrawn) & ~Exists(in_force))  # no longer consents to jury service
        .values_list("pk", "member_id")
        .order_by("pk")
    )
    after = 0
    while page := list(eligible.filter(pk__gt=after)[:page_size]):
        yield page
        after = page[-1][0]


def _copy_rows(pseudonyms: Iterable[bytes]) -> bytes:
    rows = b"".join(_COPY_ROW + p for p in pseudonyms)
    return _COPY_HEADER + rows + _COPY_TRAILER


def _drop_staging() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS pg_temp.{_STAGED}, pg_temp.{_SORTED}")


@contextlib.contextmanager
def jury_pick(
    *, claim: Claim, draw: JuryDraw, excluded: set[int], page_size: int | None = None
) -> Iterator[Pick]:
    """Draw by the committed seed, writing nothing: inside the block, `jury_record` writes
    the draw. Each eligible member is named (pseudonym) and ranked a page at a time; only the
    `size` lowest ranks are kept, and the pseudonyms go to a temporary table (COPY), where
    PostgreSQL sorts and joins them into the published list. Memory is O(page + size) here,
    whatever the plan's size; the temporary tables go with the block, or with the session if
    the worker is killed."""
    seed = rule.check_seed(draw.seed, draw.commitment)
    names = _Pseudonyms(_key(), claim.pk)
    size = claim.plan.jury_size
    best: list[tuple[bytes, bytes, int]] = []  # (rank, pseudonym, member id): the rule's order
    named = 0
    _drop_staging()  # a block cut short on this connection must not add to this draw
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE TEMPORARY TABLE {_STAGED} (p bytea NOT NULL)")
        for page in _eligible_pages(
            claim=claim, draw=draw, excluded=excluded, page_size=page_size or PAGE_SIZE
        ):
            pseudonyms = [(names.of(pk), member_id) for pk, member_id in page]
            with connection.cursor() as cursor, cursor.copy(_COPY_IN) as copy:
                copy.write(_copy_rows(p for p, _member_id in pseudonyms))
            ranked = ((rule.rank(seed, p), p, member_id) for p, member_id in pseudonyms)
            best = heapq.nsmallest(size, itertools.chain(best, ranked))
            named += len(page)
        with connection.cursor() as cursor:
            cursor.execute(_SORT_SQL)
            cursor.execute(f"SELECT n, sha256 FROM {_SORTED}")
            count, sha256 = cursor.fetchone()
        if count != named:
            raise InvariantError(f"jury draw {draw.pk}: {count} pseudonyms staged, {named} named")
        yield Pick(
            size=size,
            jurors=[(p, member_id) for _rank, p, member_id in best],
            eligible_count=count,
            eligible_sha256=sha256,
        )
    finally:
        with contextlib.suppress(DatabaseError):  # a lost connection took them with it
            _drop_staging()


def jury_record(*, draw: JuryDraw, pick: Pick, now: datetime.datetime) -> None:
    """Write a draw picked by `jury_pick` (inside its block): the sorted list, its count and
    SHA-256, the jurors and drawn_at, in the caller's transaction (it holds the claim's lock).
    The seed and its commitment are left as they were."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {JuryDraw._meta.db_table} AS d SET eligible = s.eligible "
            f"FROM {_SORTED} AS s WHERE d.id = %s",
            [draw.pk],
        )
    JuryDraw.objects.filter(pk=draw.pk).update(
        eligible_count=pick.eligible_count,
        eligible_sha256=pick.eligible_sha256,
        size=pick.size,
        jurors=[p.hex() for p, _member_id in pick.jurors],
        drawn_at=now,
    )


def revealed_seed(draw: JuryDraw) -> str | None:
    """The seed, once the jury was drawn and its round decided (the claim decided, or
    reopened since); a stored seed that does not match its commitment is refused (never
    published)."""
    over = draw.round < draw.claim.reopened or draw.claim.state not in UNDECIDED
    if draw.drawn_at is None or not over:
        return None
    try:
        rule.check_seed(draw.seed, draw.commitment)
    except rule.Invalid as error:
        raise InvariantError(f"jury draw {draw.pk}: {error}") from None
    return draw.seed


def public_draw(draw: JuryDraw) -> dict:
    """What anyone may read of a draw: no claim, member or membership id."""
    return {
        "format": rule.FORMAT,
        "commitment": draw.commitment,
        "committed_at": draw.committed_at.isoformat(),
        "drawn_at": draw.drawn_at.isoformat() if draw.drawn_at else None,
        "seed": revealed_seed(draw),
        "size": draw.size,
        "eligible_count": draw.eligible_count,
        "eligible_sha256": draw.eligible_sha256 or None,
        "eligible_pages": eligible_pages(draw),
        "page_size": rule.PAGE_SIZE,
        "jurors": draw.jurors,
    }


def eligible_pages(draw: JuryDraw) -> int:
    """How many pages the published list takes (rule.PAGE_SIZE pseudonyms each)."""
    return -(-draw.eligible_count // rule.PAGE_SIZE)


def eligible_page(draw: JuryDraw, page: int) -> bytes:
    """One page of the stored list: the 32-byte pseudonyms from page x PAGE_SIZE on, read as
    one slice of the row (its value is stored out of line and uncompressed, random bytes do
    not compress, so PostgreSQL reads only that slice). Raises IndexError past the last
    page. Each answer is at most 256 KiB, whatever the plan's size: at ten million members the
    list is 320 MB, and it is public."""
    if not 0 <= page < eligible_pages(draw):
        raise IndexError(page)
    size = 32 * rule.PAGE_SIZE
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT substring(eligible FROM %s FOR %s) FROM {JuryDraw._meta.db_table} "
            "WHERE id = %s",
            [page * size + 1, size, draw.pk],
        )
        return bytes(cursor.fetchone()[0])


def jury_request(*, claim: Claim, now: datetime.datetime) -> JuryDraw | None:
    """Hand a jury plan's claim, just gone to review, to the workers for its draw (the caller
    holds the claim's lock): the task is sent once this transaction commits, so the
    transition never waits for the draw (at ten million members, half a minute)."""
    draw = jury_commit(claim=claim, now=now)  # committed at the first dispute; kept as it is
    if draw is None:
        return None
    JuryDraw.objects.filter(pk=draw.pk).update(enqueued_at=now)
    jury_send(claim.pk, now=now)
    return draw


def jury_send(claim_id: int, *, now: datetime.datetime) -> None:
    """Hand a claim's draw to the workers once the caller's transaction commits."""
    task_send_on_commit("claims.tasks.draw_jury", claim_id, now.isoformat())
