"""A claim's clock, stated once: when its current state is due, how long it has been in it,
and its pauses while it waits on the claimant.

Working days are mainland China's: weekends and public holidays are rest days, and the
weekend days the State Council moves to work are working days (python-holidays' China
calendar, which carries those moved days; a year whose schedule is not yet published falls
back to its computed holidays and ordinary weekends). A target of N working days entered on
day D is due at the end (24:00 Shanghai) of the N-th working day after D; N calendar days are
due N x 24 hours after entry. A pause does not count: on resume, the due time moves on by the
working days (or the time) the pause took."""

from __future__ import annotations

import datetime
from functools import lru_cache

import holidays
from django.db.models import Q

from claims.models import Claim, ClaimState, ClockTarget, StateSpan
from mutual.core.timezones import local_date, local_midnight

DAY = datetime.timedelta(days=1)

# States whose time is the desk's to keep; the others (publicity runs its own window, paid,
# rejected, withdrawn) have no due time.
CLOCKED_STATES = frozenset(
    {ClaimState.SUBMITTED, ClaimState.INVESTIGATING, ClaimState.DISPUTED, ClaimState.APPROVED}
)
# A plan with no target of its own for a state: (days, working days?).
DEFAULT_TARGETS: dict[str, tuple[int, bool]] = {
    ClaimState.SUBMITTED: (2, True),  # investigation started within 2 working days
    ClaimState.INVESTIGATING: (30, False),  # findings within 30 days
    ClaimState.DISPUTED: (3, True),  # a disputed claim decided within 3 working days
}


@lru_cache(maxsize=1)
def _china() -> holidays.HolidayBase:
    return holidays.country_holidays("CN")


def is_working_day(day: datetime.date) -> bool:
    return _china().is_working_day(day)


def working_days_between(start: datetime.date, end: datetime.date) -> int:
    """Working days d with start <= d < end."""
    count, day = 0, start
    while day < end:
        count += is_working_day(day)
        day += DAY
    return count


def add_working_days(day: datetime.date, n: int) -> datetime.date:
    """The n-th working day after `day` (n >= 1)."""
    while n > 0:
        day += DAY
        n -= is_working_day(day)
    return day


def due_after(entered_at: datetime.datetime, *, days: int, working: bool) -> datetime.datetime:
    if not working:
        return entered_at + days * DAY
    return local_midnight(add_working_days(local_date(entered_at), days) + DAY)


def due_resumed(
    due_at: datetime.datetime,
    *,
    paused_at: datetime.datetime,
    resumed_at: datetime.datetime,
    working: bool,
) -> datetime.datetime:
    """The due time once a pause from `paused_at` to `resumed_at` is given back."""
    if not working:
        return due_at + (resumed_at - paused_at)
    lost = working_days_between(local_date(paused_at), local_date(resumed_at))
    if lost == 0:
        return due_at
    last_day = local_date(due_at - datetime.timedelta(microseconds=1))
    return local_midnight(add_working_days(last_day, lost) + DAY)


def target_for(plan_id: int, state: str) -> tuple[int, bool] | None:
    if state not in CLOCKED_STATES:
        return None
    row = (
        ClockTarget.objects.filter(plan_id=plan_id, state=state)
        .values_list("days", "working_days")
        .first()
    )
    return row or DEFAULT_TARGETS.get(state)


# --- a claim's clock (the caller holds the claim's row and saves it) ---------------------------
CLOCK_FIELDS = ["state_since", "due_at", "paused_at", "paused_seconds"]


def clock_leave(claim: Claim, *, now: datetime.datetime) -> None:
    """The claim is about to leave its state (before its transition): its span is written."""
    worked = time_in_state(claim, now=now)
    if worked is None:
        return
    StateSpan.objects.create(
        claim=claim,
        state=claim.state,
        entered_at=claim.state_since,
        left_at=now,
        worked_seconds=max(0, int(worked.total_seconds())),
    )


def clock_enter(claim: Claim, *, now: datetime.datetime) -> None:
    """The claim has just entered its current state."""
    claim.state_since = now
    claim.paused_at = None
    claim.paused_seconds = 0
    target = target_for(claim.plan_id, claim.state)
    claim.due_at = None if target is None else due_after(now, days=target[0], working=target[1])


def clock_pause(claim: Claim, *, now: datetime.datetime) -> None:
    if claim.paused_at is None:
        claim.paused_at = now


def clock_resume(claim: Claim, *, now: datetime.datetime) -> None:
    if claim.paused_at is None:
        return
    target = target_for(claim.plan_id, claim.state)
    if claim.due_at is not None and target is not None:
        claim.due_at = due_resumed(
            claim.due_at, paused_at=claim.paused_at, resumed_at=now, working=target[1]
        )
    claim.paused_seconds += int((now - claim.paused_at).total_seconds())
    claim.paused_at = None


def time_in_state(claim: Claim, *, now: datetime.datetime) -> datetime.timedelta | None:
    """How long the claim has been worked in its state: the time since it entered it, less
    its pauses (a pause still running counts up to `now`)."""
    if claim.state_since is None:
        return None
    paused = claim.paused_seconds + (
        (now - claim.paused_at).total_seconds() if claim.paused_at else 0
    )
    return now - claim.state_since - datetime.timedelta(seconds=paused)


def is_overdue(claim: Claim, *, now: datetime.datetime) -> bool:
    return claim.due_at is not None and claim.paused_at is None and claim.due_at <= now


def overdue_q(now: datetime.datetime) -> Q:
    """is_overdue, as a filter."""
    return Q(due_at__lte=now, paused_at__isnull=True, state__in=CLOCKED_STATES)
