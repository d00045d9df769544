"""The Celery app: Redis broker and results, JSON only, late acks (all our tasks are idempotent)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mutual.settings")

app = Celery("mutual")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Task and period ids on every log line; failed and retried tasks kept for the admin.
from mutual.observability import connect_celery  # noqa: E402

connect_celery()
