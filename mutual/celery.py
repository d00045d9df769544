"""The Celery app: Redis broker and results, JSON only, late acks (all our tasks are idempotent)."""

import os

from celery import Celery
from celery.signals import worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mutual.settings")

app = Celery("mutual")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Task and period ids on every log line; failed and retried tasks kept for the admin.
from mutual.observability import connect_celery  # noqa: E402

connect_celery()


@worker_init.connect
def _refuse_without_keys(**kwargs) -> None:
    """A worker without the transparency keys (DEBUG off) would post periods it can never seal
    (settings.WORKER_START_CHECKS, named by their paths: this module imports no app)."""
    from mutual.core.startup import run_start_checks

    run_start_checks("WORKER_START_CHECKS")
