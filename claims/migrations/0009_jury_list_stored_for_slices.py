"""The jury's eligible list is served a page (a slice of the value) at a time: stored out of
line and never compressed, PostgreSQL reads only the slice asked for. Random pseudonyms do not
compress anyway; this makes it certain. Applies to lists written from now on."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("claims", "0008_claim_incident_time")]

    operations = [
        migrations.RunSQL(
            "ALTER TABLE claims_jurydraw ALTER COLUMN eligible SET STORAGE EXTERNAL",
            "ALTER TABLE claims_jurydraw ALTER COLUMN eligible SET STORAGE EXTENDED",
        )
    ]
