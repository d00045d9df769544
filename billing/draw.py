"""Who pays a group's extra fen: a draw keyed by period and membership.

The key is PostgreSQL's `hashint8extended(membership_id, period_id)` (Bob Jenkins' lookup3, the
hash PostgreSQL uses for hash partitioning, so it is stable across versions and platforms).
This is the same function in Python, so the reference rules and anyone auditing a period can
recompute every draw without the database. Tested value for value against the server."""

from __future__ import annotations

_MASK = 0xFFFFFFFF


def _rot(x: int, k: int) -> int:
    return ((x << k) | (x >> (32 - k))) & _MASK


def _mix(a: int, b: int, c: int) -> tuple[int, int, int]:
    a = (a - c) & _MASK
    a ^= _rot(c, 4)
    c = (c + b) & _MASK
    b = (b - a) & _MASK
    b ^= _rot(a, 6)
    a = (a + c) & _MASK
    c = (c - b) & _MASK
    c ^= _rot(b, 8)
    b = (b + a) & _MASK
    a = (a - c) & _MASK
    a ^= _rot(c, 16)
    c = (c + b) & _MASK
    b = (b - a) & _MASK
    b ^= _rot(a, 19)
    a = (a + c) & _MASK
    c = (c - b) & _MASK
    c ^= _rot(b, 4)
    b = (b + a) & _MASK
    return a, b, c


def _final(a: int, b: int, c: int) -> tuple[int, int, int]:
    c ^= b
    c = (c - _rot(b, 14)) & _MASK
    a ^= c
    a = (a - _rot(c, 11)) & _MASK
    b ^= a
    b = (b - _rot(a, 25)) & _MASK
    c ^= b
    c = (c - _rot(b, 16)) & _MASK
    a ^= c
    a = (a - _rot(c, 4)) & _MASK
    b ^= a
    b = (b - _rot(a, 14)) & _MASK
    c ^= b
    c = (c - _rot(b, 24)) & _MASK
    return a, b, c


def hashint8extended(value: int, seed: int) -> int:
    """PostgreSQL's hashint8extended(bigint, bigint) -> bigint, bit for bit."""
    value &= 0xFFFFFFFFFFFFFFFF
    seed &= 0xFFFFFFFFFFFFFFFF
    low, high = value & _MASK, value >> 32
    low ^= high if value < 2**63 else (~high & _MASK)
    a = b = c = (0x9E3779B9 + 4 + 3923095) & _MASK
    if seed:
        a = (a + (seed >> 32)) & _MASK
        b = (b + (seed & _MASK)) & _MASK
        a, b, c = _mix(a, b, c)
    a = (a + low) & _MASK
    a, b, c = _final(a, b, c)
    result = (b << 32) | c
    return result - 2**64 if result >= 2**63 else result


def draw_key(*, membership_id: int, period_id: int) -> tuple[int, int]:
    """Sort key within a rounding group: the lowest keys pay the group's extra fen. The hash's
    top 40 bits (an arithmetic shift, as in SQL), then the id: the SQL sorts a chunk on the
    cohort and these 40 bits packed into one 64-bit key."""
    return (hashint8extended(membership_id, period_id) >> 24, membership_id)
