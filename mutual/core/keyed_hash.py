"""HMAC-SHA256 for millions of short messages under one key: the pseudonyms of a period's
bills (billing/tree.py) and of a jury's eligible members (claims/jury.py)."""

from __future__ import annotations

import hashlib


def hmac_key_block(key: bytes) -> bytes:
    """The key as HMAC's one 64-byte block (RFC 2104: hashed if longer, zero-padded)."""
    return (hashlib.sha256(key).digest() if len(key) > 64 else key).ljust(64, b"\0")


class PrefixedHmac:
    """HMAC-SHA256(key, prefix || message), the key's inner and outer pads (and the prefix)
    hashed once and copied for each message: a third of hmac.digest's cost per message."""

    def __init__(self, key: bytes, prefix: bytes = b""):
        block = hmac_key_block(key)
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
        self._inner.update(prefix)
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))

    def digest(self, message: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()
