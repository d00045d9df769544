"""Members read their claim's history, and it said "assigned to <the investigator's username>"
(issue 18, defect 11). Earlier rows are rewritten to name the role; the admin still shows who
was assigned (the claim's investigator) and who assigned (the log row's `by`)."""

from django.db import migrations


def anonymise(apps, schema_editor):
    StateLog = apps.get_model("django_fsm_log", "StateLog")
    ContentType = apps.get_model("contenttypes", "ContentType")
    claim_type = ContentType.objects.filter(app_label="claims", model="claim").first()
    if claim_type is None:
        return
    StateLog.objects.filter(
        content_type=claim_type,
        transition="start_investigation",
        description__startswith="assigned to ",
    ).update(description="assigned to an investigator")


class Migration(migrations.Migration):
    dependencies = [
        ("claims", "0005_finance_sees_no_evidence"),
        ("django_fsm_log", "0005_description_null"),
    ]

    operations = [migrations.RunPython(anonymise, migrations.RunPython.noop)]
