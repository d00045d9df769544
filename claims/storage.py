"""Where evidence files live: PostgreSQL, encrypted (claims/models/stored_files.py).

Why PostgreSQL and not an S3 bucket: every web host already shares it, a file's bytes are
written in the transaction that appends its link to the chain (a rolled-back upload leaves
nothing behind, with no clean-up to get wrong), and one backup restored to a minute holds the
chain and its files together. No S3-compatible server can be installed here from the
registries (MinIO, Garage and SeaweedFS ship their own binaries; moto and s3rver are mocks),
and a storage tested only against a mock is not tested. STORAGES["evidence"] names the
backend, so a bucket (django-storages) can replace it without touching the evidence code.

The chain hashes the original bytes; what is stored is each 1 MiB chunk's Fernet token, under
the keys of personal data at rest (MUTUAL_FIELD_KEYS). Nothing has a URL: staff read a file
only through the access-logged view (claims.evidence.evidence_open)."""

from __future__ import annotations

import base64
import io

from cryptography.fernet import InvalidToken
from django.core.files import File
from django.core.files.storage import Storage
from django.db import transaction
from django.utils.deconstruct import deconstructible

from claims.models.stored_files import StoredChunk, StoredFile
from mutual.core.personal_data import UnreadableToken, fernet, newest_fernet

CHUNK = 1024 * 1024


def _seal(data: bytes) -> bytes:
    return base64.urlsafe_b64decode(fernet().encrypt(data))


def _open(token: bytes) -> bytes:
    return fernet().decrypt(base64.urlsafe_b64encode(token))


def _write(name: str, source, *, files, chunks) -> None:
    """`source`'s bytes stored as `name`, a sealed chunk at a time (the models are passed: the
    migration's are its historical ones)."""
    stored = files.objects.create(name=name, size=0, chunks=0)
    size = number = 0
    for data in iter(lambda: source.read(CHUNK), b""):
        chunks.objects.create(file=stored, number=number, token=_seal(data))
        size, number = size + len(data), number + 1
    files.objects.filter(pk=stored.pk).update(size=size, chunks=number)


class _ChunkReader(io.RawIOBase):
    """A stored file read a chunk at a time (one query each), decrypted as it is read."""

    def __init__(self, stored: StoredFile):
        self._file_id, self._size, self._chunks = stored.pk, stored.size, stored.chunks
        self._position = 0
        self._number, self._plain = -1, b""

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, buffer) -> int:
        if self._position >= self._size:
            return 0
        number, within = divmod(self._position, CHUNK)
        if number != self._number:
            token = (
                StoredChunk.objects.filter(file_id=self._file_id, number=number)
                .values_list("token", flat=True)
                .get()
            )
            self._number, self._plain = number, _open(bytes(token))
        piece = self._plain[within : within + len(buffer)]
        buffer[: len(piece)] = piece
        self._position += len(piece)
        return len(piece)


@deconstructible
class DatabaseStorage(Storage):
    def _save(self, name: str, content) -> str:
        if hasattr(content, "seek"):
            content.seek(0)
        with transaction.atomic():
            _write(name, content, files=StoredFile, chunks=StoredChunk)
        return name

    def _open(self, name: str, mode: str = "rb") -> File:
        if "w" in mode or "a" in mode or "+" in mode:
            raise ValueError("evidence files are written once, by the evidence service")
        stored = StoredFile.objects.filter(name=name).first()
        if stored is None:
            raise FileNotFoundError(name)
        return File(io.BufferedReader(_ChunkReader(stored), buffer_size=CHUNK), name=name)

    def exists(self, name: str) -> bool:
        return StoredFile.objects.filter(name=name).exists()

    def delete(self, name: str) -> None:
        StoredFile.objects.filter(name=name).delete()

    def size(self, name: str) -> int:
        stored = StoredFile.objects.filter(name=name).first()
        if stored is None:
            raise FileNotFoundError(name)
        return stored.size

    def url(self, name: str) -> str:
        raise NotImplementedError("evidence is served only through the access-logged view")


def stored_chunks_rotate(*, batch: int = 32) -> int:
    """Re-encrypt under the newest key every chunk it does not open yet, `batch` chunks (of
    up to 1 MiB each: memory is bounded by it) per transaction, resumable by running again.
    Returns the chunks re-encrypted."""
    newest, every = newest_fernet(), fernet()
    rotated, after = 0, 0
    while True:
        ids = list(
            StoredChunk.objects.filter(pk__gt=after)
            .order_by("pk")
            .values_list("pk", flat=True)[:batch]
        )
        if not ids:
            return rotated
        with transaction.atomic():
            for pk, raw in (
                StoredChunk.objects.select_for_update()
                .filter(pk__in=ids)
                .values_list("pk", "token")
            ):
                token = base64.urlsafe_b64encode(bytes(raw))
                try:
                    newest.decrypt(token)
                    continue
                except InvalidToken:
                    pass
                try:
                    new = every.rotate(token)
                except InvalidToken:
                    raise UnreadableToken(f"claims_storedchunk #{pk}: no key opens it") from None
                StoredChunk.objects.filter(pk=pk).update(token=base64.urlsafe_b64decode(new))
                rotated += 1
        after = ids[-1]


def files_copy_from_disk(*, root, documents=None, files=None, chunks=None, batch: int = 100):
    """Copy the evidence files under `root` (a host's old MEDIA_ROOT) into the store, in
    batches of their own transactions, deleting each batch's files from disk once it has
    committed; a file already stored is skipped. Models are passed by the migration (its
    historical ones). Returns {"copied", "already", "missing"} (the missing ones' ids, first
    100: they may be on another host's disk)."""
    from pathlib import Path

    from claims.models import EvidenceDocument

    documents, files, chunks = (
        documents or EvidenceDocument,
        files or StoredFile,
        chunks or StoredChunk,
    )
    root, after = Path(root), 0
    report = {"copied": 0, "already": 0, "missing": []}
    while names := list(
        documents.objects.filter(pk__gt=after).order_by("pk").values_list("pk", "file")[:batch]
    ):
        copied = []
        with transaction.atomic():
            for pk, name in names:
                path = root / name
                if files.objects.filter(name=name).exists():
                    report["already"] += 1
                    continue
                if not path.is_file():
                    report["missing"].append(pk)
                    continue
                with path.open("rb") as source:
                    _write(name, source, files=files, chunks=chunks)
                copied.append(path)
        for path in copied:
            path.unlink(missing_ok=True)
        report["copied"] += len(copied)
        after = names[-1][0]
    report["missing"] = report["missing"][:100]
    return report
