"""More field names for people (issue 25): labels only, no change to the database."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("claims", "0020_field_names_for_people"),
        ("members", "0017_more_field_names"),
    ]

    operations = [
        migrations.AlterField(
            model_name="condition",
            name="plan",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="conditions",
                to="members.plan",
                verbose_name="plan",
            ),
        ),
        migrations.AlterField(
            model_name="historicalcondition",
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
        migrations.AlterField(
            model_name="investigator",
            name="firm",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="investigators",
                to="claims.investigationfirm",
                verbose_name="firm",
            ),
        ),
    ]
