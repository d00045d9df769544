from django.apps import AppConfig


class OfficeConfig(AppConfig):
    name = "office"
    verbose_name = "Office"

    def ready(self) -> None:
        from office import checks  # noqa: F401  (registers the demo-logins check)
