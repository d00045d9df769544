"""Start-up checks: with DEBUG off the keys of personal data at rest have no default. Without
them a national id could be neither encrypted nor found, so `migrate` and `check` say so (a
system check) and the web server and the Celery worker refuse to start
(`refuse_to_start_without_field_keys`, named in settings.WEB_START_CHECKS and
WORKER_START_CHECKS)."""

from django.conf import settings
from django.core.checks import Error, register
from django.db import DatabaseError

from mutual.core.personal_data import UnreadableToken, key_problems


@register()
def personal_data_keys(app_configs=None, **kwargs) -> list[Error]:
    if settings.DEBUG:  # development keys
        return []
    return [
        Error(
            problem,
            hint="Set MUTUAL_FIELD_KEYS and MUTUAL_BLIND_INDEX_KEY (README, Security).",
            id="members.E001",
        )
        for problem in key_problems()
    ]


def keys_open_stored_data() -> list[str]:
    """The newest person's national id opens under the configured keys: a process started
    with the wrong ones (a changed DJANGO_SECRET_KEY without its fallback, a dropped field
    key) would fail on every read. An unreachable database is the health check's to say."""
    from members.models import Member

    try:
        Member.objects.order_by("-pk").values_list("national_id", flat=True).first()
    except UnreadableToken as error:
        return [str(error)]
    except DatabaseError:
        return []
    return []


def refuse_to_start_without_field_keys() -> None:
    errors = [f"{error.id}: {error.msg}" for error in personal_data_keys()]
    errors += [f"members.E002: {problem}" for problem in keys_open_stored_data()]
    if errors:
        raise SystemExit("; ".join(errors))
