from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = _("Billing")

    def ready(self):
        from billing import (
            checks,  # noqa: F401  (registers the start-up checks)
            notices,  # noqa: F401  (registers what billing tells members)
        )
