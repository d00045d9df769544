"""The reasons catalogue, read: a code a staff member or the system gives for a refusal, a
withdrawal, a pend, a reopening or a reassignment, checked against its kind."""

from __future__ import annotations

from claims.errors import ErrorCode
from claims.models import Reason, ReasonKind
from mutual.core.errors import ServiceError


def reason_for(code: str | None, *, kind: ReasonKind, field: str = "code") -> Reason:
    """The active catalogue entry `code` of `kind`, or a ServiceError naming the field."""
    if not code or not str(code).strip():
        raise ServiceError(
            f"choose a {kind.label} reason from the list", code=ErrorCode.REASON_REQUIRED,
            field=field,
        )  # fmt: skip
    reason = Reason.objects.filter(code=str(code).strip(), kind=kind, active=True).first()
    if reason is None:
        raise ServiceError(
            f"{code!r} is not a {kind.label} reason in the catalogue",
            code=ErrorCode.UNKNOWN_REASON,
            field=field,
        )
    return reason


def reasons_of(kind: ReasonKind) -> list[Reason]:
    """What a screen offers for `kind`."""
    return list(Reason.objects.filter(kind=kind, active=True).order_by("code"))
