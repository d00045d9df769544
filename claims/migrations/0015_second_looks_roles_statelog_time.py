"""Who reads the second looks (appeals, signals, the audit sample, the desk policies)."""

from django.db import migrations

from mutual.core.roles import grant

SEE = ["claims.view_appeal", "claims.view_claimsignal", "claims.view_claimaudit",
       "claims.view_deskpolicy"]  # fmt: skip
GRANTS = {
    "reviewer": SEE,
    "supervisor": [*SEE, "claims.change_deskpolicy"],
    "investigator": ["claims.view_claimsignal"],
}


class Migration(migrations.Migration):
    dependencies = [("claims", "0014_second_looks")]

    operations = [
        migrations.RunPython(
            lambda apps, editor: grant(apps, editor, GRANTS), migrations.RunPython.noop
        ),
    ]
