"""Encrypt the national ids held in clear and fill their blind indexes: batches of 10,000 rows,
each its own short transaction (this migration is not atomic), so no lock is held for long
and a run that stopped is taken up where the rows are still in clear. README, Security, has
the time at 10M members."""

from django.db import migrations

from mutual.core.personal_data import seal_model


def seal(apps, schema_editor):
    seal_model(apps.get_model("members", "Member"))


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("members", "0018_national_id_encrypted"),
    ]

    operations = [migrations.RunPython(seal, elidable=False)]
