"""The tree's hot loops in C (billing/_leaves.c) equal their Python twins, which equal the
leaf encoding members verify (billing.tree.LEAF and its HMAC pseudonym); bad input is refused
by both alike."""

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing import leafhash, merkle, tree

INT8 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
BILLS = st.lists(st.tuples(INT8, INT8, INT8, INT8, INT8), max_size=40, unique_by=lambda r: r[0])
ROWS = BILLS.map(sorted)  # in membership order, as billing.tree.bills_records gives them
KEY = st.binary(min_size=64, max_size=64)
accelerated = pytest.mark.skipif(
    not leafhash.ACCELERATED,
    reason="billing._leaves is not built (no C compiler or OpenSSL headers at install)",
)


def records_of(rows) -> bytes:
    """What billing.tree.bills_records reads: five int8send values a bill."""
    return b"".join(struct.pack(">qqqqq", *row) for row in rows)


def test_the_extension_is_built_where_make_install_could_build_it():
    """This machine has gcc and libssl-dev: the fast path must be the one in use."""
    import shutil
    from pathlib import Path

    if shutil.which("gcc") and Path("/usr/include/openssl/sha.h").exists():
        assert leafhash.ACCELERATED
    else:
        pytest.skip("no compiler or OpenSSL headers here")


@settings(max_examples=60, deadline=None)
@given(rows=ROWS, period=INT8, key=KEY)
def test_python_leaves_are_the_members_leaf_encoding(rows, period, key):
    ids, hashes = leafhash.py_leaf_hashes(records_of(rows), period, key)
    assert len(ids) == 8 * len(rows) and len(hashes) == 32 * len(rows)
    names = tree.Pseudonyms(period, key)  # the members' HMAC, with this key
    for i, (membership, *amounts) in enumerate(rows):
        assert int.from_bytes(ids[8 * i : 8 * i + 8], "big", signed=True) == membership
        leaf = tree.leaf_bytes(period, names.of(membership), *amounts)
        assert hashes[32 * i : 32 * i + 32] == merkle.leaf_hash(leaf)


@accelerated
@settings(max_examples=200, deadline=None)
@given(rows=ROWS, period=INT8, key=KEY)
def test_c_leaves_equal_python_leaves(rows, period, key):
    records = records_of(rows)
    assert leafhash.leaf_hashes(records, period, key) == leafhash.py_leaf_hashes(
        records, period, key
    )


@accelerated
@settings(max_examples=100, deadline=None)
@given(rows=BILLS)
def test_c_sorts_bills_as_python_does(rows):
    records = records_of(rows)
    assert leafhash.sorted_records(records) == leafhash.py_sorted_records(records)
    assert leafhash.py_sorted_records(records) == records_of(sorted(rows))


@accelerated
@settings(max_examples=100, deadline=None)
@given(
    ids=st.lists(st.integers(0, 3000), min_size=2, max_size=600),
    start=st.sampled_from([1, 2**40, 2**63 - 5000, -(2**63)]),
    data=st.data(),
)
def test_c_sorts_a_chunks_dense_ids_as_python_does(ids, start, data):
    """A chunk's ids fill most of their range (C places each in its slot); a repeat falls
    back to the comparison sort, and is then refused by the hashing."""
    ids = data.draw(st.permutations([start + i for i in ids]))
    records = records_of([(i, i % 7, 0, i % 3, 1) for i in ids])
    assert leafhash.sorted_records(records) == leafhash.py_sorted_records(records)


@pytest.mark.parametrize("ids", [[-(2**63), 2**63 - 1], [2**63 - 1, 0, -(2**63)], [7, 7, 8]])
def test_the_widest_and_repeated_ids_sort_without_harm(ids):
    """The id range spans all of int8 (its width overflows 64 bits), or repeats."""
    rows = [(i, -n, 0, 0, 0) for n, i in enumerate(ids)]  # a repeat's amounts differ
    assert leafhash.sorted_records(records_of(rows)) == records_of(sorted(rows))
    assert leafhash.py_sorted_records(records_of(rows)) == records_of(sorted(rows))


