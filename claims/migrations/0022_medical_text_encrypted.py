"""The diagnosis and the investigator's findings encrypted at rest (issue 22): the columns hold
Fernet tokens (text; no rewrite from varchar). The rows in clear are sealed in batches of
their own short transactions (this migration is not atomic)."""

from django.db import migrations

import mutual.core.personal_data
from mutual.core.personal_data import seal_model


def seal(apps, schema_editor):
    seal_model(apps.get_model("claims", "Claim"))


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("claims", "0021_more_field_names"),
    ]

    operations = [
        migrations.AlterField(
            model_name="claim",
            name="diagnosis",
            field=mutual.core.personal_data.EncryptedCharField(
                max_length=200, verbose_name="diagnosis"
            ),
        ),
        migrations.AlterField(
            model_name="claim",
            name="investigation_summary",
            field=mutual.core.personal_data.EncryptedTextField(
                blank=True, verbose_name="investigation summary"
            ),
        ),
        migrations.RunPython(seal, elidable=False),
    ]
