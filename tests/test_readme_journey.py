"""The README's member journey, run as printed (curl and jq) against a live server, at 23:30
UTC: the machine's date is then the day before Shanghai's, and claims are judged by
Shanghai's calendar (issue 21, item 8). The shell's `date` is a stand-in that tells the
chosen moment, as the server's clock does (time-machine)."""

import datetime
import os
import re
import shutil
import subprocess
import time

import pytest
import time_machine
from django.core.management import call_command

from tests.conftest import ROOT

MOMENT = datetime.datetime(2026, 12, 2, 23, 30, tzinfo=datetime.UTC)  # 07:30 on the 3rd, Shanghai
pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.skipif(not (shutil.which("curl") and shutil.which("jq")), reason="curl and jq"),
]


def journey() -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split("## A member's journey with curl", 1)[1]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)


def fake_date(folder, started: float) -> None:
    """`date` telling MOMENT (plus the seconds since the test started), in whatever zone and
    format it is asked for: the README's `TZ=Asia/Shanghai date +%F` among them."""
    real = shutil.which("date")
    script = folder / "date"
    script.write_text(
        "#!/bin/sh\n"
        f"now=$(( {int(MOMENT.timestamp())} + $({real} +%s) - {int(started)} ))\n"
        f'exec {real} -d "@$now" "$@"\n'
    )
    script.chmod(0o755)


def test_the_readme_journey_works_at_2330_utc(live_server, tmp_path, settings):
    settings.MUTUAL_STAFF_2FA = False
    (tmp_path / "bin").mkdir()
    fake_date(tmp_path / "bin", time.time())  # the real clock, before time-machine moves it
    with time_machine.travel(MOMENT, tick=True):
        call_command("seed_demo", "--members", "200", "--seed", "1")
        call_command("demo_admin")
        script = journey().replace("API=http://127.0.0.1:8000/api", f"API={live_server.url}/api", 1)
        env = {**os.environ, "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}", "TZ": "UTC"}
        done = subprocess.run(
            ["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, timeout=120
        )
    out = done.stdout.decode()
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert subprocess.run(["date", "+%F"], env=env, capture_output=True).stdout.decode().strip()
    # The daughter joined, the household lists her, the claim was accepted and its evidence
    # hashed into the chain, and the history says where it is.
    assert '"full_name": "Demo Daughter"' in out or '"Demo Daughter"' in out
    assert '"sha256": "' in out and '"link_hash": "' in out
    assert '"state": "submitted"' in out, out[-3000:]
    assert "before_joining" not in out and "future_date" not in out
    # The long-standing member shares the case in publicity and disputes it; their bills are
    # real, broken down by case, and asking again with the ETag is a 304 (issue 25: the demo
    # member had no bills, so the journey ended on a 404).
    assert "The surgery date differs from the certificate." in out
    assert '"person": "Demo Sharer"' in out and '"claim":' in out, out[-3000:]
    assert out.rstrip().splitlines()[-1] == "304"


def test_the_readme_journey_stops_at_the_first_failed_step(live_server, tmp_path, settings):
    """A step that fails (here: no demo data, so the sharer cannot log in) stops the script
    with its refusal, instead of printing nulls for the rest (issue 25)."""
    settings.MUTUAL_STAFF_2FA = False
    script = journey().replace("API=http://127.0.0.1:8000/api", f"API={live_server.url}/api", 1)
    done = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, timeout=60)
    assert done.returncode != 0
    assert b"400" in done.stderr or b"non_field_errors" in done.stdout + done.stderr
    assert b'"results"' not in done.stdout  # nothing after the failed login ran
