"""Handing work to the Celery workers from a service, by the task's name, once the caller's
transaction commits: a service never imports its own app's tasks module (which imports the
service back), and the workers never see rows that were rolled back."""

from __future__ import annotations

from django.db import transaction
from django.utils.module_loading import import_string


def task_send_on_commit(name: str, *args) -> None:
    """`name` is the task's dotted path (`claims.tasks.draw_jury`), looked up when it is sent:
    its module is loaded then, never imported by the sender's own."""

    def send() -> None:
        import_string(name).delay(*args)

    transaction.on_commit(send)
