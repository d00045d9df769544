"""billing/merkle.py against the published RFC 6962/9162 test vectors, and its compact ranges
and audit paths against the RFC's recursive definitions.

The vectors are those of transparency-dev/merkle (testonly/constants.go, LeafInputs,
RootHashes, NodeHashes; testonly/reference_test.go, TestRefInclusionProof), the same as
certificate-transparency-go's: the eight leaves below and the roots of the trees of their
first 0 to 8 leaves."""

import itertools
import random

import pytest

from billing import merkle
from mutual import verify

LEAVES = [bytes.fromhex(h) for h in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
)]  # fmt: skip
ROOTS = [bytes.fromhex(h) for h in (
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
)]  # fmt: skip
LEAF_HASHES = [bytes.fromhex(h) for h in (
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
    "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
    "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
    "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
)]  # fmt: skip
PATHS = {  # (index, size): the audit path
    (0, 1): [],
    (0, 2): ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"],
    (1, 2): ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"],
    (2, 3): ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
    (1, 5): [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ],
    (0, 8): [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    (5, 8): [
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
}


def _reference(hashes):
    return lambda start, end: merkle.root_of(hashes[start:end])


def test_leaf_hashes_and_roots_match_the_published_vectors():
    assert [merkle.leaf_hash(leaf) for leaf in LEAVES] == LEAF_HASHES
    for size, root in enumerate(ROOTS):
        assert merkle.root_of(LEAF_HASHES[:size]) == root, size
        compact = merkle.CompactRange()
        for digest in LEAF_HASHES[:size]:
            compact.append_leaf(digest)
        assert compact.root() == root, size


@pytest.mark.parametrize(("index", "size"), sorted(PATHS))
def test_audit_paths_match_the_published_vectors(index, size):
    path = merkle.inclusion_path(index, size, _reference(LEAF_HASHES[:size]))
    assert [p.hex() for p in path] == PATHS[index, size]
    assert verify.root_from_path(index, size, LEAF_HASHES[index], path) == ROOTS[size]


def test_every_path_of_every_small_tree_verifies_and_a_wrong_one_does_not():
    hashes = [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(70)]
    for size in range(1, 70):
        root = merkle.root_of(hashes[:size])
        for index in range(size):
            path = merkle.inclusion_path(index, size, _reference(hashes[:size]))
            assert verify.root_from_path(index, size, hashes[index], path) == root
            if path:
                bent = [path[0][::-1], *path[1:]]
                assert verify.root_from_path(index, size, hashes[index], bent) != root
            if size > 1:
                other = (index + 1) % size
                assert verify.root_from_path(other, size, hashes[index], path) != root


def test_ranges_built_apart_join_into_the_tree_and_report_the_kept_levels():
    rng = random.Random(12)
    hashes = [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(300)]
    for _ in range(40):
        size = rng.randrange(0, 300)
        cuts = sorted(rng.sample(range(size + 1), k=min(size + 1, rng.randrange(1, 6))))
        bounds = [0, *cuts, size]
        kept: dict[tuple[int, int], bytes] = {}

        def keep(level, index, digest, kept=kept):
            kept[level, index] = digest

        whole = merkle.CompactRange(keep_from=2, on_node=keep)
        for lo, hi in itertools.pairwise(bounds):
            part = merkle.CompactRange(begin=lo, end=lo, keep_from=2, on_node=keep)
            for digest in hashes[lo:hi]:
                part.append_leaf(digest)
            part = merkle.CompactRange.from_json(part.to_json())
            part.keep_from, part.on_node = 2, keep
            whole.extend(part)
        assert whole.end == size
        assert whole.root() == merkle.root_of(hashes[:size])
        # Every perfect subtree of 4 or more leaves inside the tree was reported, exactly.
        expected = {
            (level, index): merkle.root_of(hashes[index << level : (index + 1) << level])
            for level in range(2, 9)
            for index in range(size >> level)
        }
        assert kept == expected


def test_whole_blocks_hashed_apart_give_the_same_tree_and_kept_levels():
    """billing/tree.py's fast path: leaves one by one up to a block boundary, then whole
    blocks of 2**k leaves by `perfect_root`, then the last partial block leaf by leaf."""
    hashes = [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(300)]
    for lo, hi in [(0, 300), (5, 300), (3, 17), (8, 16), (13, 299), (0, 7)]:
        slow: dict = {}
        fast: dict = {}
        one = merkle.CompactRange(
            begin=lo, end=lo, keep_from=2, on_node=lambda *a, s=slow: s.__setitem__(a[:2], a[2])
        )
        other = merkle.CompactRange(
            begin=lo, end=lo, keep_from=2, on_node=lambda *a, f=fast: f.__setitem__(a[:2], a[2])
        )
        block: list[bytes] = []
        for digest in hashes[lo:hi]:
            one.append_leaf(digest)
            if block or other.end % 4 == 0:
                block.append(digest)
                if len(block) == 4:
                    other.append_subtree(2, merkle.perfect_root(block))
                    block.clear()
            else:
                other.append(0, digest)
        for digest in block:
            other.append(0, digest)
        assert (other.end, other.nodes) == (one.end, one.nodes)
        assert fast == slow
