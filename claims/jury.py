"""A verifiable jury draw: the seed committed when the first dispute opens, the jury drawn by
mutual/jury.py's rule from the eligible members' pseudonyms, the seed revealed once the claim
is decided. Anyone recomputes the jury with `python -m mutual.jury` (README, Check it
yourself)."""

from __future__ import annotations

import datetime
import hashlib
import heapq
import hmac
import secrets
import struct

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from claims.models import Claim, ClaimState, JuryDraw
from members.models import DisputeReview, Membership, MembershipStatus
from mutual import jury as rule
from mutual.core.errors import InvariantError

_IDS = struct.Struct(">qq")  # claim, membership
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
    """`pseudonym` with the key's pads hashed once (RFC 2104), as billing/tree.py does: a
    draw names every eligible member."""

    def __init__(self, key: bytes, claim_id: int):
        key = (hashlib.sha256(key).digest() if len(key) > 64 else key).ljust(64, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        self._inner.update(b"jury")
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))
        self.claim_id = claim_id

    def of(self, membership_id: int) -> bytes:
        inner = self._inner.copy()
        inner.update(_IDS.pack(self.claim_id, membership_id))
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()


def jury_commit(*, claim: Claim, now: datetime.datetime) -> JuryDraw | None:
    """Commit a fresh secret seed for a jury plan's claim, once (the caller holds its lock)."""
    if claim.plan.dispute_review != DisputeReview.JURY:
        return None
    existing = JuryDraw.objects.filter(claim=claim).first()
    if existing is not None:
        return existing
    seed = secrets.token_bytes(rule.SEED_BYTES)
    return JuryDraw.objects.create(
        claim=claim, seed=seed.hex(), commitment=rule.commitment_of(seed), committed_at=now
    )


def jury_pick(*, claim: Claim, excluded: set[int], now: datetime.datetime) -> list[int]:
    """Draw the jury by the committed seed: the members (ids) drawn, lowest rank first.
    Eligible: the plan's active members who entered its pool by the commitment, less
    `excluded`. One pass; the published list costs 32 bytes (and a Python object) each."""
    draw = jury_commit(claim=claim, now=now)
    seed = rule.check_seed(draw.seed, draw.commitment)
    key = _key()
    eligible = (
        Membership.objects.filter(
            plan_id=claim.plan_id,
            status=MembershipStatus.ACTIVE,
            in_pool_since__lte=draw.committed_at,
        )
        .exclude(member_id__in=excluded)
        .values_list("pk", "member_id")
        .order_by("pk")
    )
    listed: list[bytes] = []
    names = _Pseudonyms(key, claim.pk)

    def ranked():
        for pk, member_id in eligible.iterator(chunk_size=20_000):
            p = names.of(pk)
            listed.append(p)
            yield rule.rank(seed, p), p, member_id

    drawn = heapq.nsmallest(claim.plan.jury_size, ranked())  # the rule's order: rank, then p
    listed.sort()
    jurors = [p for _rank, p, _member in drawn]
    draw.eligible = b"".join(listed)
    draw.eligible_count, draw.eligible_sha256 = rule.eligible_digest(listed)
    draw.size, draw.jurors, draw.drawn_at = claim.plan.jury_size, [p.hex() for p in jurors], now
    draw.save()
    return [member_id for _rank, _p, member_id in drawn]


def revealed_seed(draw: JuryDraw) -> str | None:
    """The seed, once the jury was drawn and the claim decided; a stored seed that does not
    match its commitment is refused (never published)."""
    if draw.drawn_at is None or draw.claim.state in UNDECIDED:
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
        "jurors": draw.jurors,
    }


def eligible_lines(draw: JuryDraw, *, per_read: int = 4096):
    """The stored list, one pseudonym a line, read a slice at a time: at ten million members
    it is 320 MB, and the page is public."""
    size = 32 * per_read
    for offset in range(0, draw.eligible_count * 32, size):
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT substring(eligible FROM %s FOR %s) FROM {JuryDraw._meta.db_table} "
                "WHERE id = %s",
                [offset + 1, size, draw.pk],
            )
            data = bytes(cursor.fetchone()[0])
        for start in range(0, len(data), 32):
            yield data[start : start + 32].hex() + "\n"
