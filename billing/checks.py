"""Start-up checks: with DEBUG off the transparency keys have no default, and without them a
period posts but is never sealed, so its bills are never told nor collected, and proofs fail.
Said at `migrate` and `check` (a system check), and the Celery worker and the web server
refuse to start (`refuse_to_start_without_keys`, from mutual/celery.py and
mutual/gunicorn_conf.py), not at the first period."""

from django.conf import settings
from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured


@register()
def transparency_keys(app_configs=None, **kwargs) -> list[Error]:
    from billing import tree

    if settings.DEBUG:  # development keys
        return []
    errors = []
    for code, name, load in (
        ("E001", "MUTUAL_LEAF_KEY", tree.leaf_key),
        ("E002", "MUTUAL_SIGNING_KEY", tree.signing_key),
    ):
        try:
            load()
        except ImproperlyConfigured as error:
            errors.append(
                Error(
                    str(error),
                    hint=f"Set {name} (README, Security): periods are sealed and proved with it.",
                    id=f"billing.{code}",
                )
            )
    return errors


def refuse_to_start_without_keys() -> None:
    errors = transparency_keys()
    if errors:
        raise SystemExit("; ".join(f"{error.id}: {error.msg}" for error in errors))
