"""Issue 10, defect 1: password guessing is limited. X-Forwarded-For is believed only behind
MUTUAL_TRUSTED_PROXIES proxies, and django-axes locks out an account (from any address) and an
address (for any account), on the API token endpoint and on the admin login alike."""

import pytest
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

from mutual.login_guard import client_ip
from mutual.two_factor import staff_2fa_enroll
from tests.factories import MemberFactory, UserFactory
from tests.test_settings import django_process

pytestmark = pytest.mark.django_db
TOKEN = "/api/auth/token/"


def token_request(username, password, **headers):
    return APIClient().post(TOKEN, {"username": username, "password": password}, **headers)


def test_rotating_x_forwarded_for_does_not_escape_the_token_throttle(monkeypatch, settings):
    """The audit's reproduction: 20 wrong passwords, then 60 more each claiming another
    address in X-Forwarded-For. With no trusted proxy the header is ignored: all 60 are 429."""
    settings.AXES_FAILURE_LIMIT = 1000  # the throttle alone, here
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"auth": "20/min"})
    me = MemberFactory()
    address = {"REMOTE_ADDR": "192.0.2.41"}  # this test's own throttle bucket in the shared cache
    from django.core.cache import cache

    cache.delete("throttle_auth_192.0.2.41")
    first = [token_request(me.user.username, f"guess{i}", **address) for i in range(20)]
    assert {r.status_code for r in first} == {400}
    rotated = [
        token_request(me.user.username, f"more{i}", HTTP_X_FORWARDED_FOR=f"10.0.0.{i}", **address)
        for i in range(60)
    ]
    assert [r.status_code for r in rotated] == [429] * 60
    right = token_request(me.user.username, "pw", HTTP_X_FORWARDED_FOR="10.0.1.1", **address)
    assert right.status_code == 429 and "token" not in right.json()
    cache.delete("throttle_auth_192.0.2.41")


def test_an_account_is_locked_out_from_every_address_even_with_the_right_password(settings):
    settings.AXES_FAILURE_LIMIT = 10
    me = MemberFactory()
    guesses = [
        token_request(me.user.username, f"guess{i}", REMOTE_ADDR=f"198.51.100.{i}")
        for i in range(20)
    ]
    assert [r.status_code for r in guesses] == [400] * 9 + [429] * 11
    assert "too many failed logins" in guesses[-1].json()["detail"]
    right = token_request(me.user.username, "pw", REMOTE_ADDR="203.0.113.9")
    assert right.status_code == 429 and "token" not in right.json()


def test_an_address_is_locked_out_for_every_account(settings):
    settings.AXES_FAILURE_LIMIT = 10
    me = MemberFactory()
    for i in range(10):
        token_request(f"nobody{i}", "guess", REMOTE_ADDR="198.51.100.200")
    refused = token_request(me.user.username, "pw", REMOTE_ADDR="198.51.100.200")
    assert refused.status_code == 429 and "token" not in refused.json()
    # The account itself is not locked: from another address the right password works.
    assert token_request(me.user.username, "pw", REMOTE_ADDR="198.51.100.201").status_code == 200


def test_a_success_before_the_limit_starts_the_count_again(settings, client):
    settings.AXES_FAILURE_LIMIT = 3
    settings.MUTUAL_STAFF_2FA = False
    UserFactory(username="clerk", is_staff=True)
    url = reverse("admin:login")
    for _ in range(2):
        client.post(url, {"username": "clerk", "password": "wrong"})
    assert client.post(url, {"username": "clerk", "password": "pw"}).status_code == 302
    client.logout()
    # Without the reset, the third failure in all would lock the account.
    for _ in range(2):
        assert client.post(url, {"username": "clerk", "password": "wrong"}).status_code == 200


def test_the_admin_login_locks_out_an_account_and_refuses_the_right_password_and_code(
    settings, client
):
    settings.AXES_FAILURE_LIMIT = 10
    staff = UserFactory(username="clerk", is_staff=True)
    staff_2fa_enroll(username="clerk")
    url = reverse("admin:login")
    answers = [
        client.post(url, {"username": "clerk", "password": f"guess{i}", "otp_token": "123456"})
        for i in range(12)
    ]
    assert [r.status_code for r in answers] == [200] * 9 + [429] * 3
    code = f"{totp(TOTPDevice.objects.get(user=staff).bin_key):06d}"
    right = client.post(url, {"username": "clerk", "password": "pw", "otp_token": code})
    assert right.status_code == 429
    assert client.get(reverse("admin:index")).status_code == 302  # still not logged in


def test_the_lockout_is_json_under_the_api_and_text_on_the_admin(settings, client):
    settings.AXES_FAILURE_LIMIT = 1
    settings.MUTUAL_STAFF_2FA = False
    UserFactory(username="clerk", is_staff=True)
    api = token_request("clerk", "wrong", REMOTE_ADDR="192.0.2.90")
    assert api.status_code == 429 and api["Content-Type"] == "application/json"
    admin = client.post(reverse("admin:login"), {"username": "clerk", "password": "wrong"})
    assert admin.status_code == 429 and "too many failed logins" in admin.content.decode()


def test_x_forwarded_for_counts_only_behind_the_configured_proxies(rf, settings):
    request = rf.post(TOKEN, REMOTE_ADDR="10.1.1.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 192.0.2.7")
    assert client_ip(request) == "10.1.1.1"  # default: no trusted proxy, the header is ignored
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    assert client_ip(request) == "192.0.2.7"  # what our one proxy saw, not what the client wrote


@pytest.mark.parametrize("forwarded", ["10.0.0.1, garbage", "zzz", "1.2.3.4%eth0", "9" * 300])
def test_a_forwarded_value_that_is_not_an_address_is_not_a_500(settings, forwarded):
    """Found by the attack on issue 10: behind one trusted proxy, a client that wrote its own
    last X-Forwarded-For entry made axes store a non-address: 500 on both logins."""
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    me = MemberFactory()
    wrong = token_request(
        me.user.username, "guess", HTTP_X_FORWARDED_FOR=forwarded, REMOTE_ADDR="192.0.2.60"
    )
    assert wrong.status_code == 400
    right = token_request(
        me.user.username, "pw", HTTP_X_FORWARDED_FOR=forwarded, REMOTE_ADDR="192.0.2.60"
    )
    assert right.status_code == 200 and "token" in right.json()


def test_trusted_proxies_come_from_the_environment():
    code = "from django.conf import settings; print(settings.REST_FRAMEWORK['NUM_PROXIES'])"
    assert django_process(code).stdout.strip() == "0"
    assert django_process(code, MUTUAL_TRUSTED_PROXIES="2").stdout.strip() == "2"
    refused = django_process(code, MUTUAL_TRUSTED_PROXIES="-1")
    assert refused.returncode != 0 and "MUTUAL_TRUSTED_PROXIES" in refused.stderr
