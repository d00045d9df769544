"""Where notices go: a NotificationGateway, chosen by MUTUAL_NOTIFICATION_GATEWAY (an import
path), like billing.debits.PaymentGateway. Email through Django's email backend by default
(any anymail backend plugs in there), a local one for tests and the demo."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.utils.module_loading import import_string


@dataclass(frozen=True)
class Message:
    member_id: int
    to: str  # an email address, or "" when the member has none
    subject: str
    body: str
    idempotency_key: str  # the notice's event and member: a gateway must not send it twice


class NoAddress(Exception):
    """The member cannot be reached by this gateway: the notice is skipped, not retried."""


class NotificationGateway(Protocol):
    def send_many(self, messages: list[Message]) -> list[Exception | None]:
        """Send each message; return, in order, None for a sent one or the error. A NoAddress
        error skips the notice; any other is retried later."""


class EmailNotificationGateway:
    """One SMTP (or API) connection per batch, through settings.EMAIL_BACKEND. The idempotency
    key travels as a Message-ID-like header, which providers such as anymail's use to
    de-duplicate."""

    def send_many(self, messages: list[Message]) -> list[Exception | None]:
        results: list[Exception | None] = [
            None if message.to else NoAddress("the member has no email address")
            for message in messages
        ]
        if all(results):  # nobody to write to: no connection opened
            return results
        with get_connection(fail_silently=False) as connection:
            for index, message in enumerate(messages):
                if not message.to:
                    continue
                email = EmailMessage(
                    subject=message.subject,
                    body=message.body,
                    to=[message.to],
                    headers={"X-Idempotency-Key": message.idempotency_key},
                    connection=connection,
                )
                try:
                    email.send()
                except Exception as error:  # the provider's error, retried later
                    results[index] = error
        return results


class LocalNotificationGateway:
    """Offline and deterministic: keeps what it was given (in the class, so every instance in
    the process sees it) and refuses a key it has already sent."""

    sent: list[Message] = []
    fail_keys: set[str] = set()  # tests: these fail (and are retried)

    def send_many(self, messages: list[Message]) -> list[Exception | None]:
        results: list[Exception | None] = []
        seen = {message.idempotency_key for message in self.sent}
        for message in messages:
            if message.idempotency_key in self.fail_keys:
                results.append(RuntimeError("local gateway: refused"))
                continue
            if message.idempotency_key in seen:
                raise AssertionError(f"sent twice: {message.idempotency_key}")
            self.sent.append(message)
            seen.add(message.idempotency_key)
            results.append(None)
        return results


def default_notification_gateway() -> NotificationGateway:
    return import_string(settings.MUTUAL_NOTIFICATION_GATEWAY)()


class DiscardingNotificationGateway:
    """Accepts everything and keeps nothing: `bench_notices` measures our side, not a
    provider's."""

    def send_many(self, messages: list[Message]) -> list[Exception | None]:
        return [None] * len(messages)
