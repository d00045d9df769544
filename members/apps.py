from django.apps import AppConfig
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _

# Settings naming a class by import path. Settings checked that the module exists; whether it
# defines the class is checked here, once models can be imported, so that a bad value stops
# every process (web, worker, beat, manage.py) at startup rather than at first use.
IMPORT_PATH_SETTINGS = [
    "MUTUAL_CREDIT_PROVIDER",
    "MUTUAL_PAYMENT_GATEWAY",
    "MUTUAL_NOTIFICATION_GATEWAY",
]


class MembersConfig(AppConfig):
    name = "members"
    verbose_name = _("Members and plans")

    def ready(self):
        from members import (
            checks,  # noqa: F401  (registers the start-up checks)
            notices,  # noqa: F401  (registers what members are told)
        )

        for name in IMPORT_PATH_SETTINGS:
            path = getattr(settings, name)
            try:
                import_string(path)
            except ImportError as error:
                raise ImproperlyConfigured(f"{name}={path!r}: {error}") from None
