from django.db import migrations

from mutual.core.roles import beat_entry, grant

STAFF_VIEW = [
    "claims.view_claim",
    "claims.view_evidencedocument",
    "claims.view_dispute",
    "claims.view_juryseat",
    "members.view_member",
    "members.view_membership",
    "members.view_plan",
]
GRANTS = {
    "investigator": STAFF_VIEW
    + ["claims.investigate_claim", "claims.publicize_claim", "claims.add_evidencedocument"],
    "reviewer": STAFF_VIEW
    + ["claims.investigate_claim", "claims.publicize_claim", "claims.decide_claim"],
    "finance": STAFF_VIEW + ["claims.pay_claim", "members.change_membership"],
}


def forwards(apps, schema_editor):
    grant(apps, schema_editor, GRANTS)
    beat_entry(
        apps,
        name="Close due publicity windows",
        task="claims.tasks.close_publicity_windows",
        every=1,
        period="minutes",
    )


APPEND_ONLY = """
CREATE FUNCTION claims_evidence_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'evidence documents are append-only (% refused)', TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END $$;
CREATE TRIGGER claims_evidence_append_only
    BEFORE UPDATE OR DELETE ON claims_evidencedocument
    FOR EACH ROW EXECUTE FUNCTION claims_evidence_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("claims", "0001_initial"),
        ("members", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RunPython(forwards, migrations.RunPython.noop),
        migrations.RunSQL(
            APPEND_ONLY,
            "DROP TRIGGER claims_evidence_append_only ON claims_evidencedocument;"
            "DROP FUNCTION claims_evidence_append_only();",
        ),
    ]
