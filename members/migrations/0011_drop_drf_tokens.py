"""DRF's tokens (rest_framework.authtoken) were stored in clear and never expired; members' tokens
are now django-rest-knox's (hashed, expiring, revocable: mutual/api_auth.py). The old table, left
behind when the app was uninstalled, is dropped with every token in it: members log in again."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("members", "0010_plan_billed_through")]

    operations = [
        migrations.RunSQL("DROP TABLE IF EXISTS authtoken_token CASCADE", migrations.RunSQL.noop)
    ]
