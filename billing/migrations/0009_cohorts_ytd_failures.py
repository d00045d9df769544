"""Cohort-based apportionment (billing/rules.py): cohorts, per-chunk extra fen, failed runs,
the plan's calendar (runs_at), and a year to date carried from one period to the next.

Existing periods run at their cutoff; bills written when the yearly cap could not bind kept
no year to date (NULL): it is filled in here, so that the next period reads only the last."""

import django.db.models.deletion
from django.db import migrations, models

RUNS_AT = "UPDATE billing_apportionmentperiod SET runs_at = cutoff_at"

# Charged in the plan's earlier periods of the same (Shanghai) year.
YEAR_TO_DATE = """
UPDATE billing_bill b SET year_to_date_before_fen = earlier.charged
  FROM (
    SELECT b2.id, b2.period_id, coalesce(sum(b2.charged_fen) OVER (
               PARTITION BY b2.membership_id, p.plan_id,
                            date_trunc('year', p.cutoff_at AT TIME ZONE 'Asia/Shanghai')
               ORDER BY p.cutoff_at ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS charged
      FROM billing_bill b2 JOIN billing_apportionmentperiod p ON p.id = b2.period_id
  ) earlier
 WHERE b.id = earlier.id AND b.period_id = earlier.period_id AND b.year_to_date_before_fen IS NULL
"""


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0008_partition_bills_by_period"),
    ]

    operations = [
        migrations.RemoveField(
            model_name="periodcase",
            name="extra_fen_up_to_id",
        ),
        migrations.AddField(
            model_name="apportionmentperiod",
            name="failed_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="failed at"),
        ),
        migrations.AddField(
            model_name="apportionmentperiod",
            name="failure",
            field=models.TextField(blank=True, default="", verbose_name="failure"),
        ),
        migrations.AddField(
            model_name="apportionmentperiod",
            name="previous_period",
            field=models.ForeignKey(
                blank=True,
                help_text="The earlier period of the same year whose bills carry the year to date.",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="billing.apportionmentperiod",
            ),
        ),
        migrations.AddField(
            model_name="apportionmentperiod",
            name="runs_at",
            field=models.DateTimeField(
                null=True,
                help_text="The cutoff plus the plan's payout delay.",
                verbose_name="runs and pays at",
            ),
        ),
        migrations.RunSQL(RUNS_AT, migrations.RunSQL.noop),
        migrations.AlterField(
            model_name="apportionmentperiod",
            name="runs_at",
            field=models.DateTimeField(
                help_text="The cutoff plus the plan's payout delay.",
                verbose_name="runs and pays at",
            ),
        ),
        migrations.RunSQL(YEAR_TO_DATE, migrations.RunSQL.noop),
        migrations.AddField(
            model_name="periodchunk",
            name="extras",
            field=models.JSONField(default=list),
        ),
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
            ),
        ),
        migrations.CreateModel(
            name="PeriodCohort",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "index",
                    models.PositiveIntegerField(help_text="cases skipped x waiver classes + class"),
                ),
                ("in_pool_from", models.DateTimeField(blank=True, null=True)),
                ("in_pool_before", models.DateTimeField(blank=True, null=True)),
                ("joined_from", models.DateTimeField(blank=True, null=True)),
                ("joined_before", models.DateTimeField(blank=True, null=True)),
                ("members_count", models.BigIntegerField()),
                ("cases_count", models.PositiveIntegerField()),
                ("gross_base_fen", models.BigIntegerField()),
                ("net_base_fen", models.BigIntegerField(help_text="gross less waived")),
                ("payable_base_fen", models.BigIntegerField(help_text="net less the per-case cap")),
                ("gross_share_fen", models.DecimalField(decimal_places=6, max_digits=30)),
                ("payable_share_fen", models.DecimalField(decimal_places=6, max_digits=30)),
                (
                    "period",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="cohorts",
                        to="billing.apportionmentperiod",
                    ),
                ),
            ],
            options={
                "verbose_name": "cohort in period",
                "verbose_name_plural": "cohorts in period",
                "ordering": ["period", "index"],
                "constraints": [
                    models.UniqueConstraint(fields=("period", "index"), name="one_cohort_index")
                ],
            },
        ),
    ]
