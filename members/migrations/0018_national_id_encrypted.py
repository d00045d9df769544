"""National ids encrypted at rest (issue 22): the column holds Fernet tokens, and a blind index
(an HMAC of the normalised id) beside it answers exact search and keeps a person unique. Here
only the schema: the column becomes text (no rewrite from varchar), its unique constraint and
upper-case index go, the index column comes, empty. 0019 fills it in batches; 0020 makes it
unique and required without a long lock."""

from django.db import migrations

import mutual.core.personal_data


class Migration(migrations.Migration):
    dependencies = [
        ("members", "0017_more_field_names"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="member",
            name="member_national_id_upper",
        ),
        migrations.AlterField(
            model_name="member",
            name="national_id",
            field=mutual.core.personal_data.EncryptedCharField(
                max_length=32, verbose_name="national id"
            ),
        ),
        migrations.AddField(
            model_name="member",
            name="national_id_index",
            field=mutual.core.personal_data.BlindIndexField(
                null=True, of="national_id", verbose_name="national id's blind index"
            ),
        ),
    ]
