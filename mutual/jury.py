"""Recompute a jury draw on your own machine: standard library only.

    python -m mutual.jury --fetch https://HOST/api/public/juries/{commitment}/
    python -m mutual.jury jury.json eligible.bin

The first downloads the draw and its eligible list itself; the second reads what you
downloaded: jury.json is GET /api/public/juries/{commitment}/ and eligible.bin the pages
GET /api/public/juries/{commitment}/eligible/{n}.bin, n = 0 .. eligible_pages - 1, joined in
order (or a directory holding them as 0.bin, 1.bin, ...), once the claim is decided and the
seed revealed. Each page is `page_size` pseudonyms (8,192: 256 KiB), 32 bytes each, back to
back. Memory stays small whatever the list's length: the list is read as it arrives. The
rule (commit-reveal, then a SHA-256 ranking):

1. When the first dispute opens a jury, the server draws a secret 32-byte seed and publishes
   its commitment SHA-256(seed) on the case.
2. At the draw, each eligible member is a pseudonym: HMAC-SHA256 with a server key of
   "jury", the claim and the membership, so the list names no one. The eligible list is the
   plan's active members who entered its pool before the commitment, less the claimant and
   the disputers; it is published sorted, in pages of 32-byte values, with the SHA-256 of
   the whole list (the pages joined in order).
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
from collections.abc import Iterable, Iterator
from pathlib import Path

FORMAT = "mutual-jury/1"
SEED_BYTES = 32
PAGE_SIZE = 8192  # pseudonyms a published page holds (256 KiB)


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


def verify(jury: dict, eligible: Iterable[bytes]) -> list[str]:
    """The jurors recomputed from the revealed seed, checked against the published draw.
    `eligible` is the list in its published order; it is read once, as it comes."""
    if jury.get("format") != FORMAT:
        raise Invalid(f"unknown format {jury.get('format')!r}")
    if not jury.get("seed"):
        raise Invalid("the seed is not revealed yet (the claim is not decided)")
    seed = check_seed(jury["seed"], jury["commitment"])
    digest, seen = hashlib.sha256(), [0, b""]

    def checked():
        for pseudonym in eligible:
            if len(pseudonym) != 32:
                raise Invalid("the eligible list holds a value that is not 32 bytes")
            if seen[0] and pseudonym < seen[1]:
                raise Invalid("the eligible list is not sorted")
            digest.update(pseudonym)
            seen[0], seen[1] = seen[0] + 1, pseudonym
            yield pseudonym

    jurors = [p.hex() for p in draw(seed, checked(), jury["size"])]
    if (seen[0], digest.hexdigest()) != (jury["eligible_count"], jury["eligible_sha256"]):
        raise Invalid("the eligible list is not the one published with the draw")
    if jurors != jury["jurors"]:
        raise Invalid("the published jurors are not the ones the seed draws")
    return jurors


def split_values(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """32-byte values from a stream of bytes cut anywhere (files, downloaded pages)."""
    rest = b""
    for chunk in chunks:
        data = rest + chunk
        whole = len(data) - len(data) % 32
        for start in range(0, whole, 32):
            yield data[start : start + 32]
        rest = data[whole:]
    if rest:
        raise Invalid("the eligible list's length is not a multiple of 32 bytes")


def read_file_chunks(path: Path, size: int = 1 << 20) -> Iterator[bytes]:
    """A file's bytes a megabyte at a time, or a directory's pages 0.bin, 1.bin, ... in order."""
    paths = [path]
    if path.is_dir():
        paths = sorted(path.glob("*.bin"), key=lambda page: int(page.stem))
    for one in paths:
        with one.open("rb") as stream:
            yield from iter(lambda stream=stream: stream.read(size), b"")


def fetch(url: str, get=None) -> tuple[dict, Iterator[bytes]]:
    """The draw at `url` (GET /api/public/juries/{commitment}/) and its pages, downloaded one
    after the other as they are read. `get(url) -> bytes` is urllib's unless given."""
    if get is None:
        import urllib.request

        def get(address: str) -> bytes:
            with urllib.request.urlopen(address, timeout=60) as response:
                return response.read()

    base = url if url.endswith("/") else url + "/"
    jury = json.loads(get(base))
    pages = (get(f"{base}eligible/{n}.bin") for n in range(jury.get("eligible_pages", 0)))
    return jury, pages


def main(argv: list[str] | None = None, *, get=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("jury", nargs="?", type=Path, help="GET /api/public/juries/{commitment}/")
    parser.add_argument("eligible", nargs="?", type=Path, help="its pages, joined (or a folder)")
    parser.add_argument("--fetch", metavar="URL", help="download the draw and its pages")
    args = parser.parse_args(argv)
    if not args.fetch and not (args.jury and args.eligible):
        parser.error("give --fetch URL, or the draw's JSON and its eligible list")
    try:
        if args.fetch:
            jury, chunks = fetch(args.fetch, get=get)
        else:
            jury, chunks = json.loads(args.jury.read_text()), read_file_chunks(args.eligible)
        jurors = verify(jury, split_values(chunks))
    except (OSError, ValueError, KeyError, TypeError, Invalid) as error:
        print(f"FAILED: {error}")
        return 1
    print(f"OK: {len(jurors)} juror(s) of {jury['eligible_count']} eligible, drawn by the seed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
