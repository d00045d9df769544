"""Conditional GET for API reads whose answer changes rarely (posted bills, public cases): the
view names a cheap version of what it would show (one query); the client that already holds
that version gets a 304 with no body, before anything is read or rendered."""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Callable

from django.utils.http import http_date, parse_http_date_safe
from rest_framework.response import Response

# A private answer that the client keeps but asks about again each time (our 304 is cheap).
CACHE_CONTROL = "private, no-cache"


def etag_of(*parts) -> str:
    """A strong ETag (quoted) over the version's parts."""
    return '"' + hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:32] + '"'


def _matches(header: str, etag: str) -> bool:
    tags = [tag.strip().removeprefix("W/") for tag in header.split(",")]
    return "*" in tags or etag in tags


def conditional(
    request,
    *,
    version: tuple,
    respond: Callable[[], Response],
    last_modified: datetime.datetime | None = None,
) -> Response:
    """`respond()`'s answer with an ETag (over `version` and the URL with its query) and
    Last-Modified, or a 304 when the client's If-None-Match (or, without one,
    If-Modified-Since) says it has it."""
    etag = etag_of(request.get_full_path(), *version)
    if_none_match = request.headers.get("If-None-Match")
    since = parse_http_date_safe(request.headers.get("If-Modified-Since") or "")
    if if_none_match is not None:
        fresh = _matches(if_none_match, etag)
    else:
        fresh = bool(since and last_modified and int(last_modified.timestamp()) <= since)
    response = Response(status=304) if fresh else respond()
    if response.status_code in (200, 304):
        response["ETag"] = etag
        if last_modified is not None:
            response["Last-Modified"] = http_date(last_modified.timestamp())
        response["Cache-Control"] = CACHE_CONTROL
    return response
