"""Settings the README promises are read from the environment, and a bad value stops the process
naming its variable. Each case starts a fresh interpreter, as web, worker and beat would."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


class ChosenCreditScores:
    def score(self, *, national_id: str) -> int:
        return 700


class ChosenGateway:
    def debit(self, *, account_id: int, membership_id: int, amount_fen: int, reference: str):
        raise NotImplementedError


def django_process(code: str, **env: str) -> subprocess.CompletedProcess:
    environment = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "mutual.settings",
        # Nothing here connects: these only keep settings from starting the embedded servers.
        "DATABASE_URL": "postgresql://nobody@127.0.0.1:9/nothing",
        "REDIS_URL": "redis://127.0.0.1:9/0",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("variable", ["MUTUAL_CREDIT_PROVIDER", "MUTUAL_PAYMENT_GATEWAY"])
@pytest.mark.parametrize("value", ["nowhere.Provider", "members.credit.NoSuchClass", "no path"])
def test_a_bad_import_path_stops_the_process_naming_the_variable(variable, value):
    result = django_process("print('started')", **{variable: value})
    assert result.returncode != 0 and "started" not in result.stdout
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("django.core.exceptions.ImproperlyConfigured")
    assert variable in last_line and value in last_line


def test_the_configured_provider_and_gateway_are_used():
    result = django_process(
        "from billing.debits import default_gateway; "
        "from members.credit import default_credit_provider; "
        "print(type(default_credit_provider()).__name__, type(default_gateway()).__name__)",
        MUTUAL_CREDIT_PROVIDER="tests.test_settings.ChosenCreditScores",
        MUTUAL_PAYMENT_GATEWAY="tests.test_settings.ChosenGateway",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == ["ChosenCreditScores", "ChosenGateway"]


def test_without_the_variables_the_local_ones_are_used():
    environment = {"MUTUAL_CREDIT_PROVIDER": "", "MUTUAL_PAYMENT_GATEWAY": ""}
    result = django_process(
        "from billing.debits import default_gateway; "
        "from members.credit import default_credit_provider; "
        "print(type(default_credit_provider()).__name__, type(default_gateway()).__name__)",
        **environment,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == ["LocalCreditScoreProvider", "LocalPaymentGateway"]


# --- security issue, defect 7: safe by default -------------------------------------------------
STRONG_KEY = "k3y-" + "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP"
SECURITY_SETTINGS = (
    "from django.conf import settings as s; import json; print(json.dumps([s.DEBUG, "
    "s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, "
    "s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_HSTS_PRELOAD, "
    "s.SECURE_PROXY_SSL_HEADER]))"
)
# What the tests' own process set (tests/settings.py): these cases choose every variable.
UNSET = {
    name: ""
    for name in [
        "DJANGO_DEBUG",
        "DJANGO_SECRET_KEY",
        "DJANGO_SECURE_SSL_REDIRECT",
        "DJANGO_SECURE_COOKIES",
        "DJANGO_SECURE_HSTS_SECONDS",
        "DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS",
        "DJANGO_SECURE_HSTS_PRELOAD",
        "DJANGO_SECURE_PROXY_SSL_HEADER",
    ]
}


def security_settings(**env: str) -> list:
    import json

    result = django_process(SECURITY_SETTINGS, **{**UNSET, **env})
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def test_debug_is_off_and_https_on_when_nothing_is_set():
    debug, redirect, session, csrf, hsts, subdomains, preload, proxy = security_settings(
        DJANGO_SECRET_KEY=STRONG_KEY
    )
    assert debug is False
    assert redirect is session is csrf is True
    assert hsts == 365 * 24 * 3600 and subdomains is True and preload is False
    assert proxy is None


def test_make_run_s_debug_needs_no_key_and_is_served_over_plain_http():
    debug, redirect, session, csrf, hsts, *_ = security_settings(DJANGO_DEBUG="1")
    assert debug is True
    assert redirect is session is csrf is False and hsts == 0


def test_https_settings_come_from_the_environment():
    values = security_settings(
        DJANGO_SECRET_KEY=STRONG_KEY,
        DJANGO_SECURE_SSL_REDIRECT="false",
        DJANGO_SECURE_COOKIES="false",
        DJANGO_SECURE_HSTS_SECONDS="600",
        DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS="no",
        DJANGO_SECURE_HSTS_PRELOAD="yes",
        DJANGO_SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto",
    )
    assert values[1:] == [
        False,
        False,
        False,
        600,
        False,
        True,
        ["HTTP_X_FORWARDED_PROTO", "https"],
    ]
    proxy = security_settings(
        DJANGO_SECRET_KEY=STRONG_KEY, DJANGO_SECURE_PROXY_SSL_HEADER="X-Forwarded-Ssl=on"
    )[-1]
    assert proxy == ["HTTP_X_FORWARDED_SSL", "on"]


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DJANGO_SECURE_PROXY_SSL_HEADER", "X Forwarded Proto"),
        ("DJANGO_SECURE_HSTS_SECONDS", "-1"),
        ("DJANGO_SECURE_HSTS_SECONDS", "a year"),
        ("DJANGO_SECURE_COOKIES", "maybe"),
    ],
)
def test_a_bad_https_setting_stops_the_process_naming_the_variable(variable, value):
    env = {**UNSET, "DJANGO_SECRET_KEY": STRONG_KEY, variable: value}
    result = django_process("print('started')", **env)
    assert result.returncode != 0 and "started" not in result.stdout
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("django.core.exceptions.ImproperlyConfigured")
    assert variable in last_line


@pytest.mark.parametrize(
    "key",
    [
        pytest.param("", id="unset"),
        "dev-only-insecure-key",
        "changeme",
        pytest.param("django-insecure-" + "x1y2z3" * 10, id="django-insecure-prefix"),
        pytest.param("short-but-random-7f3a9", id="too-short"),
        pytest.param("ab" * 40, id="too-few-characters"),
    ],
)
def test_without_debug_a_missing_known_or_weak_secret_key_stops_the_process(key):
    result = django_process("print('started')", **{**UNSET, "DJANGO_SECRET_KEY": key})
    assert result.returncode != 0 and "started" not in result.stdout
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("django.core.exceptions.ImproperlyConfigured")
    assert "DJANGO_SECRET_KEY" in last_line and "DJANGO_DEBUG" in last_line
    if key:
        assert key not in last_line  # a secret, even a bad one, is not printed


def production_environment() -> dict[str, str]:
    """The documented production environment, as the Makefile's check-deploy target sets it."""
    import re
    import shlex

    makefile = (ROOT / "Makefile").read_text().replace("\\\n", " ")
    assignments = re.search(r"^PRODUCTION_ENV := (.*)$", makefile, re.MULTILINE).group(1)
    return dict(word.split("=", 1) for word in shlex.split(assignments))


