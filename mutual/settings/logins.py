"""Logins: who the client is, lockouts, staff two-factor."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from mutual.settings.base import DEBUG
from mutual.settings.env import env_bool, env_int

# --- Logins: who the client is, lockouts, staff two-factor ---
# How many reverse proxies of ours append to X-Forwarded-For. With 0 the header is ignored (the
# socket's address counts), so a client cannot pick the address its guesses are counted against.
TRUSTED_PROXIES = env_int("MUTUAL_TRUSTED_PROXIES", 0)
if TRUSTED_PROXIES < 0:
    raise ImproperlyConfigured(f"MUTUAL_TRUSTED_PROXIES={TRUSTED_PROXIES} must be 0 or more")
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out account or address
    "django.contrib.auth.backends.ModelBackend",
]
# django-axes: an account (from any address) or an address (for any account) is locked out
# after this many failures, for the API token and the admin alike, until the cool-off ends.
AXES_FAILURE_LIMIT = env_int("MUTUAL_LOGIN_FAILURE_LIMIT", 10)
AXES_COOLOFF_TIME = env_int("MUTUAL_LOGIN_COOLOFF_MINUTES", 30) / 60  # hours
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_CLIENT_IP_CALLABLE = "mutual.login_guard.client_ip"
AXES_LOCKOUT_CALLABLE = "mutual.login_guard.lockout_response"
# A success clears only that account's failures from that address (mutual.login_guard), not
# axes' reset of every row matching the account or the address.
AXES_RESET_ON_SUCCESS = False
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "otp_token", "csrfmiddlewaretoken"]
# Staff need a second factor (authenticator app or recovery code) for the admin; see
# mutual/two_factor.py. On by default whenever DEBUG is off.
MUTUAL_STAFF_2FA = env_bool("MUTUAL_STAFF_2FA", not DEBUG)
OTP_TOTP_ISSUER = "mutual"
