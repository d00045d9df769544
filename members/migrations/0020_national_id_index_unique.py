"""The blind index unique and required, without holding the table's lock through a scan: the
unique index is built concurrently and then taken by the constraint; NOT NULL is proved by a
CHECK validated under a lock that lets rows be read and written, which SET NOT NULL then uses
instead of scanning."""

from django.db import migrations

import mutual.core.personal_data

# Each statement commits on its own (this migration is not atomic), and each may be run
# again after a stop: the index, the constraints and NOT NULL are made only if missing.
FORWARD = [
    "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS members_member_national_id_index_uniq"
    " ON members_member (national_id_index)",
    """DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint
                    WHERE conname = 'members_member_national_id_index_uniq') THEN
        ALTER TABLE members_member ADD CONSTRAINT members_member_national_id_index_uniq
            UNIQUE USING INDEX members_member_national_id_index_uniq;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_constraint
                    WHERE conname = 'members_member_national_id_index_nn') THEN
        ALTER TABLE members_member ADD CONSTRAINT members_member_national_id_index_nn
            CHECK (national_id_index IS NOT NULL) NOT VALID;
    END IF;
    END $$""",
    "ALTER TABLE members_member VALIDATE CONSTRAINT members_member_national_id_index_nn",
    "ALTER TABLE members_member ALTER COLUMN national_id_index SET NOT NULL",
    "ALTER TABLE members_member DROP CONSTRAINT IF EXISTS members_member_national_id_index_nn",
]
BACKWARD = [
    "ALTER TABLE members_member ALTER COLUMN national_id_index DROP NOT NULL",
    "ALTER TABLE members_member DROP CONSTRAINT members_member_national_id_index_uniq",
]


def refuse_duplicates(apps, schema_editor):
    """Before the index: a record with no blind index (written by an older process during
    the deploy) or two records whose ids differ only in spaces or case (one person) are
    named, rather than leave a failed index behind; an invalid index left by a stopped run
    is dropped, to be built again."""
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM members_member WHERE national_id_index IS NULL"
            " OR national_id_index LIKE 'clear:%%'"
        )
        (unsealed,) = cursor.fetchone()
        if unsealed:
            raise RuntimeError(
                f"{unsealed} member records have no blind index yet (written during the "
                "deploy by an older process): run `manage.py rotate_field_keys`, which seals "
                "them, then migrate again"
            )
        cursor.execute(
            "SELECT array_agg(id ORDER BY id) FROM members_member"
            " GROUP BY national_id_index HAVING count(*) > 1 LIMIT 20"
        )
        groups = [row[0] for row in cursor.fetchall()]
        if groups:
            raise RuntimeError(
                "these member records share one national id (spaces and case aside) and must "
                f"be merged before the id can be unique: {groups}"
            )
        cursor.execute(
            "SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE c.relname = 'members_member_national_id_index_uniq' AND NOT i.indisvalid"
        )
        if cursor.fetchone():
            cursor.execute("DROP INDEX CONCURRENTLY members_member_national_id_index_uniq")


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
