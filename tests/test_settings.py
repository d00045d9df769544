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
    def debit(self, *, membership_id: int, amount_fen: int, reference: str):
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
        "from billing.collections import default_gateway; "
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
        "from billing.collections import default_gateway; "
        "from members.credit import default_credit_provider; "
        "print(type(default_credit_provider()).__name__, type(default_gateway()).__name__)",
        **environment,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == ["LocalCreditScoreProvider", "LocalPaymentGateway"]
