"""Staff roles are Django groups, created and granted by data migrations through `grant`."""

from django.contrib.auth.management import create_permissions

ROLES = ("investigator", "reviewer", "finance")


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


def every_minute_task(apps, *, name: str, task: str) -> None:
    """A beat entry stored in django-celery-beat's tables, so operators can edit it in admin."""
    interval_model = apps.get_model("django_celery_beat", "IntervalSchedule")
    periodic_model = apps.get_model("django_celery_beat", "PeriodicTask")
    every_minute, _ = interval_model.objects.get_or_create(every=1, period="minutes")
    periodic_model.objects.get_or_create(
        name=name, defaults={"task": task, "interval": every_minute, "enabled": True}
    )
