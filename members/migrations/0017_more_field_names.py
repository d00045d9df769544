"""More field names for people (issue 25): labels only, no change to the database."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("members", "0016_field_names_for_people"),
    ]

    operations = [
        migrations.AlterField(
            model_name="coverband",
            name="plan",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="cover_bands",
                to="members.plan",
                verbose_name="plan",
            ),
        ),
        migrations.AlterField(
            model_name="historicalcoverband",
            name="plan",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="members.plan",
                verbose_name="plan",
            ),
        ),
    ]
