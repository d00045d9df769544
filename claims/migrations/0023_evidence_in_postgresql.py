"""Evidence files move from the web host's disk into PostgreSQL, encrypted (issue 22;
claims/storage.py): every host reads them, and no medical record lies on a disk in clear.
The files under MEDIA_ROOT are copied in batches of their own transactions (this migration
is not atomic), each batch's files deleted from disk once it has committed; a file already
copied is skipped, so a run that stopped is taken up. A file missing from disk stays missing
(`verify_evidence` names it)."""

from pathlib import Path

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models, transaction

import claims.models.evidence

BATCH = 100


def copy_from_disk(apps, schema_editor):
    from claims.storage import CHUNK, _seal

    Document = apps.get_model("claims", "EvidenceDocument")
    StoredFile = apps.get_model("claims", "StoredFile")
    StoredChunk = apps.get_model("claims", "StoredChunk")
    root = Path(settings.MEDIA_ROOT)
    after = 0
    while True:
        names = list(
            Document.objects.filter(pk__gt=after).order_by("pk").values_list("pk", "file")[:BATCH]
        )
        if not names:
            return
        copied = []
        with transaction.atomic():
            for _, name in names:
                path = root / name
                if not path.is_file() or StoredFile.objects.filter(name=name).exists():
                    continue
                stored = StoredFile.objects.create(name=name, size=0, chunks=0)
                size = number = 0
                with path.open("rb") as source:
                    for data in iter(lambda source=source: source.read(CHUNK), b""):
                        StoredChunk.objects.create(file=stored, number=number, token=_seal(data))
                        size, number = size + len(data), number + 1
                StoredFile.objects.filter(pk=stored.pk).update(size=size, chunks=number)
                copied.append(path)
        for path in copied:
            path.unlink(missing_ok=True)
        after = names[-1][0]


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
