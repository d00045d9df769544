"""The period status field gets its label (issue 25): no change to the database."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0017_recoveries"),
    ]

    operations = [
        migrations.AlterField(
            model_name="apportionmentperiod",
            name="status",
            field=models.CharField(
                choices=[
                    ("open", "open"),
                    ("running", "running"),
                    ("posted", "posted"),
                    ("paid", "paid"),
                    ("failed", "failed"),
                ],
                default="open",
                max_length=16,
                verbose_name="status",
            ),
        ),
    ]
