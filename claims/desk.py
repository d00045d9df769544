"""Who works a claim: the automatic assignment of a new claim, and a supervisor's
reassignment of one claim or many, each with its row in the assignment trail."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.mail import send_mail
from django.db import connection, transaction
from django.db.models import Count, Q

from claims.clock import CLOCKED_STATES, overdue_q
from claims.errors import ErrorCode
from claims.models import (
    Claim,
    ClaimAssignment,
    ClaimState,
    InvestigationFirm,
    Investigator,
    ReasonKind,
)
from claims.reasons import reason_for
from mutual.core.errors import ServiceError

if TYPE_CHECKING:
    from django.contrib.auth.models import User

# The states in which a claim is with its investigator.
WORKED_STATES = (ClaimState.SUBMITTED, ClaimState.INVESTIGATING)


def active_investigators() -> list[User]:
    """Logins that take new claims: an active investigator of an active firm, an active
    login, with the investigator's permission (a few dozen rows: checked in Python)."""
    profiles = Investigator.objects.filter(
        active=True, firm__active=True, user__is_active=True
    ).select_related("user")
    return [p.user for p in profiles if p.user.has_perm("claims.investigate_claim")]


def pick_investigator(*, plan_id: int) -> User | None:
    """The active investigator with the fewest open claims in the plan (the lowest id on a
    tie, so the choice is reproducible), or None when there is none."""
    candidates = {user.pk: user for user in active_investigators()}
    if not candidates:
        return None
    load = dict(
        Claim.objects.filter(plan_id=plan_id, state__in=WORKED_STATES, investigator__in=candidates)
        .values("investigator")
        .annotate(n=Count("pk"))
        .values_list("investigator", "n")
    )
    return candidates[min(candidates, key=lambda pk: (load.get(pk, 0), pk))]


def claim_assign_new(*, claim: Claim, now: datetime.datetime) -> User | None:
    """Give a claim just submitted (in the caller's transaction) to an investigator. Two
    claims submitted at the same instant may go to the same person: the balance is a rule of
    thumb, not an invariant, and a supervisor evens it out."""
    investigator = pick_investigator(plan_id=claim.plan_id)
    if investigator is None:
        return None
    claim.investigator = investigator
    claim.save(update_fields=["investigator"])
    ClaimAssignment.objects.create(claim=claim, assigned_to=investigator, by=None, at=now)
    return investigator


@transaction.atomic
def claims_reassign(
    *,
    claim_ids: list[int],
    investigator_id: int,
    code: str,
    note: str = "",
    by: User | None,
    now: datetime.datetime,
) -> int:
    """A supervisor gives claims still with an investigator to another one, with a reason from
    the catalogue. All or nothing: one claim that cannot move refuses the whole request.
    Returns how many claims changed hands."""
    if by is None or not by.has_perm("claims.assign_claim"):
        raise PermissionDenied("only a supervisor reassigns claims")
    reason = reason_for(code, kind=ReasonKind.REASSIGN)
    target = next((u for u in active_investigators() if u.pk == investigator_id), None)
    if target is None:
        raise ServiceError(
            "choose an active investigator", code=ErrorCode.NOT_ASSIGNABLE, field="investigator"
        )
    ids = sorted(set(claim_ids))
    # Locked in id order, so that two supervisors moving overlapping sets cannot deadlock.
    claims = list(Claim.objects.select_for_update().filter(pk__in=ids).order_by("pk"))
    if len(claims) != len(ids):
        raise ServiceError("some of these claims do not exist", code=ErrorCode.UNKNOWN)
    closed = [c.pk for c in claims if c.state not in WORKED_STATES]
    if closed:
        raise ServiceError(
            f"claims {', '.join(map(str, closed))} are past investigation and cannot be reassigned",
            code=ErrorCode.BAD_STATE,
        )
    moved = 0
    for claim in claims:
        if claim.investigator_id == target.pk:
            continue
        ClaimAssignment.objects.create(
            claim=claim,
            assigned_from_id=claim.investigator_id,
            assigned_to=target,
            reason=reason,
            note=note.strip()[:300],
            by=by,
            at=now,
        )
        claim.investigator = target
        claim.overdue_told_at = None  # the new investigator's lateness is told afresh
        claim.save(update_fields=["investigator", "overdue_told_at"])
        moved += 1
    return moved


