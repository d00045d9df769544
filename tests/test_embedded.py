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
