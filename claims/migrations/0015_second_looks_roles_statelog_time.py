"""Who reads the second looks (appeals, signals, the audit sample, the desk policies), and an
index on the state log's time for the desk's 30-day figures (built CONCURRENTLY: the log has a
row per transition of every claim, and writes go on meanwhile)."""

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
    atomic = False
    dependencies = [
        ("claims", "0014_second_looks"),
        ("django_fsm_log", "0005_description_null"),
    ]

    operations = [
        migrations.RunPython(
            lambda apps, editor: grant(apps, editor, GRANTS), migrations.RunPython.noop
        ),
        migrations.RunSQL(
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS statelog_time "
            "ON django_fsm_log_statelog (timestamp)",
            "DROP INDEX CONCURRENTLY IF EXISTS statelog_time",
        ),
    ]
