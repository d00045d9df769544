"""The checks a process runs before it serves, named in settings by their dotted paths (the
web's and the workers' entry points import no app: the apps sit above mutual/)."""

from __future__ import annotations

from django.conf import settings
from django.utils.module_loading import import_string


def run_start_checks(setting: str) -> None:
    """Call each check named in settings.<setting>; a check refuses by raising."""
    for path in getattr(settings, setting, ()):
        import_string(path)()
