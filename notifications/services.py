"""Writing notices (in the event's transaction) and delivering them (after commit, at most once).

Writing: `notify` for a few members (one INSERT ... SELECT over an id array); a NoticeRun for a
plan-wide event, filled per chunk of membership ids by `run_write_chunk` (one INSERT ... SELECT
each, like billing's apportionment chunks). Both skip members who turned the kind off, and both
are idempotent: (member, event) is unique and conflicts are ignored.

Delivering: `deliver` claims a batch with a conditional UPDATE (pending → sending, committed
before anything is sent), sends it through the gateway, and records each outcome with a second
conditional UPDATE (sending → sent / pending / failed / skipped). A notice whose delivery was
claimed is never claimed again: a task run twice, or two workers, send it once. A crash between
the claim and the record leaves it `sending`, shown on the dashboard, never re-sent blindly."""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.db import connection, transaction

from mutual.core.errors import InvariantError, ServiceError
from mutual.core.tasks import task_send_on_commit
from notifications.errors import ErrorCode
from notifications.gateways import (
    Message,
    NoAddress,
    NotificationGateway,
    default_notification_gateway,
)
from notifications.messages import render
from notifications.models import (
    Notice,
    NoticeKind,
    NoticeRun,
    NoticeStatus,
    NotificationPreference,
)

MAX_ATTEMPTS = 5
_T = Notice._meta.db_table
_PREF = NotificationPreference._meta.db_table

_NOTIFY_SQL = f"""
INSERT INTO {_T} (member_id, kind, event, payload, created_at, status, attempts, last_error)
SELECT m.id, %(kind)s, %(event)s, %(payload)s::jsonb, %(now)s, 'pending', 0, ''
  FROM unnest(%(member_ids)s::bigint[]) AS m(id)
 WHERE NOT EXISTS (SELECT 1 FROM {_PREF} p WHERE p.member_id = m.id AND NOT p.{{kind}})
ON CONFLICT (member_id, event) DO NOTHING
"""


def _enqueue_delivery(event: str) -> None:
    task_send_on_commit("notifications.tasks.deliver_event", event)


def notify(
    *, member_ids: Iterable[int], kind: str, event: str, payload: dict, now: datetime.datetime
) -> int:
    """Write one notice per member for `event`, in the caller's transaction; delivered after
    it commits. Returns how many were written (0 for members already told or opted out)."""
    kind = NoticeKind(kind)
    ids = sorted(set(member_ids))
    if not ids:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            _NOTIFY_SQL.format(kind=kind.value),
            {
                "kind": kind.value,
                "event": event,
                "payload": json.dumps(payload),
                "now": now,
                "member_ids": ids,
            },
        )
        written = cursor.rowcount
    if written:
        _enqueue_delivery(event)
    return written


# --- Plan-wide events, written per chunk of membership ids ---
#
# A domain app registers, for its kind of run, how the run is cut into chunks of membership
# ids and the SELECT that gives each chunk's (member_id, payload) rows: this module wraps it in
# the INSERT (the member's switch for the kind, one notice per member and event).


@dataclass(frozen=True)
class RunWriter:
    chunks: Callable[[dict], list[tuple[int, int]]]  # the run's params -> [(lo, hi), ...]
    rows: Callable[[dict], tuple[str, dict]]  # params -> SELECT member_id, payload, its params


_WRITERS: dict[str, RunWriter] = {}


def run_writer(kind: str, *, chunks, rows) -> None:
    """Register how runs of `kind` are written (domain apps, in their notices.py)."""
    _WRITERS[str(kind)] = RunWriter(chunks=chunks, rows=rows)


_RUN_CHUNK_SQL = f"""
INSERT INTO {_T} (member_id, kind, event, payload, created_at, status, attempts, last_error)
SELECT r.member_id, %(kind)s, %(event)s, r.payload, %(now)s, 'pending', 0, ''
  FROM ({{rows}}) AS r(member_id, payload)
 WHERE NOT EXISTS (SELECT 1 FROM {_PREF} p WHERE p.member_id = r.member_id AND NOT p.{{kind}})
ON CONFLICT (member_id, event) DO NOTHING
"""


def run_start(*, kind: str, event: str, params: dict, now: datetime.datetime) -> NoticeRun:
    """Record a plan-wide event in the caller's transaction; its notices are written by
    chunked tasks after commit. Idempotent: the event is unique."""
    run, created = NoticeRun.objects.get_or_create(
        event=event, defaults={"kind": kind, "params": params, "created_at": now}
    )
    if created:
        task_send_on_commit("notifications.tasks.notice_run", run.pk)
    return run


def _writer(kind: str) -> RunWriter:
    writer = _WRITERS.get(str(kind))
    if writer is None:
        raise InvariantError(f"no chunked writer for notices of kind {kind!r}")
    return writer


def run_chunks(*, run_id: int) -> list[tuple[int, int]]:
    """The membership id ranges to write, as the run's kind cuts them."""
    run = NoticeRun.objects.get(pk=run_id)
    if run.finished_at is not None:
        return []
    return _writer(run.kind).chunks(run.params)


def run_write_chunk(*, run_id: int, lo: int, hi: int, now: datetime.datetime) -> int:
    """Write one chunk's notices in one statement; safe to repeat."""
    run = NoticeRun.objects.get(pk=run_id)
    kind = NoticeKind(run.kind)
    rows, params = _writer(kind).rows({**run.params, "lo": lo, "hi": hi})
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            _RUN_CHUNK_SQL.format(rows=rows, kind=kind.value),
            {**params, "kind": kind.value, "event": run.event, "now": now},
        )
        return cursor.rowcount


