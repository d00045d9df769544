"""Celery finds an app's tasks in <app>.tasks: the members' are the notices'."""

from members.notifications.tasks import (  # noqa: F401
    daily_digest,
    deliver_event,
    notice_run,
    notice_run_chunk,
    notice_run_finish,
    sweep_notices,
)
