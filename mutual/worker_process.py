"""Start a real Celery worker process against this process's database and Redis, and wait
until it answers a ping. Used by the benchmark command and the test suite."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def current_database_url() -> str:
    """The database this process uses *now* (a test database included), as a URL."""
    db = connection.settings_dict
    host = quote(db["HOST"], safe="") if db["HOST"].startswith("/") else db["HOST"]
    password = f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else ""
    return f"postgresql://{db['USER']}{password}@{host}:{db['PORT'] or 5432}/{db['NAME']}"


def start_worker(
    *, concurrency: int = 2, name: str = "worker", extra_env: dict[str, str] | None = None
) -> subprocess.Popen:
    from mutual.celery import app

    env = {
        **os.environ,
        "DATABASE_URL": current_database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "MUTUAL_CELERY_QUEUE": settings.CELERY_TASK_DEFAULT_QUEUE,
        **(extra_env or {}),
    }
    settings.MUTUAL_DATA_DIR.mkdir(parents=True, exist_ok=True)
    log_path = settings.MUTUAL_DATA_DIR / f"worker-{name}.log"
    hostname = f"{name}-{os.getpid()}"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "mutual",
                "worker",
                "--loglevel=INFO",
                f"--concurrency={concurrency}",
                f"--hostname={hostname}@%h",
                "--without-gossip",
                "--without-mingle",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    # A loaded 2-core machine (a browser test beside it) can take a minute to import Django
    # and Celery: two minutes before we give up.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        replies = app.control.ping(timeout=0.5)
        if any(host.startswith(f"{hostname}@") for reply in replies for host in reply):
            return process
    process.kill()
    raise RuntimeError(f"Celery worker did not start; see {log_path}")


def stop_worker(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
