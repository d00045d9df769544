"""Recoveries of payouts (billing.Recovery) carry a reason of their own kind."""

from django.db import migrations, models

REASONS = [
    ("fraud_found", "recovery", "The claim was found fraudulent after it was paid: the payout is recovered.", "该申请在互助金发放后被查实存在欺诈，已追回互助金。"),
    ("misstatement_found", "recovery", "A misstatement was found after the claim was paid: the payout is recovered.", "互助金发放后发现不实陈述，已追回互助金。"),
    ("paid_in_error", "recovery", "The payout was made in error and is recovered.", "互助金误发，已追回。"),
]  # fmt: skip


def forwards(apps, schema_editor):
    reason_model = apps.get_model("claims", "Reason")
    for code, kind, text_en, text_zh in REASONS:
        reason_model.objects.get_or_create(
            code=code, defaults={"kind": kind, "text_en": text_en, "text_zh": text_zh}
        )


class Migration(migrations.Migration):
    dependencies = [
        ("claims", "0017_appeal_pending"),
    ]

    operations = [
        migrations.AlterField(
            model_name="reason",
            name="kind",
            field=models.CharField(
                choices=[
                    ("refusal", "refusal"),
                    ("withdrawal", "withdrawal"),
                    ("pend", "pend (waiting on the claimant)"),
                    ("reopen", "reopening"),
                    ("reassign", "reassignment"),
                    ("recovery", "recovery of a payout"),
                ],
                max_length=16,
                verbose_name="kind",
            ),
        ),
        migrations.RunPython(forwards, migrations.RunPython.noop),
    ]
