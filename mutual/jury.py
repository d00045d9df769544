"""Recompute a jury draw on your own machine: standard library only.

    python -m mutual.jury jury.json eligible.txt

jury.json is GET /api/public/juries/{commitment}/ and eligible.txt is
GET /api/public/juries/{commitment}/eligible.txt, once the claim is decided and the seed
revealed. The rule (commit-reveal, then a SHA-256 ranking):

1. When the first dispute opens a jury, the server draws a secret 32-byte seed and publishes
   its commitment SHA-256(seed) on the case.
2. At the draw, each eligible member is a pseudonym: HMAC-SHA256 with a server key of
   "jury", the claim and the membership, so the list names no one. The eligible list is the
   plan's active members who entered its pool before the commitment, less the claimant and
   the disputers; it is published sorted, one pseudonym (64 hex digits) a line, with the
   SHA-256 of the pseudonyms' 32-byte values concatenated in that order.
3. Each pseudonym p ranks as SHA-256(seed || p); the jury is the `size` lowest ranks
   (compared as bytes; then p itself, though two ranks never tie in practice).
4. After the claim is decided the seed is revealed; it must hash to the commitment.

The server draws with this module (claims/jury.py imports it), so this is the rule, not a
copy of it. This file also runs alone (`python jury.py ...`): it imports nothing of the
project. Exit 0 when the seed matches its commitment and the recomputed jury is the published
one, 1 with the reason otherwise."""

from __future__ import annotations

import argparse
import hashlib
import heapq
import json
import sys
from collections.abc import Iterable
from pathlib import Path

FORMAT = "mutual-jury/1"
SEED_BYTES = 32


class Invalid(Exception):
    pass


def commitment_of(seed: bytes) -> str:
    return hashlib.sha256(seed).hexdigest()


def check_seed(seed_hex: str, commitment: str) -> bytes:
    """The seed's bytes, if it is 32 bytes that hash to the commitment; else Invalid."""
    try:
        seed = bytes.fromhex(seed_hex)
    except (TypeError, ValueError):
        raise Invalid("the seed is not hex") from None
    if len(seed) != SEED_BYTES:
        raise Invalid(f"the seed is {len(seed)} bytes, not {SEED_BYTES}")
    if commitment_of(seed) != commitment:
        raise Invalid("the seed does not match its commitment: SHA-256(seed) differs")
    return seed


def rank(seed: bytes, pseudonym: bytes) -> bytes:
    return hashlib.sha256(seed + pseudonym).digest()


def draw(seed: bytes, pseudonyms: Iterable[bytes], size: int) -> list[bytes]:
    """The `size` pseudonyms of lowest rank, lowest first. Streams: memory is O(size)."""
    return heapq.nsmallest(size, pseudonyms, key=lambda p: (rank(seed, p), p))


def eligible_digest(sorted_pseudonyms: Iterable[bytes]) -> tuple[int, str]:
    digest, count = hashlib.sha256(), 0
    for pseudonym in sorted_pseudonyms:
        digest.update(pseudonym)
        count += 1
    return count, digest.hexdigest()


def verify(jury: dict, eligible: list[bytes]) -> list[str]:
    """The jurors recomputed from the revealed seed, checked against the published draw."""
    if jury.get("format") != FORMAT:
        raise Invalid(f"unknown format {jury.get('format')!r}")
    if not jury.get("seed"):
        raise Invalid("the seed is not revealed yet (the claim is not decided)")
    seed = check_seed(jury["seed"], jury["commitment"])
    if eligible != sorted(eligible):
        raise Invalid("the eligible list is not sorted")
    if eligible_digest(eligible) != (jury["eligible_count"], jury["eligible_sha256"]):
        raise Invalid("the eligible list is not the one published with the draw")
    jurors = [p.hex() for p in draw(seed, eligible, jury["size"])]
    if jurors != jury["jurors"]:
        raise Invalid("the published jurors are not the ones the seed draws")
    return jurors


def read_eligible(text: str) -> list[bytes]:
    try:
        return [bytes.fromhex(line) for line in text.split()]
    except ValueError:
        raise Invalid("the eligible list holds a line that is not hex") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("jury", type=Path, help="GET /api/public/juries/{commitment}/")
    parser.add_argument("eligible", type=Path, help="GET .../eligible.txt")
    args = parser.parse_args(argv)
    try:
        jury = json.loads(args.jury.read_text())
        jurors = verify(jury, read_eligible(args.eligible.read_text()))
    except (OSError, ValueError, KeyError, TypeError, Invalid) as error:
        print(f"FAILED: {error}")
        return 1
    print(f"OK: {len(jurors)} juror(s) of {jury['eligible_count']} eligible, drawn by the seed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
