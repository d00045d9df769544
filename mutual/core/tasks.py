"""Handing work to the Celery workers from a service, by the task's name, once the caller's
transaction commits: a service never imports its own app's tasks module (which imports the
service back), and the workers never see rows that were rolled back."""

from __future__ import annotations

from django.db import transaction


def task_send_on_commit(name: str, *args) -> None:
    """`name` is the task's registered name (`claims.tasks.draw_jury`)."""

    def send() -> None:
        from celery import current_app

        current_app.tasks[name].delay(*args)

    transaction.on_commit(send)
