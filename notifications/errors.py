"""Why a request to the notifications app's services is refused (notices and their preferences):
the stable `code` of each ServiceError, which the API answers with, the admin shows and tests
check (a str, so it compares and serialises as its value)."""

from django.db import models


class ErrorCode(models.TextChoices):
    UNKNOWN = "unknown"
