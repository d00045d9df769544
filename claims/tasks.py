from celery import shared_task

from claims import services
from mutual.core.timezones import parse_now


@shared_task(acks_late=True)
def close_publicity_windows(now: str | None = None) -> dict[str, int]:
    """Every minute (beat). Idempotent: a closed window no longer matches, so a second
    delivery, or a second worker at the same moment, finds nothing left to close.
    `now` (ISO 8601) lets an operator or a test replay a given moment."""
    return services.claims_close_due_windows(now=parse_now(now))
