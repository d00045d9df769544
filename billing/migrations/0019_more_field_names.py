"""More field names for people (issue 25): labels only, no change to the database."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0018_period_status_label"),
        ("members", "0017_more_field_names"),
    ]

    operations = [
        migrations.AlterField(
            model_name="apportionmentperiod",
            name="cases_total_fen",
            field=models.BigIntegerField(default=0, verbose_name="payouts (fen)"),
        ),
        migrations.AlterField(
            model_name="apportionmentperiod",
            name="charged_fen",
            field=models.BigIntegerField(default=0, verbose_name="charged to members (fen)"),
        ),
        migrations.AlterField(
            model_name="apportionmentperiod",
            name="chunks_total",
            field=models.PositiveIntegerField(default=0, verbose_name="chunks"),
        ),
        migrations.AlterField(
            model_name="apportionmentperiod",
            name="enqueued_at",
            field=models.DateTimeField(
                blank=True,
                help_text="When a run was last handed to the workers.",
                null=True,
                verbose_name="handed to the workers at",
            ),
        ),
        migrations.AlterField(
            model_name="apportionmentperiod",
            name="fee_total_fen",
            field=models.BigIntegerField(default=0, verbose_name="fees (fen)"),
        ),
        migrations.AlterField(
            model_name="apportionmentperiod",
            name="management_fee_bp",
            field=models.PositiveIntegerField(
                blank=True, null=True, verbose_name="management fee (basis points)"
            ),
        ),
        migrations.AlterField(
            model_name="apportionmentperiod",
            name="max_charged_fen",
            field=models.BigIntegerField(
                default=0,
                help_text="The largest charge to one member (bounds the yearly cap check).",
                verbose_name="largest charge (fen)",
            ),
        ),
        migrations.AlterField(
            model_name="apportionmentperiod",
            name="members_count",
            field=models.BigIntegerField(default=0, verbose_name="members billed"),
        ),
        migrations.AlterField(
            model_name="apportionmentperiod",
            name="per_case_cap_fen",
            field=models.BigIntegerField(blank=True, null=True, verbose_name="per-case cap (fen)"),
        ),
        migrations.AlterField(
            model_name="apportionmentperiod",
            name="plan",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="periods",
                to="members.plan",
                verbose_name="plan",
            ),
        ),
        migrations.AlterField(
            model_name="apportionmentperiod",
            name="posted_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="posted at"),
        ),
        migrations.AlterField(
            model_name="apportionmentperiod",
            name="previous_period",
            field=models.ForeignKey(
                blank=True,
                help_text="The earlier period of the same year whose bills carry the year to date.",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="billing.apportionmentperiod",
                verbose_name="previous period",
            ),
        ),
        migrations.AlterField(
            model_name="apportionmentperiod",
            name="sponsor_fen",
            field=models.BigIntegerField(default=0, verbose_name="covered by the sponsor (fen)"),
        ),
        migrations.AlterField(
            model_name="apportionmentperiod",
            name="yearly_cap_fen",
            field=models.BigIntegerField(blank=True, null=True, verbose_name="yearly cap (fen)"),
        ),
        migrations.AlterField(
            model_name="periodcase",
            name="members_count",
            field=models.BigIntegerField(default=0, verbose_name="sharers"),
        ),
        migrations.AlterField(
            model_name="periodchunk",
            name="charged_fen",
            field=models.BigIntegerField(default=0, verbose_name="charged to members (fen)"),
        ),
        migrations.AlterField(
            model_name="periodchunk",
            name="max_charged_fen",
            field=models.BigIntegerField(default=0, verbose_name="largest charge (fen)"),
        ),
        migrations.AlterField(
            model_name="periodcohort",
            name="joined_before",
            field=models.DateTimeField(blank=True, null=True, verbose_name="joined before"),
        ),
        migrations.AlterField(
            model_name="periodcohort",
            name="members_count",
            field=models.BigIntegerField(verbose_name="members"),
        ),
        migrations.AlterField(
            model_name="promotion",
            name="cases_before",
            field=models.DateTimeField(verbose_name="cases before"),
        ),
        migrations.AlterField(
            model_name="promotion",
            name="joined_before",
            field=models.DateTimeField(verbose_name="joined before"),
        ),
        migrations.AlterField(
            model_name="promotion",
            name="name",
            field=models.CharField(max_length=120, verbose_name="name"),
        ),
        migrations.AlterField(
            model_name="promotion",
            name="plan",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="promotions",
                to="members.plan",
                verbose_name="plan",
            ),
        ),
    ]
