"""Evidence files move from the web host's disk into PostgreSQL, encrypted (issue 22;
claims/storage.py): every host reads them, and no medical record lies on a disk in clear.
The files under MEDIA_ROOT are copied in batches of their own transactions (this migration
is not atomic), each batch's files deleted from disk once it has committed; a file already
copied is skipped, so a run that stopped is taken up. A file missing from disk stays missing
(`verify_evidence` names it)."""

from pathlib import Path

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

import claims.models.evidence


def copy_from_disk(apps, schema_editor):
    from claims.storage import files_copy_from_disk

    files_copy_from_disk(
        root=Path(settings.MEDIA_ROOT),
        documents=apps.get_model("claims", "EvidenceDocument"),
        files=apps.get_model("claims", "StoredFile"),
        chunks=apps.get_model("claims", "StoredChunk"),
    )


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("claims", "0022_medical_text_encrypted"),
    ]

    operations = [
        migrations.CreateModel(
            name="StoredFile",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=200, unique=True, verbose_name="name")),
                ("size", models.PositiveBigIntegerField(verbose_name="size (bytes)")),
                ("chunks", models.PositiveIntegerField(verbose_name="chunks")),
                ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="stored at")),
            ],
            options={
                "verbose_name": "stored file",
                "verbose_name_plural": "stored files",
            },
        ),
        migrations.AlterField(
            model_name="evidencedocument",
            name="file",
            field=models.FileField(
                max_length=200,
                storage=claims.models.evidence.evidence_storage,
                upload_to=claims.models.evidence.evidence_upload_to,
                verbose_name="file",
            ),
        ),
        migrations.CreateModel(
            name="StoredChunk",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("number", models.PositiveIntegerField()),
                ("token", models.BinaryField()),
                (
                    "file",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="claims.storedfile",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("file", "number"), name="one_chunk_per_number")
                ],
            },
        ),
        migrations.RunPython(copy_from_disk, elidable=False),
    ]
