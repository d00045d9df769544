"""The blind index unique and required, without holding the table's lock through a scan: the
unique index is built concurrently and then taken by the constraint; NOT NULL is proved by a
CHECK validated under a lock that lets rows be read and written, which SET NOT NULL then uses
instead of scanning."""

from django.db import migrations

import mutual.core.personal_data

FORWARD = [
    "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS members_member_national_id_index_uniq"
    " ON members_member (national_id_index)",
    "ALTER TABLE members_member ADD CONSTRAINT members_member_national_id_index_uniq"
    " UNIQUE USING INDEX members_member_national_id_index_uniq",
    "ALTER TABLE members_member ADD CONSTRAINT members_member_national_id_index_nn"
    " CHECK (national_id_index IS NOT NULL) NOT VALID",
    "ALTER TABLE members_member VALIDATE CONSTRAINT members_member_national_id_index_nn",
    "ALTER TABLE members_member ALTER COLUMN national_id_index SET NOT NULL",
    "ALTER TABLE members_member DROP CONSTRAINT members_member_national_id_index_nn",
]
BACKWARD = [
    "ALTER TABLE members_member ALTER COLUMN national_id_index DROP NOT NULL",
    "ALTER TABLE members_member DROP CONSTRAINT members_member_national_id_index_uniq",
]


def refuse_duplicates(apps, schema_editor):
    """Two records whose ids differ only in spaces or case are one person: say which, rather
    than leave a failed index behind."""
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT array_agg(id ORDER BY id) FROM members_member"
            " GROUP BY national_id_index HAVING count(*) > 1 LIMIT 20"
        )
        groups = [row[0] for row in cursor.fetchall()]
    if groups:
        raise RuntimeError(
            "these member records share one national id (spaces and case aside) and must be "
            f"merged before the id can be unique: {groups}"
        )


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("members", "0019_national_id_sealed"),
    ]

    operations = [
        migrations.RunPython(refuse_duplicates, migrations.RunPython.noop, elidable=False),
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunSQL(FORWARD, BACKWARD)],
            state_operations=[
                migrations.AlterField(
                    model_name="member",
                    name="national_id_index",
                    field=mutual.core.personal_data.BlindIndexField(
                        of="national_id", unique=True, verbose_name="national id's blind index"
                    ),
                ),
            ],
        ),
    ]
