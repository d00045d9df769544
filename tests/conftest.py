from pathlib import Path

import pytest
from django.contrib.auth.models import Group

from members.credit import LocalCreditScoreProvider
from mutual.worker_process import start_worker, stop_worker
from tests.browser_operator import browser  # noqa: F401 (the browser tests' fixture)
from tests.factories import MemberFactory, MembershipFactory, PlanFactory, UserFactory

ROOT = Path(__file__).resolve().parent.parent


class FixedCreditScores(LocalCreditScoreProvider):
    def __init__(self, score: int):
        self.fixed = score

    def score(self, *, national_id: str) -> int:
        return self.fixed


@pytest.fixture
def good_credit():
    return FixedCreditScores(700)


@pytest.fixture
def plan(db):
    return PlanFactory()


@pytest.fixture
def member(db):
    return MemberFactory()


@pytest.fixture
def membership(db, plan):
    return MembershipFactory(plan=plan)


def _user_in(group_name: str, username: str):
    user = UserFactory(username=username, is_staff=True)
    user.groups.add(Group.objects.get(name=group_name))
    return user


@pytest.fixture
def investigator(db):
    return _user_in("investigator", "inv1")


@pytest.fixture
def other_investigator(db):
    return _user_in("investigator", "inv2")


@pytest.fixture
def reviewer(db):
    return _user_in("reviewer", "rev1")


@pytest.fixture
def finance(db):
    return _user_in("finance", "fin1")


@pytest.fixture
def supervisor(db):
    return _user_in("supervisor", "sup1")


@pytest.fixture(scope="module")
def celery_worker_process(django_db_setup, django_db_blocker):
    """A real worker process against the test database and the real Redis, for one module
    (so that other modules can rely on no worker running)."""
    from mutual.celery import app

    app.control.purge()
    process = start_worker()
    yield process
    stop_worker(process)


@pytest.fixture
def celery_worker(celery_worker_process):
    """The module's worker, for one test, which ends once the worker is idle: the test's
    database is flushed after it, and a task still reading (a period's seal, its VACUUM, its
    notices) deadlocks with the flush."""
    yield celery_worker_process
    worker_idle()


def worker_idle(timeout: float = 60) -> None:
    """Nothing queued, reserved or running, twice in a row (a task may send another)."""
    import time

    from django.conf import settings

    from mutual.celery import app

    deadline, quiet = time.monotonic() + timeout, 0
    while quiet < 2 and time.monotonic() < deadline:
        inspect = app.control.inspect(timeout=0.5)
        running = [*((inspect.active() or {}).values()), *((inspect.reserved() or {}).values())]
        with app.connection_for_read() as connection:
            queued = connection.default_channel.client.llen(settings.CELERY_TASK_DEFAULT_QUEUE)
        quiet = quiet + 1 if not queued and not any(running) else 0
    if quiet < 2:
        raise TimeoutError(f"the worker was still busy after {timeout} s")


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # PBKDF2's deliberate slowness buys nothing in tests.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def run_concurrently(*calls):
    """Run callables in threads (each thread has its own database connection), released
    together by a barrier. Returns each call's result or the exception it raised."""
    import threading

    from django.db import connection

    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def runner(index, call):
        try:
            barrier.wait()
            results[index] = call()
        except Exception as error:
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=runner, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


class FixedCreditScores700(FixedCreditScores):
    def __init__(self):
        super().__init__(700)


class FixedCreditScores600(FixedCreditScores):
    def __init__(self):
        super().__init__(600)


@pytest.fixture(autouse=True)
def no_throttling(monkeypatch):
    """Throttle counters live in the shared Redis cache; tests that want throttling set rates."""
    from rest_framework.throttling import ScopedRateThrottle

    monkeypatch.setattr(
        ScopedRateThrottle, "THROTTLE_RATES", {"auth": None, "writes": None, "data-export": None}
    )


@pytest.fixture(autouse=True)
def staff_two_factor(settings, monkeypatch):
    """The admin as in production: staff need a second factor (MUTUAL_STAFF_2FA is on whenever
    DEBUG is off). A test's `client.force_login(staff)` stands for a whole login, so it also
    verifies the session with a TOTP device, as entering a code does; the login form itself is
    tested in test_two_factor.py and the browser tests."""
    from django.test import Client
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    settings.MUTUAL_STAFF_2FA = True
    force_login = Client.force_login

    def force_login_with_a_second_factor(self, user, backend=None):
        force_login(self, user, backend)
        if user.is_staff:
            device, _ = TOTPDevice.objects.get_or_create(
                user=user, name="test", defaults={"confirmed": True}
            )
            session = self.session
            session[DEVICE_ID_SESSION_KEY] = device.persistent_id
            session.save()

    monkeypatch.setattr(Client, "force_login", force_login_with_a_second_factor)
