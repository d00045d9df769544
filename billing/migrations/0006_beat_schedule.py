from django.db import migrations


def forwards(apps, schema_editor):
    interval_model = apps.get_model("django_celery_beat", "IntervalSchedule")
    periodic_model = apps.get_model("django_celery_beat", "PeriodicTask")
    for every, period, name, task in [
        (5, "minutes", "Run due apportionment periods and pay", "billing.tasks.run_due_periods"),
        (1, "hours", "Collect due bills and lapse the unpaid", "billing.tasks.collect_due"),
    ]:
        interval, _ = interval_model.objects.get_or_create(every=every, period=period)
        periodic_model.objects.get_or_create(
            name=name, defaults={"task": task, "interval": interval, "enabled": True}
        )


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0005_collections"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
