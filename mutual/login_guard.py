"""Password guessing: who a client is, and what a locked-out client is told.

The client's address is the one DRF's throttles use (`REST_FRAMEWORK["NUM_PROXIES"]`, set from
MUTUAL_TRUSTED_PROXIES): with no trusted proxy, X-Forwarded-For is ignored and the socket's
address counts, so rotating the header neither resets a throttle nor escapes a lockout. django-axes
locks out an account (any address) and an address (any account) after too many failures.

A successful login clears only that account's failures from that address
(`login_failures_clear`), never the address's failures for other accounts: axes' own reset
(AXES_RESET_ON_SUCCESS) deletes every row matching the account *or* the address, so logging in
to one's own account between guesses at another's reset the address's count at will."""

from __future__ import annotations

import ipaddress

from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework.throttling import BaseThrottle

LOCKED_OUT = "too many failed logins: try again later"


def client_ip(request: HttpRequest) -> str:
    """The address that a login attempt is counted against (AXES_CLIENT_IP_CALLABLE). A
    forwarded value that is not an address (a client writing its own X-Forwarded-For through a
    proxy that appends nothing) counts as the socket's address: axes stores addresses in an
    address column, and a bad one would be a 500."""
    ident = BaseThrottle().get_ident(request)
    try:
        return str(ipaddress.ip_address(ident))
    except ValueError:
        return request.META.get("REMOTE_ADDR", "")


def lockout_response(request: HttpRequest, original_response=None, credentials=None):
    """AXES_LOCKOUT_CALLABLE: 429, JSON under /api/ (every API answer is JSON), else text."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": LOCKED_OUT, "code": "locked_out"}, status=429)
    return HttpResponse(LOCKED_OUT, status=429, content_type="text/plain; charset=utf-8")


def login_failures_clear(*, username: str, ip_address: str) -> int:
    """After a successful login: forget this account's failures from this address (the owner's
    own typing mistakes). The address's failures for other accounts, and this account's
    failures from other addresses, stay counted until their cool-off. Returns how many rows."""
    from axes.models import AccessAttempt

    deleted, _ = AccessAttempt.objects.filter(username=username, ip_address=ip_address).delete()
    return deleted


def on_user_logged_in(sender, request, user, **kwargs) -> None:
    """django.contrib.auth's user_logged_in (the admin's login): see login_failures_clear."""
    if request is not None:
        login_failures_clear(username=user.get_username(), ip_address=client_ip(request))
