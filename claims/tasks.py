import datetime

from celery import shared_task
from django.utils import timezone

from claims import services


@shared_task(acks_late=True)
def close_publicity_windows(now: str | None = None) -> dict[str, int]:
    """Every minute (beat). Idempotent: a closed window no longer matches, so a second
    delivery, or a second worker at the same moment, finds nothing left to close.
    `now` (ISO 8601) lets an operator or a test replay a given moment."""
    moment = datetime.datetime.fromisoformat(now) if now else timezone.now()
    return services.claims_close_due_windows(now=moment)
