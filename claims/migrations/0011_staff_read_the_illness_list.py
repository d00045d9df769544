"""Every staff role reads the plans' lists of covered conditions (a claim is judged by them);
changing one is a plan rule, for those who may change plans (superusers by default)."""

from django.db import migrations

from mutual.core.roles import grant

VIEW = ["claims.view_condition", "claims.view_historicalcondition"]


class Migration(migrations.Migration):
    dependencies = [("claims", "0010_conditions_and_claimants")]

    operations = [
        migrations.RunPython(
            lambda apps, editor: grant(
                apps, editor, {"investigator": VIEW, "reviewer": VIEW, "finance": VIEW}
            ),
            migrations.RunPython.noop,
        )
    ]
