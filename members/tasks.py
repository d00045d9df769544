"""Celery finds an app's tasks in <app>.tasks: the notices', and the age limit's."""

from celery import shared_task

from members import ages
from members.notifications.tasks import (  # noqa: F401
    daily_digest,
    deliver_event,
    notice_run,
    notice_run_chunk,
    notice_run_finish,
    sweep_notices,
)
from mutual.core.timezones import parse_now


@shared_task(acks_late=True)
def memberships_at_age_limit(now: str | None = None) -> dict[str, int]:
    """Hourly (beat): members who reached their plan's maximum age move on or leave, at the
    birthday. Idempotent: a membership moved or ended is not due any more."""
    return ages.memberships_at_age_limit(now=parse_now(now))
