"""Failures seen by people: one JSON line per log event carrying the request, user, task and
period it belongs to; errors to Sentry (when SENTRY_DSN is set) with members' private data
scrubbed; failed and retried Celery tasks kept for the admin (django-celery-results).

The ids travel in context variables: RequestContextMiddleware sets the request's (and echoes it
as X-Request-ID), Celery's task_prerun/task_postrun signals set the task's and, when the task
takes one, the period's; ContextFilter copies them onto every log record."""

from __future__ import annotations

import inspect
import logging
import re
import time
import uuid
from contextvars import ContextVar

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
task_id: ContextVar[str | None] = ContextVar("task_id", default=None)
period_id: ContextVar[int | None] = ContextVar("period_id", default=None)
_request: ContextVar[object | None] = ContextVar("request", default=None)

access_logger = logging.getLogger("mutual.request")
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def _user_id() -> int | None:
    """The request's user, once something resolved it (DRF's authentication or the session
    middleware's lazy user): never a query from inside logging."""
    request = _request.get()
    if request is None:
        return None
    user = request.__dict__.get("user")
    wrapped = getattr(user, "_wrapped", user)  # a SimpleLazyObject not yet evaluated
    if wrapped is None or type(wrapped).__name__ == "object":
        return None
    return getattr(wrapped, "pk", None)


# Loggers whose debug lines quote data wholesale: a template's whole context (a revealed
# national id among it) for a missing variable, and every SQL statement with its parameters.
QUOTING_LOGGERS = ("django.template", "django.db.backends")


class ContextFilter(logging.Filter):
    """On every handler: the ids of the request, user, task and period; and nothing private,
    whatever LOG_LEVEL says (the quoting loggers' debug lines are dropped, and a national id
    in a message is filtered out)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING and record.name.startswith(QUOTING_LOGGERS):
            return False
        try:
            message = record.getMessage()
        except Exception:  # a malformed call: the handler reports it, as logging does
            return True
        scrubbed = NATIONAL_ID.sub(FILTERED, message)
        if scrubbed != message:
            record.msg, record.args = scrubbed, ()
        record.request_id = request_id.get()
        record.user_id = _user_id()
        record.task_id = task_id.get()
        if getattr(record, "period_id", None) is None:
            record.period_id = period_id.get()
        return True


class RequestContextMiddleware:
    """First in the chain: the request id (the proxy's X-Request-ID when it looks like one,
    else a new one), and one access line per request, with its status and duration."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        given = request.headers.get("X-Request-ID", "")
        rid = given if _SAFE_REQUEST_ID.match(given) else uuid.uuid4().hex
        tokens = (request_id.set(rid), _request.set(request))
        started = time.monotonic()
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = rid
            access_logger.info(
                "%s %s %s",
                request.method,
                request.path,
                response.status_code,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round((time.monotonic() - started) * 1000, 1),
                },
            )
            return response
        finally:
            request_id.reset(tokens[0])
            _request.reset(tokens[1])


# --- Celery: task ids on log lines, failures and retries kept for the admin ---

_task_tokens: dict[str, tuple] = {}


def _period_of(task, args, kwargs) -> int | None:
    try:
        bound = inspect.signature(task.run).bind_partial(*(args or ()), **(kwargs or {}))
    except TypeError:
        return None
    value = bound.arguments.get("period_id")
    return value if isinstance(value, int) else None


def task_started(sender=None, task_id=None, task=None, args=None, kwargs=None, **_):
    _task_tokens[task_id] = (
        globals()["task_id"].set(task_id),
        period_id.set(_period_of(task, args, kwargs)),
    )


def task_finished(sender=None, task_id=None, **_):
    tokens = _task_tokens.pop(task_id, None)
    if tokens:
        globals()["task_id"].reset(tokens[0])
        period_id.reset(tokens[1])


def _keep(*, task_id_: str, name: str, status: str, error: str, args, kwargs) -> None:
    """A row in django-celery-results' table, shown under *Celery results* in the admin."""
    try:
        from django_celery_results.models import TaskResult

        TaskResult.objects.update_or_create(
            task_id=task_id_,
            defaults={
                "task_name": name,
                "status": status,
                "result": error[:2000],
                "task_args": repr(args)[:1000],
                "task_kwargs": repr(kwargs)[:1000],
                "traceback": error,
            },
        )
    except Exception:  # the record must never be what breaks a task
        logging.getLogger(__name__).exception("could not record task %s", task_id_)


