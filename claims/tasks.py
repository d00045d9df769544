from celery import shared_task

from claims import desk, disputes, notices, requests, retention, services
from mutual.core.timezones import parse_now


@shared_task(acks_late=True)
def close_publicity_windows(now: str | None = None) -> dict[str, int]:
    """Every minute (beat). Idempotent: a closed window no longer matches, so a second
    delivery, or a second worker at the same moment, finds nothing left to close.
    `now` (ISO 8601) lets an operator or a test replay a given moment. Also hands out again
    the jury draws lost with a worker (at most every 15 minutes a claim)."""
    moment = parse_now(now)
    closed = services.claims_close_due_windows(now=moment)
    disputes.jury_draws_resend(now=moment)
    return closed


@shared_task(acks_late=True)
def draw_jury(claim_id: int, now: str | None = None) -> int:
    """Sent when a jury plan's claim goes to review, once that commits. Idempotent: a jury
    already drawn, or a claim no longer disputed, is left alone, and nothing is written
    before the draw's last short transaction, so a second delivery or a killed worker is
    harmless."""
    return disputes.jury_draw(claim_id=claim_id, now=parse_now(now))


@shared_task(acks_late=True)
def daily_digest(now: str | None = None) -> list[str]:
    """Beat, daily: a digest of the day's new cases in publicity to each plan's members."""
    return notices.digest_start(now=parse_now(now))


@shared_task(acks_late=True)
def desk_round(now: str | None = None) -> dict[str, int]:
    """Every 15 minutes (beat): remind claimants of requests due within two days, close the
    claims whose request went unanswered, and tell supervisors once of each claim gone late.
    Idempotent: each step takes its rows with a condition that a second run no longer meets."""
    moment = parse_now(now)
    done = requests.requests_expire(now=moment)
    done["reminded"] = requests.requests_remind(now=moment)
    done["overdue_told"] = desk.claims_flag_overdue(now=moment)
    return done


@shared_task(acks_late=True)
def erase_past_retention(now: str | None = None) -> dict:
    """Daily: evidence and identities past their retention erased (claims/retention.py).
    Idempotent: each erasure locks its row and skips what is already erased."""
    return retention.erase_due(now=parse_now(now))
