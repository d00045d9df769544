"""Every /api/ answer is JSON, Django's own error pages included; the admin keeps its HTML.

DRF turns the errors it knows into JSON (mutual.core.api.exception_handler). What it does not know
reaches Django's handlers: a crash (500), a body over Django's upload limits (400), a request
refused before any view ran. These handlers answer those in DRF's shape under /api/, and leave
every other path to Django's pages. `RequestSizeLimitMiddleware` refuses a body larger than the
limit from its Content-Length alone, before a byte of it is read."""

from __future__ import annotations

import logging
import sys

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.views import defaults
from psycopg.errors import QueryCanceled

API_PREFIX = "/api/"
logger = logging.getLogger(__name__)


def is_api(request) -> bool:
    return request.path_info.startswith(API_PREFIX)


def json_error(status: int, detail: str, **extra) -> JsonResponse:
    return JsonResponse({"detail": detail, **extra}, status=status)


def bad_request(request, exception=None):
    if is_api(request):
        return json_error(400, "Bad request.")
    return defaults.bad_request(request, exception)


def permission_denied(request, exception=None):
    if is_api(request):
        return json_error(403, str(exception or "") or "You do not have permission to do this.")
    return defaults.permission_denied(request, exception)


def page_not_found(request, exception=None):
    if is_api(request):
        return json_error(404, "Not found.")
    return defaults.page_not_found(request, exception)


DATABASE_AWAY = "The database is unavailable for a moment. Nothing was written: try again."


def server_error(request):
    """Django's 500, in JSON under /api/; a 503 with Retry-After while the database is away
    (a lost connection: PostgreSQL restarting, a network cut), which clients and load
    balancers retry, and which ends by itself when the database is back (issue 24)."""
    error = sys.exc_info()[1]
    if isinstance(error, OperationalError | InterfaceError) and not isinstance(
        error.__cause__, QueryCanceled
    ):
        response = (
            json_error(503, DATABASE_AWAY, code="database_unavailable")
            if is_api(request)
            else HttpResponse(DATABASE_AWAY, status=503, content_type="text/plain; charset=utf-8")
        )
        response["Retry-After"] = "30"
        return response
    if is_api(request):
        return json_error(500, "Server error.")
    return defaults.server_error(request)


def request_limit(request) -> int:
    """The largest body this request may carry: an evidence file and its form around it on the
    upload paths, Django's in-memory data limit everywhere else."""
    if request.method == "POST" and _is_evidence_upload(request.path_info):
        return settings.EVIDENCE_MAX_BYTES + settings.EVIDENCE_UPLOAD_OVERHEAD_BYTES
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def _is_evidence_upload(path: str) -> bool:
    # /api/claims/<id>/evidence/ and the claim admin's /admin/claims/claim/<id>/act/add_evidence/
    return path.endswith(("/evidence/", "/act/add_evidence/"))


class RequestSizeLimitMiddleware:
    """413 for a request whose declared body is over its limit, without reading the body.

    Django's DATA_UPLOAD_MAX_MEMORY_SIZE guards only `request.body` and form fields; DRF's JSON
    parser and a multipart upload would otherwise read (or stream to disk) whatever is sent."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0  # Django reads such a body as empty
        limit = request_limit(request)
        if declared > limit:
            detail = f"Request body of {declared} bytes is larger than the limit of {limit} bytes."
            if is_api(request):
                response = json_error(413, detail, code="too_large")
            else:
                response = HttpResponse(detail, status=413, content_type="text/plain")
            # The body is left unread: the server closes the connection (a WSGI application may
            # not send `Connection: close` itself, a hop-by-hop header, PEP 3333).
            return response
        return self.get_response(request)


class StatementTimeoutMiddleware:
    """A request whose statement ran past the web processes' statement timeout
    (settings.WEB_STATEMENT_TIMEOUT_MS) is answered 503, in JSON under /api/, and logged as a
    warning: the database cut it, nothing was written (its transaction rolled back)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not (
            isinstance(exception, OperationalError)
            and isinstance(exception.__cause__, QueryCanceled)
        ):
            return None
        logger.warning("%s %s: a statement ran past the timeout", request.method, request.path)
        detail = "The request took too long and was stopped. Narrow it down and try again."
        if is_api(request):
            return json_error(503, detail, code="timeout")
        return HttpResponse(detail, status=503, content_type="text/plain; charset=utf-8")
