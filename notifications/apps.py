from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    """Notices to members: stored, written in bulk and delivered here; what to tell, and in
    what words, is each domain app's (their notices.py registers it). Imports no domain app."""

    name = "notifications"
    verbose_name = "Notifications"
