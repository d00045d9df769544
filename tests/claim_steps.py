"""Walk a claim through its lifecycle with the real services, for tests that start later on."""

import contextlib
import datetime

from django.core.files.uploadedfile import SimpleUploadedFile

from claims import evidence, services

PDF = b"%PDF-1.4\n% test document\n"


def image(kind: str = "PNG", size: tuple[int, int] = (4, 3)) -> bytes:
    """A real, tiny image file (Pillow checks evidence images)."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, kind)
    return buffer.getvalue()


def png_declaring(width: int, height: int) -> bytes:
    """A well-formed PNG header declaring `width` x `height` pixels, with almost no data: a
    pixel flood (decompression bomb) for whoever decodes it."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0"))
        + chunk(b"IEND", b"")
    )


def pdf(name: str = "report.pdf", body: bytes = b"") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, PDF + body, content_type="application/pdf")


def to_investigating(claim, *, investigator, now):
    return services.claim_start_investigation(
        claim_id=claim.pk, investigator_id=investigator.pk, by=investigator, now=now
    )


def to_publicized(claim, *, investigator, now):
    to_investigating(claim, investigator=investigator, now=now)
    # A reviewer may investigate, but only an investigator uploads evidence (issue 10).
    if investigator.has_perm("claims.add_evidencedocument"):
        evidence.evidence_append(
            claim_id=claim.pk, kind="investigation_report", upload=pdf(), by=investigator, now=now
        )
    services.claim_record_investigation(
        claim_id=claim.pk, summary="visited hospital and family", by=investigator, now=now
    )
    return services.claim_publicize(claim_id=claim.pk, by=investigator, now=now)


def after_window(claim) -> datetime.datetime:
    return claim.publicity_ends_at + datetime.timedelta(seconds=1)


def dispute_by_a_fellow_member(claim, *, now):
    from claims.disputes import dispute_raise
    from tests.factories import MembershipFactory

    fellow = MembershipFactory(plan=claim.plan)
    return dispute_raise(claim_id=claim.pk, member_id=fellow.member_id, reason="doubt", now=now)


def to_disputed(claim, *, investigator, now):
    """Publicized, disputed by another member, then the window closed into review."""
    claim = to_publicized(claim, investigator=investigator, now=now)
    dispute_by_a_fellow_member(claim, now=now)
    services.claims_close_due_windows(now=after_window(claim))
    claim.refresh_from_db()
    return claim


def draw_jury(claim, *, now) -> int:
    """The jury draw the window closer hands to the workers (claims.tasks.draw_jury), run
    here as a worker runs it."""
    from claims.tasks import draw_jury as task

    return task.apply(args=[claim.pk, now.isoformat()]).get()


@contextlib.contextmanager
def tasks_in_this_process():
    """Draws sent inside the block (claims.tasks.draw_jury.delay, as a commit or beat sends
    them) are recorded instead of queued, then run here once the block ends, one by one as a
    worker runs them (`apply`: this process, the errors raised). Not Celery's eager mode:
    nothing runs at the moment it is sent, so a test sees the state in between."""
    from unittest import mock

    from claims.tasks import draw_jury

    sent: list[tuple] = []
    with mock.patch.object(draw_jury, "delay", lambda *args: sent.append(args)):
        yield sent
    for args in sent:
        draw_jury.apply(args=args).get()
