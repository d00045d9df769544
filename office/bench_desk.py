"""The claims desk's workload for `bench_admin --claims N`: N claims over three years of the
demo's plans (the real plan decided 3,600 to 4,000 cases a period), written in
PostgreSQL, with what the desk reads: 40 investigators of two firms, each claim's state log,
clocks with some claims late and some waiting on a request, risky claims, pending appeals and
claims held for the audit. Idempotent: claims already there are kept, and only the shortfall is
written."""

from __future__ import annotations

import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction

from claims.models import Claim, InvestigationFirm, Investigator
from members.models import Membership
from mutual.core.personal_data import seal_model

INVESTIGATORS = 40
YEARS = 3
OPEN_SHARE = {  # the newest claims are open, as at the peak: (state, how many of the newest)
    "submitted": 500,
    "investigating": 2500,
    "publicized": 1000,
    "disputed": 200,
    "approved": 800,
}

_CLAIMS = """
INSERT INTO claims_claim (
    membership_id, plan_id, state, incident_kind, incident_date, diagnosis_date, diagnosis,
    hospital, cover_fen, amount_requested_fen, amount_approved_fen, submitted_at,
    investigator_id, investigation_summary, decision_reason, reopened, state_since, due_at,
    paused_seconds, risk_score, audit_held, appeal_pending, decided_at, paid_at,
    publicity_starts_at, publicity_ends_at)
SELECT m.id, m.plan_id, s.state, 'accident', s.at::date, s.at::date, 'bench case',
       'Hospital ' || (g %% 700), m.cover_fen, LEAST(m.cover_fen, 100000 + (g %% 997) * 1000),
       CASE WHEN s.state IN ('publicized', 'disputed', 'approved', 'paid')
            THEN LEAST(m.cover_fen, 100000 + (g %% 997) * 1000) END,
       s.at, (%(investigators)s::bigint[])[1 + g %% %(n_inv)s], '', '', 0, s.since,
       CASE WHEN s.state IN ('submitted', 'investigating', 'disputed')
            THEN s.since + interval '1 day' * (CASE WHEN g %% 5 = 0 THEN 1 ELSE 20 END) END,
       0, CASE WHEN g %% 97 = 0 THEN 60 WHEN g %% 13 = 0 THEN 20 ELSE 0 END,
       s.state = 'publicized' AND g %% 50 = 0, false,
       CASE WHEN s.state IN ('approved', 'paid', 'rejected', 'withdrawn')
            THEN s.at + interval '10 days' END,
       CASE WHEN s.state = 'paid' THEN s.at + interval '14 days' END,
       CASE WHEN s.state IN ('publicized', 'disputed', 'approved', 'paid')
            THEN s.at + interval '5 days' END,
       CASE WHEN s.state IN ('publicized', 'disputed', 'approved', 'paid')
            THEN s.at + interval '8 days' END
  FROM generate_series(%(first)s, %(last)s) AS g
  JOIN members_membership m ON m.id = %(m_lo)s + ((g::bigint * 7919) %% %(m_span)s)
 CROSS JOIN LATERAL (
    SELECT r.state, r.at,
           CASE WHEN r.state = 'submitted' THEN r.at ELSE r.at + interval '1 day' END AS since
      FROM (SELECT %(now)s::timestamptz - interval '1 second' * ((%(total)s - g) * %(step)s) AS at,
                   CASE WHEN %(total)s - g < %(o1)s THEN 'submitted'
                        WHEN %(total)s - g < %(o2)s THEN 'investigating'
                        WHEN %(total)s - g < %(o3)s THEN 'publicized'
                        WHEN %(total)s - g < %(o4)s THEN 'disputed'
                        WHEN %(total)s - g < %(o5)s THEN 'approved'
                        WHEN g %% 50 = 0 THEN 'withdrawn'
                        WHEN g %% 6 = 0 THEN 'rejected'
                        ELSE 'paid' END AS state) r
 ) s
"""

# Each claim's log: the move out of submitted a day after it came, then its last move.
_LOG = """
INSERT INTO django_fsm_log_statelog (timestamp, source_state, state, transition, content_type_id,
                                     object_id, description)
SELECT c.submitted_at + interval '1 day', 'submitted',
       CASE WHEN c.state = 'withdrawn' THEN 'withdrawn' ELSE 'investigating' END,
       CASE WHEN c.state = 'withdrawn' THEN 'withdraw' ELSE 'start_investigation' END,
       %(ct)s, c.id, 'bench'
  FROM claims_claim c WHERE c.id > %(after)s AND c.state <> 'submitted'
UNION ALL
SELECT COALESCE(c.paid_at, c.decided_at, c.publicity_starts_at),
       CASE WHEN c.state = 'rejected' THEN 'investigating' ELSE 'publicized' END, c.state,
       CASE c.state WHEN 'paid' THEN 'mark_paid' WHEN 'rejected' THEN 'reject'
                    WHEN 'approved' THEN 'approve' WHEN 'disputed' THEN 'open_dispute_review'
                    ELSE 'publicize' END,
       %(ct)s, c.id, 'bench'
  FROM claims_claim c
 WHERE c.id > %(after)s AND c.state NOT IN ('submitted', 'investigating', 'withdrawn')
"""

