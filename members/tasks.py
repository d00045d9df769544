"""Celery finds an app's tasks in <app>.tasks: the members', the age limit's."""

from celery import shared_task

from members import ages
from mutual.core.timezones import parse_now


@shared_task(acks_late=True)
def memberships_at_age_limit(now: str | None = None) -> dict[str, int]:
    """Hourly (beat): members who reached their plan's maximum age move on or leave, at the
    birthday. Idempotent: a membership moved or ended is not due any more."""
    return ages.memberships_at_age_limit(now=parse_now(now))
