"""The plan's calendar is Shanghai's (settings.TIME_ZONE): days, months and years of billing."""

from __future__ import annotations

import datetime

from django.utils import timezone


def local_date(moment: datetime.datetime) -> datetime.date:
    return timezone.localtime(moment).date()


def local_midnight(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(0), tzinfo=timezone.get_default_timezone())


def local_datetime(day: datetime.date, time: datetime.time) -> datetime.datetime:
    """The instant of a Shanghai day and time of day."""
    return datetime.datetime.combine(day, time, tzinfo=timezone.get_default_timezone())


def year_start(moment: datetime.datetime) -> datetime.datetime:
    """Midnight of 1 January, local time, of the year holding `moment`."""
    return local_midnight(local_date(moment).replace(month=1, day=1))


def parse_now(now: str | None) -> datetime.datetime:
    """A task's `now` argument: an ISO 8601 moment (an operator or a test replaying a given
    moment, or the moment a task was enqueued for), or the wall clock when None."""
    return datetime.datetime.fromisoformat(now) if now else timezone.now()
