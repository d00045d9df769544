"""The demo's logins are a back door outside a demo: their password and their authenticator
secret are published (README, office/demo_totp.py). With DEBUG off no command creates them
(`demo_admin` and `seed_demo` refuse), and this check fails if one exists anyway: at
`migrate`, at `check --database default`, and when the web server starts
(mutual/gunicorn_conf.py)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.checks import Error, Tags, register
from django.db import DatabaseError, ProgrammingError

logger = logging.getLogger(__name__)
DEMO_USERNAMES = ("admin", "investigator", "reviewer", "finance", "supervisor", "member")


def demo_logins_present() -> list[str]:
    """Users that log in with a published secret: the demo's authenticator key, or a demo
    username with the demo password. One password check per demo username that exists."""
    from django.contrib.auth import get_user_model
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from office.demo_totp import DEMO_TOTP_KEY
    from office.demo_users import DEMO_PASSWORD

    found = set(
        TOTPDevice.objects.filter(key=DEMO_TOTP_KEY).values_list("user__username", flat=True)
    )
    for user in get_user_model().objects.filter(username__in=DEMO_USERNAMES, is_active=True):
        if user.check_password(DEMO_PASSWORD):
            found.add(user.username)
    return sorted(found)


@register(Tags.database, Tags.security)
def demo_logins(app_configs=None, databases=None, **kwargs) -> list[Error]:
    if settings.DEBUG or not databases:
        return []
    try:
        present = demo_logins_present()
    except ProgrammingError:  # `migrate` on a fresh database checks before it creates tables
        return []
    return [
        Error(
            f"the demo login {username!r} exists with DEBUG off: its password or its "
            "authenticator secret is published",
            hint="Delete it, or give it a new password and `manage.py staff_2fa` enrolment.",
            id="office.E001",
        )
        for username in present
    ]


def refuse_to_start_with_demo_logins() -> None:
    """For the web server's start. A database that does not answer yet is not a reason to
    stay down (the health check says so): that is logged, and the server starts."""
    try:
        errors = demo_logins(databases=["default"])
    except DatabaseError:
        logger.warning("could not check for demo logins: the database did not answer")
        return
    if errors:
        raise SystemExit("; ".join(f"{error.id}: {error.msg}" for error in errors))


def require_demo_mode(command: str) -> None:
    from django.core.management.base import CommandError

    if not settings.MUTUAL_DEMO:
        raise CommandError(
            f"{command} makes demo data and logins with published passwords: only with "
            "DJANGO_DEBUG on (`make run` sets it), never on a real deployment"
        )
