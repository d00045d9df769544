"""Each period's bills live in their own partition of billing_bill (see migration 0008).

A run writes its bills into a plain table and attaches it as the period's partition when the
period is posted: ten million inserts then maintain no index, and the two indexes (the key and
one bill per member, which also carries what the next period's year-to-date lookup reads) are
built once, side by side, before the ATTACH. Until
then the bills are not visible through billing_bill, which is right: a period's bills exist
once it is posted. A duplicate bill, which the chunks' done marks rule out, would make the
index build fail loudly."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from django.db import connection

# The parent's key (a constraint) and its one-bill-per-member unique index (an index: it has
# INCLUDE columns), as ATTACH expects them on a partition: (name, constraint or None, columns).
_INDEXES = (
    ("key", "PRIMARY KEY", "(id, period_id)"),
    ("one_bill", None, "(membership_id, period_id) INCLUDE (year_to_date_before_fen, charged_fen)"),
)


def bills_table(period_id: int) -> str:
    return f"billing_bill_p{int(period_id)}"


def bills_table_create(period_id: int) -> None:
    """The run's table, detached, with a CHECK that spares the ATTACH a validation scan."""
    table = bills_table(period_id)
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {table} ("
            f"LIKE billing_bill INCLUDING DEFAULTS INCLUDING CONSTRAINTS, "
            f"CONSTRAINT {table}_period CHECK (period_id = {int(period_id)}))"
        )


def bills_table_index(period_id: int) -> None:
    """Build the run's table's two indexes side by side, one connection each (CREATE INDEX
    takes a SHARE lock, so they do not wait for each other), then make the key the constraint
    that ATTACH adopts instead of building its own. Idempotent."""
    table = bills_table(period_id)
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [table])
        if cursor.fetchone()[0] is None:
            return

    def build(name: str, columns: str) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE UNIQUE INDEX IF NOT EXISTS {table}_{name} ON {table} {columns}")

    def build_alone(spec: tuple[str, str | None, str]) -> None:
        name, _kind, columns = spec
        try:
            with connection.cursor() as cursor:
                # The wider one-bill index takes about twice as long as the key: a helper
                # process of its own evens the two builds out over the cores.
                helpers = 1 if name == "one_bill" else 0
                cursor.execute(f"SET max_parallel_maintenance_workers = {helpers}")
            build(name, columns)
        finally:
            connection.close()  # this thread's own connection

    if connection.in_atomic_block:  # uncommitted work is invisible to other connections
        for name, _kind, columns in _INDEXES:
            build(name, columns)
    else:
        with ThreadPoolExecutor(len(_INDEXES)) as pool:
            list(pool.map(build_alone, _INDEXES))
    with connection.cursor() as cursor:
        for name, kind, _columns in _INDEXES:
            if kind is None:
                continue
            cursor.execute("SELECT 1 FROM pg_constraint WHERE conname = %s", [f"{table}_{name}"])
            if cursor.fetchone() is None:
                cursor.execute(
                    f"ALTER TABLE {table} ADD CONSTRAINT {table}_{name} "
                    f"{kind} USING INDEX {table}_{name}"
                )


def bills_table_attach(period_id: int) -> None:
    """Attach the run's table as the period's partition (idempotent; no table, no-op)."""
    table = bills_table(period_id)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.oid IS NOT NULL, EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = c.oid) "
            "FROM (SELECT to_regclass(%s) AS oid) c",
            [table],
        )
        exists, attached = cursor.fetchone()
        if exists and not attached:
            cursor.execute(
                f"ALTER TABLE billing_bill ATTACH PARTITION {table} "
                f"FOR VALUES IN ({int(period_id)})"
            )


def bills_partition_create(period_id: int) -> None:
    """An attached, indexed partition from the start (bills written outside a run)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {bills_table(period_id)} "
            f"PARTITION OF billing_bill FOR VALUES IN ({int(period_id)})"
        )
