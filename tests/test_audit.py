"""`make audit` (.ci/audit.py): a known vulnerability fails, an accepted one (with a reason)
passes, and an audit that could not reach the advisory database is never a silent pass.
pip-audit itself is replaced by a stand-in that writes the report it is given."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STAND_IN = """
import json, sys
arguments = sys.argv[1:]
report = json.loads({report!r})
ignored = [arguments[i + 1] for i, a in enumerate(arguments) if a == "--ignore-vuln"]
for dependency in report.get("dependencies", []):
    dependency["vulns"] = [v for v in dependency.get("vulns", []) if v["id"] not in ignored]
if {crash!r}:
    sys.exit("ConnectionError: advisory database unreachable")
with open(arguments[arguments.index("--output") + 1], "w") as out:
    json.dump(report, out)
sys.exit(1 if any(d.get("vulns") for d in report["dependencies"]) else 0)
"""
DJANGO_CVE = {
    "id": "PYSEC-2099-1",
    "fix_versions": ["5.2.99"],
    "aliases": ["CVE-2099-0001"],
    "description": "SQL injection in a lookup",
}


def audit(tmp_path, dependencies, *, ignore: str = "", crash=False, **env) -> tuple[int, str]:
    stand_in = tmp_path / "pip_audit_stand_in.py"
    report = json.dumps({"dependencies": dependencies, "fixes": []})
    stand_in.write_text(STAND_IN.format(report=report, crash=crash))
    ignore_file = tmp_path / "pip-audit-ignore"
    ignore_file.write_text(ignore)
    environment = {
        **os.environ,
        "MUTUAL_PIP_AUDIT": f"{sys.executable} {stand_in}",
        "MUTUAL_AUDIT_IGNORE_FILE": str(ignore_file),
        "MUTUAL_SKIP_AUDIT": "",
        **env,
    }
    result = subprocess.run(
        [sys.executable, str(ROOT / ".ci" / "audit.py")],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result.returncode, result.stdout + result.stderr


def clean(name="celery", version="5.4.0"):
    return {"name": name, "version": version, "vulns": []}


def skipped(name="celery"):
    return {"name": name, "skip_reason": f"Dependency not found on PyPI: {name}"}


def test_no_known_vulnerability_passes(tmp_path):
    code, output = audit(tmp_path, [clean(), clean("django", "5.2.8")])
    assert code == 0, output
    assert "2 packages, no known vulnerabilities" in output


def test_a_known_vulnerability_fails_naming_package_advisory_and_fix(tmp_path):
    vulnerable = {"name": "django", "version": "5.2.8", "vulns": [DJANGO_CVE]}
    code, output = audit(tmp_path, [clean(), vulnerable])
    assert code == 1
    assert "django 5.2.8: PYSEC-2099-1" in output and "5.2.99" in output
    assert "pip-audit-ignore" in output


def test_skipping_the_audit_never_hides_a_vulnerability_found(tmp_path):
    vulnerable = {"name": "django", "version": "5.2.8", "vulns": [DJANGO_CVE]}
    code, _ = audit(tmp_path, [skipped(), vulnerable], MUTUAL_SKIP_AUDIT="1")
    assert code == 1


@pytest.mark.parametrize("advisory", ["PYSEC-2099-1", "CVE-2099-0001"])
def test_an_accepted_vulnerability_with_a_reason_passes(tmp_path, advisory):
    vulnerable = {"name": "django", "version": "5.2.8", "vulns": [DJANGO_CVE]}
    ignore = f"# accepted\n{advisory}  # lookup not used by us; ops, until 5.2.99\n"
    code, output = audit(tmp_path, [clean(), vulnerable], ignore=ignore)
    assert code == 0, output
    assert "1 accepted" in output


def test_an_accepted_vulnerability_without_a_reason_fails(tmp_path):
    code, output = audit(tmp_path, [clean()], ignore="PYSEC-2099-1\n")
    assert code == 1
    assert "reason" in output


@pytest.mark.parametrize(
    ("dependencies", "crash"),
    [
        pytest.param([skipped(), skipped("django")], False, id="nothing-audited"),
        pytest.param([clean(), skipped("django")], False, id="some-not-audited"),
        pytest.param([], True, id="pip-audit-failed"),
    ],
)
def test_an_audit_that_could_not_run_fails_unless_skipping_is_accepted(
    tmp_path, dependencies, crash
):
    code, output = audit(tmp_path, dependencies, crash=crash)
    assert code == 1
    assert "could not run" in output and "MUTUAL_SKIP_AUDIT=1" in output
    code, output = audit(tmp_path, dependencies, crash=crash, MUTUAL_SKIP_AUDIT="1")
    assert code == 0
    assert "NOT AUDITED" in output


def test_the_project_itself_is_not_counted_as_unaudited(tmp_path):
    own = {"name": "mutual", "skip_reason": "editable"}
    code, output = audit(tmp_path, [clean(), own])
    assert code == 0, output


def test_the_repository_s_ignore_file_is_valid():
    from importlib.util import module_from_spec, spec_from_file_location

    spec = spec_from_file_location("ci_audit", ROOT / ".ci" / "audit.py")
    module = module_from_spec(spec)
    spec.loader.exec_module(module)
    accepted = module.accepted_advisories(ROOT / ".ci" / "pip-audit-ignore")
    assert all(reason for reason in accepted.values())