@pytest.mark.parametrize(
    "rows", [[(2, 0, 0, 0, 0), (1, 0, 0, 0, 0)], [(5, 1, 1, 1, 1), (5, 1, 1, 1, 1)]]
)
def test_bills_out_of_order_or_twice_are_refused_alike(rows):
    """A tree over misordered leaves would be a different tree: refused, not hashed."""
    for function in {leafhash.leaf_hashes, leafhash.py_leaf_hashes}:
        with pytest.raises(ValueError, match="increasing membership order"):
            function(records_of(rows), 1, bytes(64))


@pytest.mark.parametrize("count", [1, 2, 4, 8, 256, 1024])
def test_perfect_roots_are_rfc_9162_roots(count):
    leaves = [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(count)]
    joined = b"".join(leaves)
    assert leafhash.py_perfect_root(joined) == merkle.root_of(leaves)
    assert leafhash.perfect_root(joined) == merkle.root_of(leaves)


@pytest.mark.parametrize("size", [0, 3 * 32, 6 * 32, 33, 31])
def test_a_perfect_root_needs_a_power_of_two_of_whole_hashes(size):
    for function in {leafhash.perfect_root, leafhash.py_perfect_root}:
        with pytest.raises(ValueError, match="2\\*\\*k leaf hashes"):
            function(b"\x01" * size)


GOOD = records_of([(1, 2, 3, 4, 5), (6, 7, 8, 9, 10)])


@pytest.mark.parametrize("records", [b"\x00", GOOD[:-1], GOOD + b"\x00" * 39])
def test_a_partial_record_is_refused_alike(records):
    for function in {
        leafhash.leaf_hashes,
        leafhash.py_leaf_hashes,
        lambda records, *_: leafhash.sorted_records(records),
        lambda records, *_: leafhash.py_sorted_records(records),
    }:
        with pytest.raises(ValueError, match="records of five 8-byte integers"):
            function(records, 1, bytes(64))


def test_no_bills_no_leaves():
    for function in {leafhash.leaf_hashes, leafhash.py_leaf_hashes}:
        assert function(b"", 1, bytes(64)) == (b"", b"")


def test_the_key_must_be_one_padded_block():
    for function in {leafhash.leaf_hashes, leafhash.py_leaf_hashes}:
        with pytest.raises(ValueError, match="64-byte block"):
            function(GOOD, 1, b"short")


@pytest.mark.django_db
def test_a_period_is_sealed_with_django_debug_on(settings):
    """DEBUG wraps Django's cursors (the bills are read through a plain psycopg cursor, for
    binary): the seal works under it, its root the one recomputed in Python from the bills."""
    from tests.factories import PlanFactory
    from tests.test_proofs import _posted_period

    settings.DEBUG = True
    settings.APPORTION_CHUNK_IDS = 70
    period, _ = _posted_period(PlanFactory(), 300)
    names = tree.Pseudonyms(period.pk)
    leaves = [
        merkle.leaf_hash(tree.leaf_bytes(period.pk, names.of(bill[0]), *bill[1:]))
        for bill in tree.bills_in_order(period.pk, 1, 2**63 - 1)
    ]
    assert len(leaves) == period.merkle_size == 300
    assert merkle.root_of(leaves).hex() == period.merkle_root


@pytest.mark.django_db
def test_reading_a_chunk_leaves_the_callers_planner_settings_as_they_were(settings):
    """Its bitmap-scan settings are transaction-local: a proof served later in the same
    transaction read a 10M partition without its index (0.6 s instead of 1 ms)."""
    from django.db import connection, transaction

    from tests.factories import PlanFactory
    from tests.test_proofs import _posted_period

    settings.APPORTION_CHUNK_IDS = 70
    period, _ = _posted_period(PlanFactory(), 100)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL max_parallel_workers_per_gather = 3")
        records = tree.bills_records(period.pk, 1, 2**63 - 1)
        cursor.execute(
            "SELECT current_setting('enable_seqscan'), current_setting('enable_indexscan'),"
            " current_setting('max_parallel_workers_per_gather')"
        )
        assert cursor.fetchone() == ("on", "on", "3")
    assert len(records) == 40 * 100
