"""Evidence on any number of web hosts (issue 22): a member uploads a document through one
production web process; an investigator reads it through another, with its own
MUTUAL_DATA_DIR (so nothing is shared but PostgreSQL and Redis). Neither host's disk holds
the file, and the database holds only ciphertext that this test process, without the hosts'
keys, cannot open."""

import os
import re
import secrets
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests
from cryptography.fernet import InvalidToken
from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.test import override_settings

from claims.models import EvidenceDocument, StoredChunk
from tests.claim_steps import PDF
from tests.factories import ClaimFactory, MembershipFactory

ROOT = Path(__file__).resolve().parent.parent
DOCUMENT = PDF + b"DISCHARGE SUMMARY: osteosarcoma of the left femur, resected"
PASSWORD = "a long and private password 7"
# The two hosts share these, as a deployment's hosts do; this test process has others.
KEYS = {
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
    "MUTUAL_FIELD_KEYS": secrets.token_urlsafe(32),
    "MUTUAL_BLIND_INDEX_KEY": secrets.token_urlsafe(32),
    "MUTUAL_LEAF_KEY": secrets.token_urlsafe(32),
    "MUTUAL_SIGNING_KEY": secrets.token_hex(32),
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_host(data_dir: Path) -> tuple[subprocess.Popen, str]:
    db = settings.DATABASES["default"]
    port = _free_port()
    env = {
        **os.environ,
        **KEYS,
        "DJANGO_SETTINGS_MODULE": "mutual.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DJANGO_SECURE_COOKIES": "false",
        "MUTUAL_STAFF_2FA": "false",
        "DATABASE_URL": f"postgresql://{db['USER']}@/{db['NAME']}?host={db['HOST']}"
        f"&port={db['PORT']}",
        "REDIS_URL": settings.REDIS_URL,
        "MUTUAL_DATA_DIR": str(data_dir),
        "PORT": str(port),
        "WEB_CONCURRENCY": "1",
        "GUNICORN_ACCESS_LOG": "",
    }
    process = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "--config", "mutual/gunicorn_conf.py"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            requests.get(f"{base}/healthz", timeout=5)
            return process, base
        except requests.ConnectionError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise AssertionError(process.stdout.read().decode()[-3000:]) from None
            time.sleep(0.3)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_document_uploaded_through_one_host_is_read_through_another(tmp_path, investigator):
    # The rows are written under the hosts' keys, as the hosts themselves would write them.
    hosts_keys = {
        "SALT_KEY": [KEYS["MUTUAL_FIELD_KEYS"]],
        "SECRET_KEY": KEYS["DJANGO_SECRET_KEY"],
        "MUTUAL_BLIND_INDEX_KEY": KEYS["MUTUAL_BLIND_INDEX_KEY"],
    }
    with override_settings(**hosts_keys):
        membership = MembershipFactory()
        member = membership.member.user
        for user in (member, investigator):  # hashed as production checks it
            user.password = PBKDF2PasswordHasher().encode(PASSWORD, "hosts" + user.username)
            user.save()
        claim = ClaimFactory(membership=membership)
    hosts = [start_host(tmp_path / "host-a"), start_host(tmp_path / "host-b")]
    try:
        (_, a), (_, b) = hosts
        token = requests.post(
            f"{a}/api/auth/token/", json={"username": member.username, "password": PASSWORD}
        ).json()
        token = token.get("token") or pytest.fail(str(token))
        uploaded = requests.post(
            f"{a}/api/claims/{claim.pk}/evidence/",
            headers={"Authorization": f"Token {token}"},
            data={"kind": "discharge_summary"},
            files={"file": ("summary.pdf", DOCUMENT, "application/pdf")},
        )
        assert uploaded.status_code == 201, uploaded.text
        document = EvidenceDocument.objects.get(claim=claim)

        staff = requests.Session()
        login = staff.get(f"{b}/admin/login/")
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text).group(1)
        staff.post(
            f"{b}/admin/login/?next=/admin/",
            data={"username": investigator.username, "password": PASSWORD,
                  "csrfmiddlewaretoken": csrf},
            headers={"Referer": f"{b}/admin/login/"},
        )  # fmt: skip
        read = staff.get(f"{b}/admin/claims/claim/{claim.pk}/evidence/{document.pk}/")
        assert read.status_code == 200, read.text[:2000]
        assert read.content == DOCUMENT
    finally:
        for process, _ in hosts:
            process.terminate()
            process.wait(timeout=30)
    # Nothing on either host's disk; in the database, ciphertext only, which opens with the
    # hosts' keys and not with this process's.
    on_disk = [p for p in tmp_path.rglob("*") if p.is_file() and "static" not in p.parts]
    assert not [p for p in on_disk if DOCUMENT[-20:] in p.read_bytes()]
    chunk = StoredChunk.objects.get(file__name=document.file.name)
    assert b"osteosarcoma" not in bytes(chunk.token)
    with pytest.raises(InvalidToken), document.file.open("rb") as stored:
        stored.read()
