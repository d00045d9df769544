"""RFC 9162 Merkle trees (section 2.1), in pure Python: hashing, compact ranges, audit paths.

leaf hash = SHA-256(0x00 || leaf), node hash = SHA-256(0x01 || left || right), and the tree
of n > 1 leaves splits at k, the largest power of two smaller than n. A *compact range* holds
the roots of the perfect subtrees that cover leaves [begin, end) (O(log n) hashes), so a tree
is built streaming, in flat memory, and ranges built apart (one per chunk of members) are
joined by `CompactRange.extend`. `inclusion_path` is the RFC's audit path (2.1.3.1); its
verification (2.1.3.2) is mutual/verify.py's `root_from_path`, the one members run, tested
against the same vectors. No Django here."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def perfect_root(leaf_hashes: list[bytes]) -> bytes:
    """The root of a perfect tree (2**k leaf hashes), a level at a time: the fast path for
    full blocks, with no per-node bookkeeping."""
    sha256 = hashlib.sha256
    level = leaf_hashes
    while len(level) > 1:
        level = [
            sha256(b"\x01" + a + b).digest() for a, b in zip(level[::2], level[1::2], strict=True)
        ]
    return level[0]


def split_point(n: int) -> int:
    """The largest power of two smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def root_of(leaf_hashes: list[bytes]) -> bytes:
    """MTH over leaf hashes, by the RFC's recursive definition (a reference for small trees)."""
    n = len(leaf_hashes)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaf_hashes[0]
    k = split_point(n)
    return node_hash(root_of(leaf_hashes[:k]), root_of(leaf_hashes[k:]))


@dataclass
class CompactRange:
    """The perfect subtrees covering leaves [begin, end), left to right, as (level, hash).
    `on_node(level, index, hash)` is called for every node made at or above `keep_from`:
    the stored levels that let a proof be served without reading the whole tree."""

    begin: int = 0
    end: int = 0
    nodes: list[tuple[int, bytes]] = field(default_factory=list)
    keep_from: int = 0
    on_node: Callable[[int, int, bytes], None] | None = None

    def append(self, level: int, digest: bytes) -> None:
        """Add the perfect subtree of 2**level leaves starting at `end` (aligned to its size)."""
        start = self.end
        if start % (1 << level):
            raise ValueError(f"a level-{level} subtree cannot start at leaf {start}")
        self.end = start + (1 << level)
        # While this node is a right child whose left sibling is the range's last node: join.
        while (
            self.nodes
            and self.nodes[-1][0] == level
            and (start >> level) & 1
            and start - (1 << level) >= self.begin
        ):
            _, left = self.nodes.pop()
            digest = node_hash(left, digest)
            start -= 1 << level
            level += 1
            self._emit(level, start >> level, digest)
        self.nodes.append((level, digest))

    def append_subtree(self, level: int, digest: bytes) -> None:
        """Add a perfect subtree whose root was computed apart (`perfect_root`), reporting it
        to `on_node` as if it had been built here leaf by leaf."""
        self._emit(level, self.end >> level, digest)
        self.append(level, digest)

    def append_leaf(self, digest: bytes) -> None:
        self._emit(0, self.end, digest)
        self.append(0, digest)

    def _emit(self, level: int, index: int, digest: bytes) -> None:
        if self.on_node is not None and level >= self.keep_from:
            self.on_node(level, index, digest)

    def extend(self, other: CompactRange) -> None:
        """Join the range that starts where this one ends."""
        if other.begin != self.end:
            raise ValueError(f"ranges [{self.begin}, {self.end}) and [{other.begin}, ...) gap")
        for level, digest in other.nodes:
            self.append(level, digest)

    def root(self) -> bytes:
        """The MTH of leaves [0, end): fold the subtrees from the right."""
        if self.begin != 0:
            raise ValueError("only a range from leaf 0 has a tree root")
        if not self.nodes:
            return EMPTY_ROOT
        digest = self.nodes[-1][1]
        for _, left in reversed(self.nodes[:-1]):
            digest = node_hash(left, digest)
        return digest

    def to_json(self) -> dict:
        return {
            "begin": self.begin,
            "end": self.end,
            "nodes": [[level, digest.hex()] for level, digest in self.nodes],
        }

    @classmethod
    def from_json(cls, data: dict) -> CompactRange:
        return cls(
            begin=data["begin"],
            end=data["end"],
            nodes=[(level, bytes.fromhex(h)) for level, h in data["nodes"]],
        )


def inclusion_path(index: int, size: int, range_hash: Callable[[int, int], bytes]) -> list[bytes]:
    """PATH(m, D[n]) of RFC 9162 2.1.3.1, leaf first. `range_hash(start, end)` gives the MTH of
    leaves [start, end), which are always a subtree of the tree's own shape."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size}")
    path: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        k = split_point(end - start)
        if index < start + k:
            path.append(range_hash(start + k, end))
            end = start + k
        else:
            path.append(range_hash(start, start + k))
            start += k
    path.reverse()
    return path