def run_finish(*, run_id: int, now: datetime.datetime) -> None:
    NoticeRun.objects.filter(pk=run_id, finished_at__isnull=True).update(finished_at=now)


# --- Delivery ---

_CLAIM_SQL = f"""
UPDATE {_T} AS n SET status = 'sending', claimed_at = %(now)s, attempts = n.attempts + 1
 WHERE n.id IN (SELECT id FROM {_T}
                 WHERE status = 'pending' AND {{where}} AND id > %(after)s
                 ORDER BY id LIMIT %(limit)s FOR UPDATE SKIP LOCKED)
RETURNING n.id, n.member_id, n.kind, n.event, n.payload, n.attempts
"""

_RECORD_SQL = f"""
UPDATE {_T} AS n
   SET status = r.status, sent_at = CASE WHEN r.status = 'sent' THEN %(now)s END,
       last_error = r.error
  FROM unnest(%(ids)s::bigint[], %(statuses)s::text[], %(errors)s::text[]) AS r(id, status, error)
 WHERE n.id = r.id AND n.status = 'sending'
"""


def _claim(*, where: str, params: dict, after: int, limit: int, now) -> list[tuple]:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            _CLAIM_SQL.format(where=where), {**params, "after": after, "limit": limit, "now": now}
        )
        return sorted(cursor.fetchall())


def _addresses(member_ids: list[int]) -> dict[int, str]:
    """Each member's address: their own login's, or (a dependant has none) their account
    holder's."""
    from django.apps import apps
    from django.db.models import Value
    from django.db.models.functions import Coalesce, NullIf

    Member = apps.get_model("members", "Member")
    return dict(
        Member.objects.filter(pk__in=member_ids)
        .values_list("pk", Coalesce(NullIf("user__email", Value("")), "payer__user__email"))
        .iterator()
    )


def _record(rows: list[tuple], results: list[Exception | None], now) -> dict[str, int]:
    counts = {"sent": 0, "retry": 0, "failed": 0, "skipped": 0}
    statuses, errors = [], []
    for row, error in zip(rows, results, strict=True):
        attempts = row[5]
        if error is None:
            status, key = NoticeStatus.SENT, "sent"
        elif isinstance(error, NoAddress):
            status, key = NoticeStatus.SKIPPED, "skipped"
        elif attempts >= MAX_ATTEMPTS:
            status, key = NoticeStatus.FAILED, "failed"
        else:
            status, key = NoticeStatus.PENDING, "retry"
        counts[key] += 1
        statuses.append(status.value)
        errors.append("" if error is None else str(error)[:200])
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            _RECORD_SQL,
            {"now": now, "ids": [r[0] for r in rows], "statuses": statuses, "errors": errors},
        )
    return counts


def deliver(
    *,
    now: datetime.datetime,
    event: str | None = None,
    notice_ids: list[int] | None = None,
    older_than: datetime.datetime | None = None,
    batch_size: int = 500,
    gateway: NotificationGateway | None = None,
) -> dict[str, int]:
    """Send the pending notices of one event (or these ids, or all those written before
    `older_than`), a batch at a time. Each is tried once per call: one the gateway refuses goes
    back to pending (failed after MAX_ATTEMPTS) and the caller retries later."""
    if sum(x is not None for x in (event, notice_ids, older_than)) != 1:
        raise InvariantError("deliver needs exactly one of event, notice_ids, older_than")
    if event is not None:
        where, params = "event = %(event)s", {"event": event}
    elif notice_ids is not None:
        where, params = "id = ANY(%(ids)s)", {"ids": list(notice_ids)}
    else:
        where, params = "created_at < %(older)s", {"older": older_than}
    gateway = gateway or default_notification_gateway()
    totals = {"sent": 0, "retry": 0, "failed": 0, "skipped": 0}
    after = 0
    while True:
        rows = _claim(where=where, params=params, after=after, limit=batch_size, now=now)
        if not rows:
            return totals
        after = rows[-1][0]
        emails = _addresses([r[1] for r in rows])
        messages = []
        for _id, member_id, kind, notice_event, payload, _attempts in rows:
            # Django reads jsonb as text in raw queries (JSONField decodes it itself).
            subject, body = render(
                kind, json.loads(payload) if isinstance(payload, str) else payload
            )
            messages.append(
                Message(
                    member_id=member_id,
                    to=emails.get(member_id) or "",
                    subject=subject,
                    body=body,
                    idempotency_key=f"notice:{member_id}:{notice_event}",
                )
            )
        try:
            results = gateway.send_many(messages)
        except Exception as error:  # the whole batch: every notice is retried
            results = [error] * len(rows)
        for key, value in _record(rows, results, now).items():
            totals[key] += value


def preferences_for(*, member_id: int) -> NotificationPreference:
    return NotificationPreference.objects.filter(member_id=member_id).first() or (
        NotificationPreference(member_id=member_id)
    )


def preferences_save(*, member_id: int, changes: dict[str, bool]) -> NotificationPreference:
    allowed = set(NoticeKind.values)
    unknown = set(changes) - allowed
    if unknown:
        raise ServiceError(f"unknown notice kind {sorted(unknown)[0]}", code=ErrorCode.UNKNOWN)
    preference, _ = NotificationPreference.objects.update_or_create(
        member_id=member_id, defaults=changes
    )
    return preference