_SIDE = """
INSERT INTO claims_inforequest (claim_id, documents, note, deadline, status, made_by_id, made_at)
SELECT c.id, ARRAY['invoice'], '', c.state_since + interval '20 days', 'open', c.investigator_id,
       c.state_since
  FROM claims_claim c WHERE c.id > %(after)s AND c.state = 'investigating' AND c.id %% 10 = 0;
UPDATE claims_claim c SET paused_at = c.state_since
 WHERE c.id > %(after)s AND c.state = 'investigating' AND c.id %% 10 = 0;
INSERT INTO claims_appeal (claim_id, filed_by_id, reason, filed_at, status, note)
SELECT c.id, %(someone)s, 'bench appeal', c.decided_at + interval '1 day', 'pending', ''
  FROM claims_claim c WHERE c.id > %(after)s AND c.state = 'rejected'
   AND c.decided_at > %(now)s::timestamptz - interval '30 days';
INSERT INTO claims_claimaudit (claim_id, seed, permille, picked_at, outcome, note)
SELECT c.id, 'bench', 50, c.publicity_ends_at, 'pending', ''
  FROM claims_claim c WHERE c.id > %(after)s AND c.audit_held;
"""


# Each claim's stays in the states it left (the desk's time-in-state figures read these).
_SPANS = """
INSERT INTO claims_statespan (claim_id, state, entered_at, left_at, worked_seconds)
SELECT id, st, entered, left_at, GREATEST(0, EXTRACT(EPOCH FROM left_at - entered))::bigint
  FROM (
    SELECT c.id, 'submitted' AS st, c.submitted_at AS entered,
           c.submitted_at + interval '1 day' AS left_at
      FROM claims_claim c WHERE c.id > %(after)s AND c.state <> 'submitted'
    UNION ALL
    SELECT c.id, 'investigating', c.submitted_at + interval '1 day',
           COALESCE(c.publicity_starts_at, c.decided_at)
      FROM claims_claim c
     WHERE c.id > %(after)s AND c.state NOT IN ('submitted', 'investigating', 'withdrawn')
    UNION ALL
    SELECT c.id, 'publicized', c.publicity_starts_at, c.publicity_ends_at
      FROM claims_claim c WHERE c.id > %(after)s AND c.state IN ('disputed', 'approved', 'paid')
    UNION ALL
    SELECT c.id, 'approved', c.decided_at, c.paid_at
      FROM claims_claim c WHERE c.id > %(after)s AND c.state = 'paid'
  ) spans
"""


def ensure_desk_spans() -> int:
    """The spans of the claims written here that have none yet (set-based, once)."""
    from django.db.models import Max

    from claims.models import StateSpan

    after = StateSpan.objects.aggregate(last=Max("claim_id"))["last"] or 0
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_SPANS, {"after": after})
        return cursor.rowcount


def _investigators() -> list[int]:
    users = get_user_model()
    group = Group.objects.get(name="investigator")
    firms = [
        InvestigationFirm.objects.get_or_create(name=name, defaults={"fee_per_case_fen": fee})[0]
        for name, fee in (("Bench Firm A", 30_000), ("Bench Firm B", 25_000))
    ]
    ids = []
    for i in range(INVESTIGATORS):
        user, _ = users.objects.get_or_create(username=f"bench-inv-{i:02d}",
                                              defaults={"is_staff": True})  # fmt: skip
        user.groups.add(group)
        Investigator.objects.get_or_create(user=user, defaults={"firm": firms[i % 2]})
        ids.append(user.pk)
    return ids


def ensure_desk_claims(*, total: int, now: datetime.datetime, batch: int = 200_000) -> dict:
    """Write claims until the database has `total`, in batches of `batch` (one transaction each)."""
    have = Claim.objects.count()
    investigators = _investigators()
    bounds = Membership.objects.order_by("pk").values_list("pk", flat=True)
    m_lo, m_hi = bounds.first(), bounds.last()
    ct = ContentType.objects.get_for_model(Claim).pk
    someone = investigators[0]  # the appeals' filer: any login will do for the figures
    step = YEARS * 365 * 86400 / total
    cuts, acc = {}, 0
    for i, (_, n) in enumerate(OPEN_SHARE.items(), start=1):
        acc += n
        cuts[f"o{i}"] = acc
    written = 0
    for first in range(have + 1, total + 1, batch):
        last = min(first + batch - 1, total)
        with transaction.atomic(), connection.cursor() as cursor:
            after = Claim.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
            cursor.execute(
                _CLAIMS,
                {"first": first, "last": last, "total": total, "step": step, "now": now,
                 "investigators": investigators, "n_inv": len(investigators), "m_lo": m_lo,
                 "m_span": m_hi - m_lo + 1, **cuts},
            )  # fmt: skip
            written += cursor.rowcount
            seal_model(Claim, after=after)  # the diagnoses written in clear, encrypted
            cursor.execute(_LOG, {"ct": ct, "after": after})
            for statement in _SIDE.split(";\n"):
                if statement.strip():
                    cursor.execute(statement, {"after": after, "now": now, "someone": someone})
    spans = ensure_desk_spans()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE claims_claim SET appeal_pending = true WHERE NOT appeal_pending AND id IN "
            "(SELECT claim_id FROM claims_appeal WHERE status = 'pending')"
        )
        cursor.execute("ANALYZE claims_claim; ANALYZE claims_statespan")
    return {
        "claims_written": written,
        "claims": have + written,
        "spans_written": spans,
        "investigators": len(investigators),
    }
