"""Password guessing: who a client is, and what a locked-out client is told.

The client's address is the one DRF's throttles use (`REST_FRAMEWORK["NUM_PROXIES"]`, set from
MUTUAL_TRUSTED_PROXIES): with no trusted proxy, X-Forwarded-For is ignored and the socket's
address counts, so rotating the header neither resets a throttle nor escapes a lockout. django-axes
locks out an account (any address) and an address (any account) after too many failures."""

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
