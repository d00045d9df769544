"""The Procfile's web process: gunicorn with whitenoise, in production mode (DEBUG off, static
files collected at start), and the demo's static files with DEBUG on without collecting."""

import os
import re
import shlex
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STRONG_KEY = "k3y-" + "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str, **headers: str):
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_the_procfile_web_process_is_gunicorn_after_collectstatic():
    procfile = dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines())
    assert "collectstatic --noinput" in procfile["web"]
    assert "gunicorn --config mutual/gunicorn_conf.py" in procfile["web"]
    assert "runserver" in (ROOT / "Procfile.dev").read_text()


def test_gunicorn_reads_workers_and_timeout_from_the_environment():
    code = "import runpy; c = runpy.run_path('mutual/gunicorn_conf.py'); "
    code += "print(c['workers'], c['timeout'], c['bind'])"
    env = {**os.environ, "WEB_CONCURRENCY": "7", "GUNICORN_TIMEOUT": "45", "PORT": "8123"}
    env.pop("GUNICORN_BIND", None)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True)
    assert out.stdout.decode().split() == ["7", "45", "127.0.0.1:8123"]


@pytest.mark.django_db
def test_the_production_web_process_serves_the_admin_and_its_static_files(tmp_path):
    """DEBUG off and a real key, as in production: the Procfile's command itself is run, so
    static files are collected into a fresh STATIC_ROOT and served compressed by whitenoise."""
    port = _free_port()
    web = dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines())["web"]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "mutual.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": STRONG_KEY,
        "MUTUAL_LEAF_KEY": "k" * 43,
        "MUTUAL_SIGNING_KEY": "ab" * 32,
        "MUTUAL_FIELD_KEYS": "f" * 43,
        "MUTUAL_BLIND_INDEX_KEY": "i" * 43,
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
        "GUNICORN_ACCESS_LOG": "",
    }
    # The embedded servers live under MUTUAL_DATA_DIR: keep the tests' own, and collect into a
    # static root of our own (STATIC_ROOT follows MUTUAL_DATA_DIR, so point the whole process at
    # the same servers through their URLs).
    from django.conf import settings

    db = settings.DATABASES["default"]
    env["DATABASE_URL"] = (
        f"postgresql://{db['USER']}@/{db['NAME']}?host={db['HOST']}&port={db['PORT']}"
    )
    env["REDIS_URL"] = settings.REDIS_URL
    env["MUTUAL_DATA_DIR"] = str(tmp_path)
    process = subprocess.Popen(
        ["bash", "-c", web], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                status, _, body = _get(f"{base}/admin/login/")
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(process.stdout.read().decode()[-3000:]) from None
                time.sleep(0.3)
        assert status == 200
        css = re.search(rb'href="(/static/admin/css/base[^"]*\.css)"', body).group(1).decode()
        assert (tmp_path / "static" / "admin" / "css" / "base.css").exists()  # collected
        status, headers, _ = _get(f"{base}{css}", **{"Accept-Encoding": "gzip"})
        assert status == 200 and headers["Content-Type"].startswith("text/css")
        assert headers.get("Content-Encoding") == "gzip"
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.django_db
def test_with_debug_on_static_files_are_found_without_collecting(client, settings):
    # tests/settings.py reads the settings as `make run` does (DJANGO_DEBUG=1): finders on.
    assert settings.WHITENOISE_USE_FINDERS
    response = client.get("/static/admin/css/base.css")
    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"/*")


def test_make_run_and_make_dev_share_the_preparation():
    makefile = (ROOT / "Makefile").read_text()
    assert shlex.split(re.search(r"^run: prepare\n\t(.*)$", makefile, re.M).group(1))[-1] == "start"
    assert re.search(r"^dev: prepare\n\t.*honcho -f Procfile.dev start$", makefile, re.M)
