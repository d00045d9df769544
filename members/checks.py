"""Start-up checks: with DEBUG off the keys of personal data at rest have no default. Without
them a national id could be neither encrypted nor found, so `migrate` and `check` say so (a
system check) and the web server and the Celery worker refuse to start
(`refuse_to_start_without_field_keys`, named in settings.WEB_START_CHECKS and
WORKER_START_CHECKS)."""

from django.conf import settings
from django.core.checks import Error, register

from mutual.core.personal_data import key_problems


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


def refuse_to_start_without_field_keys() -> None:
    errors = personal_data_keys()
    if errors:
        raise SystemExit("; ".join(f"{error.id}: {error.msg}" for error in errors))
