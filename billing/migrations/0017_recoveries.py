"""Recovered payouts: the rows (append-only, like the ledger), the period's and each case's
share of them, and finance's right to record one."""

import django.db.models.deletion
import django.db.models.expressions
from django.conf import settings
from django.db import migrations, models

from mutual.core.roles import grant

GUARD = """
CREATE TRIGGER billing_recovery_append_only BEFORE UPDATE OR DELETE ON billing_recovery
    FOR EACH ROW EXECUTE FUNCTION billing_ledger_append_only();
"""
UNDO = "DROP TRIGGER billing_recovery_append_only ON billing_recovery;"
GRANTS = {
    "finance": ["billing.view_recovery", "billing.add_recovery"],
    "supervisor": ["billing.view_recovery"],
}


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0016_period_enqueued_and_retried_by"),
        ("claims", "0018_reason_kind_recovery"),
        ("members", "0015_notices_move_to_their_app"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Recovery",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("amount_fen", models.BigIntegerField(verbose_name="amount recovered (fen)")),
                (
                    "note",
                    models.TextField(
                        help_text="What was found, and how the money came back.",
                        verbose_name="note",
                    ),
                ),
                ("recorded_at", models.DateTimeField(verbose_name="recorded at")),
            ],
            options={
                "verbose_name": "recovery",
                "verbose_name_plural": "recoveries",
                "ordering": ["-recorded_at", "-id"],
            },
        ),
        migrations.AddField(
            model_name="apportionmentperiod",
            name="recovered_fen",
            field=models.BigIntegerField(default=0, verbose_name="recovered payouts spent"),
        ),
        migrations.AddField(
            model_name="periodcase",
            name="recovered_fen",
            field=models.BigIntegerField(default=0),
        ),
        migrations.AlterField(
            model_name="account",
            name="role",
            field=models.CharField(
                choices=[
                    ("receivable", "members' receivable"),
                    ("sponsor", "sponsor cover"),
                    ("fund", "mutual-aid fund"),
                    ("fee_income", "management fee income"),
                    ("payable", "claim payables"),
                    ("clearing", "apportionment clearing"),
                    ("cash", "cash at the payment gateway"),
                    ("recovered", "recovered payouts owed to members"),
                ],
                max_length=16,
                verbose_name="role",
            ),
        ),
        migrations.AddConstraint(
            model_name="periodcase",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("recovered_fen__gte", 0),
                    (
                        "recovered_fen__lte",
                        django.db.models.expressions.CombinedExpression(
                            models.F("amount_fen"), "+", models.F("fee_fen")
                        ),
                    ),
                ),
                name="case_recovered_within_its_total",
            ),
        ),
        migrations.AddField(
            model_name="recovery",
            name="claim",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="recoveries",
                to="claims.claim",
            ),
        ),
        migrations.AddField(
            model_name="recovery",
            name="plan",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="recoveries",
                to="members.plan",
            ),
        ),
        migrations.AddField(
            model_name="recovery",
            name="posting",
            field=models.OneToOneField(
                on_delete=django.db.models.deletion.PROTECT, related_name="+", to="billing.posting"
            ),
        ),
        migrations.AddField(
            model_name="recovery",
            name="reason",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                to="claims.reason",
                verbose_name="reason",
            ),
        ),
        migrations.AddField(
            model_name="recovery",
            name="recorded_by",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
                verbose_name="recorded by",
            ),
        ),
        migrations.AddIndex(
            model_name="recovery",
            index=models.Index(fields=["plan", "recorded_at"], name="recovery_plan_time"),
        ),
        migrations.AddConstraint(
            model_name="recovery",
            constraint=models.CheckConstraint(
                condition=models.Q(("amount_fen__gt", 0)), name="recovery_is_positive"
            ),
        ),
        migrations.RunSQL(GUARD, UNDO),
        migrations.RunPython(
            lambda apps, editor: grant(apps, editor, GRANTS), migrations.RunPython.noop
        ),
    ]
