"""What data migrations set up: staff roles (Django groups, granted through `grant`) and beat
entries (`beat_entry`)."""

from django.contrib.auth.management import create_permissions

ROLES = ("investigator", "reviewer", "finance", "supervisor")


def grant(apps, schema_editor, grants: dict[str, list[str]]) -> None:
    """grants: {"reviewer": ["claims.decide_claim", ...]}. Permissions are created first,
    because on a fresh database post_migrate has not made them yet."""
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0, apps=apps)
        app_config.models_module = None
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    for group_name, perms in grants.items():
        group, _ = group_model.objects.get_or_create(name=group_name)
        for perm in perms:
            app_label, codename = perm.split(".")
            group.permissions.add(
                permission_model.objects.get(content_type__app_label=app_label, codename=codename)
            )


def beat_entry(apps, *, name: str, task: str, every: int, period: str) -> None:
    """A beat entry stored in django-celery-beat's tables, so operators can edit it in admin:
    `task` every `every` `period` ("minutes", "hours"...). Left as it is if it exists."""
    interval_model = apps.get_model("django_celery_beat", "IntervalSchedule")
    periodic_model = apps.get_model("django_celery_beat", "PeriodicTask")
    interval, _ = interval_model.objects.get_or_create(every=every, period=period)
    periodic_model.objects.get_or_create(
        name=name, defaults={"task": task, "interval": interval, "enabled": True}
    )
