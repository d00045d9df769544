"""Known vulnerabilities in the installed dependencies: pip-audit over this virtualenv.

Exit 1 when a dependency has a known vulnerability that .ci/pip-audit-ignore does not accept.
Each accepted advisory is one line there: its id, then `# why, who, until when`; a line
without a reason is refused.

pip-audit asks an advisory database over the network. When it cannot (no network, or the
database does not know the packages), the audit did not happen: that fails too, unless
MUTUAL_SKIP_AUDIT=1, which turns only that case into a loud warning. A vulnerability found is
a failure whatever MUTUAL_SKIP_AUDIT says.

`MUTUAL_PIP_AUDIT` replaces the pip-audit command (the tests use a stand-in)."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IGNORE_FILE = Path(os.environ.get("MUTUAL_AUDIT_IGNORE_FILE", ROOT / ".ci" / "pip-audit-ignore"))
OWN_PACKAGES = {"mutual"}  # this project, installed in editable mode: not on PyPI


def accepted_advisories(path: Path) -> dict[str, str]:
    """Advisory id -> reason, from the ignore file; a line without a reason is an error."""
    accepted: dict[str, str] = {}
    if not path.exists():
        return accepted
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        entry, _, reason = line.partition("#")
        entry, reason = entry.strip(), reason.strip()
        if not entry:
            continue
        if len(entry.split()) != 1 or not reason:
            sys.exit(f"{path}:{number}: write one advisory id, then `# the reason`: {line!r}")
        accepted[entry] = reason
    return accepted


def shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def run_pip_audit(accepted: dict[str, str]) -> tuple[dict | None, str]:
    command = shlex.split(os.environ.get("MUTUAL_PIP_AUDIT", "")) or [
        sys.executable,
        "-m",
        "pip_audit",
    ]
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "report.json"
        arguments = ["--format", "json", "--output", str(report), "--progress-spinner", "off"]
        arguments += ["--skip-editable"]
        for advisory in accepted:
            arguments += ["--ignore-vuln", advisory]
        try:
            result = subprocess.run(
                [*command, *arguments], capture_output=True, text=True, timeout=600
            )
        except subprocess.TimeoutExpired:
            return None, "pip-audit did not answer within 10 minutes"
        errors = (result.stderr or "").strip().splitlines()
        try:
            return json.loads(report.read_text()), ""
        except (OSError, ValueError):
            return None, errors[-1] if errors else f"pip-audit exited {result.returncode}"


def main() -> int:
    accepted = accepted_advisories(IGNORE_FILE)
    report, error = run_pip_audit(accepted)
    dependencies = [
        dependency
        for dependency in (report or {}).get("dependencies", [])
        if dependency["name"].lower() not in OWN_PACKAGES
    ]
    vulnerable = [
        (dependency, vulnerability)
        for dependency in dependencies
        for vulnerability in dependency.get("vulns", [])
        if vulnerability["id"] not in accepted
        and not accepted.keys() & set(vulnerability.get("aliases", []))
    ]
    skipped = [dependency for dependency in dependencies if dependency.get("skip_reason")]
    audited = len(dependencies) - len(skipped)
    for dependency, vulnerability in vulnerable:
        fixes = ", ".join(vulnerability.get("fix_versions", [])) or "none yet"
        print(
            f"pip-audit: {dependency['name']} {dependency['version']}: {vulnerability['id']} "
            f"(fixed in: {fixes}) {vulnerability.get('description', '')[:200]}"
        )
    if vulnerable:
        print(
            f"pip-audit: FAILED, {len(vulnerable)} known vulnerabilities. Upgrade, or accept one "
            f"with a line `<id>  # reason` in {shown(IGNORE_FILE)}."
        )
        return 1
    if report is None or skipped or not dependencies:
        why = error or (
            f"{len(skipped)} of {len(dependencies)} packages could not be audited"
            + (f" ({skipped[0]['name']}: {skipped[0]['skip_reason']})" if skipped else "")
        )
        if os.environ.get("MUTUAL_SKIP_AUDIT") == "1":
            print(f"pip-audit: WARNING, NOT AUDITED ({why}); MUTUAL_SKIP_AUDIT=1 accepts this.")
            if audited:
                print(f"pip-audit: the {audited} packages that were audited have none known.")
            return 0
        print(
            f"pip-audit: FAILED, the audit could not run: {why}. It needs the advisory database "
            "(network); MUTUAL_SKIP_AUDIT=1 accepts an audit that could not run."
        )
        return 1
    note = f", {len(accepted)} accepted in {IGNORE_FILE.name}" if accepted else ""
    print(f"pip-audit: {audited} packages, no known vulnerabilities{note}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