def task_failed(sender=None, task_id=None, exception=None, args=None, kwargs=None, einfo=None,
                **_):  # fmt: skip
    _keep(task_id_=task_id, name=sender.name, status="FAILURE",
          error=str(einfo or exception), args=args, kwargs=kwargs)  # fmt: skip


def task_retried(sender=None, request=None, reason=None, einfo=None, **_):
    _keep(task_id_=request.id, name=sender.name, status="RETRY",
          error=str(einfo or reason), args=request.args, kwargs=request.kwargs)  # fmt: skip


def connect_celery() -> None:
    from celery import signals

    signals.task_prerun.connect(task_started, weak=False)
    signals.task_postrun.connect(task_finished, weak=False)
    signals.task_failure.connect(task_failed, weak=False)
    signals.task_retry.connect(task_retried, weak=False)


# --- Sentry: nothing about a member's health or identity leaves ---

FILTERED = "[Filtered]"
# Keys whose values are private wherever they appear (request bodies, local variables, extra).
SENSITIVE_KEYS = re.compile(
    r"national_id|diagnosis|hospital|evidence|investigation|summary|reason|file|upload|"
    r"document|body|password|secret|token|otp|authorization|cookie|session|full_name|birth",
    re.IGNORECASE,
)
# Chinese resident ids (17 digits and a check digit) and the demo's and tests' ids.
NATIONAL_ID = re.compile(r"\b\d{17}[\dXx]\b|\b\d{15}\b|\b(?:ID|D\d+-)\d{6,}\b|DEMO-MEMBER")


def _scrub(value, depth: int = 0):
    if depth > 12:
        return FILTERED
    if isinstance(value, dict):
        return {
            key: FILTERED
            if isinstance(key, str) and SENSITIVE_KEYS.search(key)
            else _scrub(item, depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [_scrub(item, depth + 1) for item in value]
    if isinstance(value, str):
        return NATIONAL_ID.sub(FILTERED, value)
    return value


def scrub_event(event: dict, hint: dict | None = None) -> dict:
    """Sentry's before_send (and before_send_transaction): request bodies and cookies are
    dropped whole, every value under a private key is filtered, national ids anywhere in text
    are replaced. Medical text has no pattern, so it is kept out by key (the diagnosis, the
    hospital, evidence, the investigation and any reason never travel) and exception messages
    are dropped; our own log messages name claims and members by id only."""
    # An exception's message may quote what it was handed (a diagnosis has no pattern): its
    # type, module and stack trace are kept, its text is not.
    for exception in (event.get("exception") or {}).get("values") or []:
        if exception.get("value"):
            exception["value"] = FILTERED
    for crumb in (event.get("breadcrumbs") or {}).get("values") or []:
        crumb.pop("data", None)
    request = event.get("request")
    if isinstance(request, dict):
        for part in ("data", "cookies", "query_string"):
            if part in request:
                request[part] = FILTERED
    return _scrub(event)


def sentry_options(
    dsn: str, *, environment: str, release: str | None, traces_sample_rate: float
) -> dict:
    """Sentry's options. No local variables: their representations carry names and ids
    (`<Member: Zhang Wei>`) under keys that say nothing (`member`, `self`), and no pattern
    finds a name; the stack trace, with each frame's file, function and line, is kept."""
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    return {
        "dsn": dsn,
        "integrations": [DjangoIntegration(), CeleryIntegration()],
        "max_request_body_size": "never",
        "include_local_variables": False,
        "before_send": scrub_event,
        "before_send_transaction": scrub_event,
        "environment": environment,
        "release": release,
        "traces_sample_rate": traces_sample_rate,
    }


def init_sentry(dsn: str | None, *, environment: str, release: str | None,
                traces_sample_rate: float) -> bool:  # fmt: skip
    if not dsn:
        return False
    import sentry_sdk

    sentry_sdk.init(
        **sentry_options(
            dsn,
            environment=environment,
            release=release,
            traces_sample_rate=traces_sample_rate,
        )
    )
    return True
