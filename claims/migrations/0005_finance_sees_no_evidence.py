"""Finance pays claims and reads periods; it has no need to open medical records (issue 18,
defect 10: finance opened an evidence PDF). The claim itself stays visible to finance."""

from django.db import migrations


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    finance = Group.objects.filter(name="finance").first()
    evidence = Permission.objects.filter(
        content_type__app_label="claims", codename="view_evidencedocument"
    ).first()
    if finance is not None and evidence is not None:
        finance.permissions.remove(evidence)


class Migration(migrations.Migration):
    dependencies = [
        ("claims", "0004_jury_draw_enqueued_at"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(revoke, migrations.RunPython.noop)]
