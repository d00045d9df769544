from django.db import migrations

from mutual.core.roles import beat_entry


def forwards(apps, schema_editor):
    for every, period, name, task in [
        (5, "minutes", "Run due apportionment periods and pay", "billing.tasks.run_due_periods"),
        (1, "hours", "Collect due bills and lapse the unpaid", "billing.tasks.collect_due"),
    ]:
        beat_entry(apps, name=name, task=task, every=every, period=period)


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0005_collections"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
