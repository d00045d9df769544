"""Beat's entries name tasks by their path: the sweeper is now notifications.tasks', the daily
digest claims.tasks' (what to tell is the domain app's; notifications only delivers)."""

from django.db import migrations

RENAMED = {
    "members.notifications.tasks.sweep_notices": "notifications.tasks.sweep_notices",
    "members.notifications.tasks.daily_digest": "claims.tasks.daily_digest",
}


def rename(apps, schema_editor, names=RENAMED):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for old, new in names.items():
        PeriodicTask.objects.filter(task=old).update(task=new)


def back(apps, schema_editor):
    rename(apps, schema_editor, {new: old for old, new in RENAMED.items()})


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0001_notices_move_to_their_app"),
        ("members", "0008_notifications"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(rename, back)]
