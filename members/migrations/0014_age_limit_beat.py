"""Beat moves members on (or out) at their plan's maximum age: hourly, so a birthday is seen
within the hour (members.tasks.memberships_at_age_limit, idempotent)."""

from django.db import migrations

from mutual.core.roles import beat_entry


def schedule(apps, schema_editor):
    beat_entry(
        apps,
        name="Members at their plan's maximum age",
        task="members.tasks.memberships_at_age_limit",
        every=1,
        period="hours",
    )


class Migration(migrations.Migration):
    dependencies = [
        ("members", "0013_notice_about_cover"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(schedule, migrations.RunPython.noop)]
