"""Check a member's bill proof on your own machine: standard library and `cryptography` only.

    python -m mutual.verify proof.json --public-key KEY

proof.json is the answer of GET /api/me/bills/{period}/proof/; KEY is the plan's Ed25519 public
key (64 hex digits, or a file holding them or a PEM key), which it publishes apart from the
proof. This file also runs alone (`python verify.py ...`): it imports nothing of the project.
It checks that the leaf encodes the bill shown, that the audit path leads from the leaf to the
head's root (RFC 9162, 2.1.3.2), and that the head is signed by the key. Exit 0 when all
hold, 1 with the reason otherwise."""

from __future__ import annotations

import argparse
import hashlib
import json
import struct
import sys
from pathlib import Path

LEAF = struct.Struct(">Bq32sqqqq")  # version, period, pseudonym, gross, waived, capped, charged
HEAD_FORMAT = "mutual-period-head/1"
AMOUNTS = ("gross_fen", "waived_fen", "capped_fen", "charged_fen")


class Invalid(Exception):
    pass


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_from_path(index: int, size: int, leaf_hash: bytes, path: list[bytes]) -> bytes | None:
    """RFC 9162 2.1.3.2: the root the path leads to, or None if it cannot fit the tree."""
    if not 0 <= index < size:
        return None
    fn, sn, digest = index, size - 1, leaf_hash
    for sibling in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            digest = _node(sibling, digest)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            digest = _node(digest, sibling)
        fn, sn = fn >> 1, sn >> 1
    return digest if sn == 0 else None


def _hex(value, what: str, size: int | None = None) -> bytes:
    try:
        raw = bytes.fromhex(value)
    except (TypeError, ValueError):
        raise Invalid(f"{what} is not hex") from None
    if size is not None and len(raw) != size:
        raise Invalid(f"{what} is {len(raw)} bytes, not {size}")
    return raw


def load_public_key(text: str):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    path = Path(text)
    if len(text) != 64 and path.is_file():
        text = path.read_text().strip()
    if text.startswith("-----BEGIN"):
        key = load_pem_public_key(text.encode())
        if not isinstance(key, Ed25519PublicKey):
            raise Invalid("the public key is not an Ed25519 key")
        return key
    return Ed25519PublicKey.from_public_bytes(_hex(text, "the public key", 32))


def verify(proof: dict, public_key) -> str:
    """The verdict's sentence when the proof holds; raises Invalid with the reason if not."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    try:
        signed, head = proof["signed_head"], proof["signed_head"]["head"]
        leaf = _hex(proof["leaf"], "the leaf")
        index, size = int(proof["leaf_index"]), int(proof["tree_size"])
        path = [_hex(p, f"audit path hash {i}", 32) for i, p in enumerate(proof["audit_path"])]
    except (KeyError, TypeError, ValueError) as error:
        raise Invalid(f"the proof is incomplete or malformed ({error!r})") from None
    if len(leaf) != LEAF.size:
        raise Invalid(f"the leaf is {len(leaf)} bytes, not {LEAF.size}")
    version, period, pseudonym, *amounts = LEAF.unpack(leaf)
    if version != 1:
        raise Invalid(f"unknown leaf version {version}")
    if head.get("format") != HEAD_FORMAT:
        raise Invalid(f"unknown head format {head.get('format')!r}")
    if period != head.get("period") or period != proof.get("period"):
        raise Invalid(f"the leaf is of period {period}, the head of {head.get('period')}")
    if pseudonym.hex() != proof.get("pseudonym"):
        raise Invalid("the leaf's pseudonym is not the proof's")
    bill = proof.get("bill") or {}
    for name, value in zip(AMOUNTS, amounts, strict=True):
        if name in bill and bill[name] != value:
            raise Invalid(f"the bill says {name} = {bill[name]}, its leaf says {value}")
    gross, waived, capped, charged = amounts
    if gross != waived + capped + charged:
        raise Invalid("the leaf's amounts do not add up (gross = waived + capped + charged)")
    if size != head.get("size"):
        raise Invalid(f"the proof is for a tree of {size} bills, the head signs {head.get('size')}")
    leaf_hash = hashlib.sha256(b"\x00" + leaf).digest()
    root = root_from_path(index, size, leaf_hash, path)
    if root is None:
        raise Invalid(f"the audit path cannot belong to leaf {index} of a tree of {size}")
    if root.hex() != head.get("root"):
        raise Invalid(
            "the audit path does not lead to the signed root: the leaf (the bill's amounts) "
            "or the path was changed"
        )
    message = json.dumps(head, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    try:
        public_key.verify(_hex(signed.get("signature"), "the signature", 64), message.encode())
    except InvalidSignature:
        raise Invalid(
            "the head's signature does not verify with this public key (wrong key, or the "
            "head was changed)"
        ) from None
    key = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
    return (
        f"OK: period {period}, bill charged {charged} fen (gross {gross}, waived {waived}, "
        f"capped {capped}) is leaf {index} of {size} under root {head['root']}, signed by "
        f"{key} at {head.get('timestamp')}; previous period's root {head.get('previous_root')}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mutual.verify", description=__doc__)
    parser.add_argument("proof", help="the proof JSON file ('-' for standard input)")
    parser.add_argument("--public-key", required=True, help="64 hex digits, or a key file")
    args = parser.parse_args(argv)
    try:
        text = sys.stdin.read() if args.proof == "-" else Path(args.proof).read_text()
        try:
            proof = json.loads(text)
        except ValueError as error:
            raise Invalid(f"the proof is not JSON ({error})") from None
        if not isinstance(proof, dict):
            raise Invalid("the proof is not a JSON object")
        print(verify(proof, load_public_key(args.public_key)))
    except (Invalid, OSError, ValueError) as error:
        print(f"FAILED: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
