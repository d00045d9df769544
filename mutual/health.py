"""GET /healthz: 200 only when the database, Redis and at least one Celery worker answer.

The answer is public (load balancers probe it): a failing check says what failed, never where
(a database error names its host and port); the detail goes to the log."""

import logging

import redis
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET

from mutual.celery import app

logger = logging.getLogger(__name__)


def _failed(check: str, error: Exception) -> str:
    logger.warning("health check %s failed: %s", check, error)
    return f"{check} unavailable ({type(error).__name__})"


def _check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as error:  # any failure means "not healthy"; say which
        return _failed("database", error)
    return None


def _check_redis() -> str | None:
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as error:
        return _failed("redis", error)
    return None


def _check_worker() -> str | None:
    try:
        replies = app.control.ping(timeout=1.0)
    except (redis.RedisError, OSError) as error:
        return _failed("worker", error)
    return None if replies else "no Celery worker answered a ping within 1 s"


@require_GET
def healthz(request):
    checks = {"database": _check_database(), "redis": _check_redis()}
    # Without Redis the worker ping would hang on the broker; report it as unknown instead.
    checks["worker"] = _check_worker() if checks["redis"] is None else "redis is down"
    healthy = all(error is None for error in checks.values())
    body = {name: ("ok" if error is None else error) for name, error in checks.items()}
    return JsonResponse({"healthy": healthy, "checks": body}, status=200 if healthy else 503)