def desk_load(*, now: datetime.datetime) -> list[dict]:
    """The supervisor's view: each investigator's open, overdue and waiting claims."""
    rows = (
        Claim.objects.filter(state__in=WORKED_STATES, investigator__isnull=False)
        .values("investigator", "investigator__username")
        .annotate(
            open=Count("pk"),
            overdue=Count("pk", filter=overdue_q(now)),
            waiting=Count("pk", filter=Q(paused_at__isnull=False)),
        )
        .order_by("-overdue", "-open", "investigator__username")
    )
    return list(rows)


_FLAG_SQL = """
UPDATE claims_claim SET overdue_told_at = %(now)s
 WHERE id IN (SELECT id FROM claims_claim
               WHERE due_at <= %(now)s AND paused_at IS NULL AND overdue_told_at IS NULL
                 AND state = ANY(%(states)s)
               ORDER BY due_at LIMIT 1000 FOR UPDATE SKIP LOCKED)
RETURNING id
"""


def claims_flag_overdue(*, now: datetime.datetime) -> int:
    """Tell the supervisors, once, of each claim gone past its due time: one mail a round
    listing the claims newly late. The UPDATE ... RETURNING takes each claim once, whatever
    the number of workers; the mail goes out after the commit, with no row locked."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_FLAG_SQL, {"now": now, "states": sorted(CLOCKED_STATES)})
        late = sorted(row[0] for row in cursor.fetchall())
    if not late:
        return 0
    # Staff only (members' logins are millions and never supervise).
    users = get_user_model().objects.filter(is_active=True, is_staff=True).exclude(email="")
    supervisors = [u.email for u in users if u.has_perm("claims.assign_claim")]
    if supervisors:
        listed = ", ".join(f"#{pk}" for pk in late[:200])
        send_mail(
            f"{len(late)} claim(s) past their due time",
            f"Newly late: {listed}. See the Overdue desk in the admin.",
            None,
            supervisors,
            fail_silently=False,
        )
    return len(late)


DECIDED_STATES = (ClaimState.APPROVED, ClaimState.PAID, ClaimState.REJECTED)


FIRM_WINDOW = datetime.timedelta(days=30)


def firm_figures(*, now: datetime.datetime) -> list[dict]:
    """Each firm's figures, through its investigators: open and late now, decided in the last
    30 days, those of them never told late, and the fees for them. One grouped query over the
    claims an index finds (open states, or decided in the window), whatever the history."""
    firm_of = dict(Investigator.objects.values_list("user_id", "firm_id"))
    decided = Q(state__in=DECIDED_STATES, decided_at__gt=now - FIRM_WINDOW, decided_at__lte=now)
    rows = (
        Claim.objects.filter(Q(state__in=WORKED_STATES) | decided, investigator_id__in=firm_of)
        .values("investigator_id")
        .annotate(
            open=Count("pk", filter=Q(state__in=WORKED_STATES)),
            late=Count("pk", filter=overdue_q(now)),
            decided=Count("pk", filter=decided),
            on_time=Count("pk", filter=decided & Q(overdue_told_at__isnull=True)),
        )
    )
    totals: dict[int, dict] = {}
    for row in rows:
        firm = totals.setdefault(firm_of[row["investigator_id"]],
                                 {"open": 0, "late": 0, "decided": 0, "on_time": 0})  # fmt: skip
        for key in firm:
            firm[key] += row[key]
    figures = []
    for firm in InvestigationFirm.objects.order_by("name"):
        counts = totals.get(firm.pk, {"open": 0, "late": 0, "decided": 0, "on_time": 0})
        figures.append({
            "firm": firm,
            **counts,
            "fees_fen": counts["decided"] * firm.fee_per_case_fen,
        })  # fmt: skip
    return figures
