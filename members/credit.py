"""Credit scores behind an interface, so that a real bureau can be plugged in by setting
MUTUAL_CREDIT_PROVIDER to its import path."""

from __future__ import annotations

import hashlib
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string


class CreditScoreProvider(Protocol):
    def score(self, *, national_id: str) -> int: ...


class LocalCreditScoreProvider:
    """Deterministic, offline: a score from 550 to 949 derived from the national id's hash.
    Ids ending in "LOW" score 600, so demos and tests can show a refusal."""

    def score(self, *, national_id: str) -> int:
        if national_id.upper().endswith("LOW"):
            return 600
        digest = hashlib.sha256(national_id.encode()).digest()
        return 550 + int.from_bytes(digest[:4], "big") % 400


def default_credit_provider() -> CreditScoreProvider:
    return import_string(settings.MUTUAL_CREDIT_PROVIDER)()