TRANSPARENCY_KEYS = {"MUTUAL_LEAF_KEY": "k" * 43, "MUTUAL_SIGNING_KEY": "ab" * 32}
FIELD_KEYS = {"MUTUAL_FIELD_KEYS": "f" * 43, "MUTUAL_BLIND_INDEX_KEY": "i" * 43}


def production_process(command: list[str], **env) -> subprocess.CompletedProcess:
    """`command` run under the documented production environment, with `env` on top."""
    env = {**UNSET, **production_environment(), "DJANGO_SECRET_KEY": STRONG_KEY, **FIELD_KEYS,
           **env}  # fmt: skip
    assert env["DJANGO_DEBUG"] == "0"
    return subprocess.run(
        command,
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "mutual.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_the_documented_production_environment():
    command = [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"]
    result = production_process(command, **TRANSPARENCY_KEYS)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "no issues" in result.stdout


def test_the_production_variables_are_documented_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    security = readme[readme.index("## Security") :]
    for variable in [*UNSET, *production_environment(), "MUTUAL_DATA_UPLOAD_MAX_BYTES"]:
        assert f"`{variable}`" in security, variable


def test_make_run_turns_debug_on_for_the_demo():
    # The demo's runserver serves static files and uses the development key only with DEBUG.
    assert "run: export DJANGO_DEBUG ?= 1" in (ROOT / "Makefile").read_text()


@pytest.mark.parametrize(
    "keys, refused",
    [
        ({"MUTUAL_LEAF_KEY": "", "MUTUAL_SIGNING_KEY": ""}, ["billing.E001", "billing.E002"]),
        ({**TRANSPARENCY_KEYS, "MUTUAL_SIGNING_KEY": "not hex"}, ["billing.E002"]),
        ({**TRANSPARENCY_KEYS, "MUTUAL_SIGNING_KEY": "ab" * 31}, ["billing.E002"]),
    ],
)
def test_without_the_transparency_keys_checks_fail_before_any_period_posts(keys, refused):
    """Unset or malformed, a period would post and never be sealed (nor its bills told)."""
    result = production_process([sys.executable, "manage.py", "check"], **keys)
    assert result.returncode != 0
    for code in ("billing.E001", "billing.E002"):
        assert (code in result.stderr) == (code in refused), result.stderr[-2000:]
    assert "ab" * 31 not in result.stderr  # a key, even a bad one, is not printed


@pytest.mark.parametrize(
    "command",
    [
        [".venv/bin/celery", "-A", "mutual", "worker", "--concurrency=1"],
        [".venv/bin/gunicorn", "--config", "mutual/gunicorn_conf.py"],
    ],
    ids=["worker", "web"],
)
def test_the_worker_and_the_web_server_refuse_to_start_without_the_keys(command):
    """`check` is not run by either: each checks the keys itself as it starts."""
    result = production_process(command, MUTUAL_LEAF_KEY="", MUTUAL_SIGNING_KEY="ab" * 32, PORT="0")
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "billing.E001" in output and "billing.E002" not in output


@pytest.mark.parametrize(
    "command",
    [
        [".venv/bin/celery", "-A", "mutual", "worker", "--concurrency=1"],
        [".venv/bin/gunicorn", "--config", "mutual/gunicorn_conf.py"],
        [sys.executable, "manage.py", "check"],
    ],
    ids=["worker", "web", "check"],
)
def test_without_the_keys_of_personal_data_nothing_starts(command):
    """Neither national ids nor medical text could be stored encrypted, nor an id found."""
    result = production_process(command, **TRANSPARENCY_KEYS, MUTUAL_FIELD_KEYS="", PORT="0")
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "members.E001" in output and "MUTUAL_FIELD_KEYS is not set" in output
    assert "i" * 43 not in output  # the other key, set, is not printed
