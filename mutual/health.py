"""GET /healthz: 200 only when the database, Redis and at least one Celery worker answer."""

import redis
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET

from mutual.celery import app


def _check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as error:  # any failure means "not healthy"; say which
        return str(error)
    return None


def _check_redis() -> str | None:
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as error:
        return str(error)
    return None


def _check_worker() -> str | None:
    try:
        replies = app.control.ping(timeout=1.0)
    except (redis.RedisError, OSError) as error:
        return str(error)
    return None if replies else "no Celery worker answered a ping within 1 s"


@require_GET
def healthz(request):
    checks = {"database": _check_database(), "redis": _check_redis()}
    # Without Redis the worker ping would hang on the broker; report it as unknown instead.
    checks["worker"] = _check_worker() if checks["redis"] is None else "redis is down"
    healthy = all(error is None for error in checks.values())
    body = {name: ("ok" if error is None else error) for name, error in checks.items()}
    return JsonResponse({"healthy": healthy, "checks": body}, status=200 if healthy else 503)
