"""Staff actions on periods; the admin's buttons call these."""

from __future__ import annotations

import datetime

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Sum

from billing.models import ApportionmentPeriod, PeriodStatus, PostingLine
from mutual.errors import ServiceError


@transaction.atomic
def period_run(*, period_id: int, by, now: datetime.datetime) -> ApportionmentPeriod:
    """Hand an open period whose cutoff has passed to the workers, once."""
    from billing.tasks import run_period

    if not by.has_perm("billing.change_apportionmentperiod"):
        raise PermissionDenied(f"{by} may not run apportionment periods")
    period = ApportionmentPeriod.objects.select_for_update(of=("self",)).get(pk=period_id)
    if period.status != PeriodStatus.OPEN:
        raise ServiceError(f"the period is {period.status}, not open", code="not_open")
    if now < period.cutoff_at:
        raise ServiceError(
            f"the cutoff {period.cutoff_at:%Y-%m-%d %H:%M} has not passed: who pays is not known",
            code="before_cutoff",
        )
    if period.enqueued_at is not None:
        raise ServiceError("this period was already handed to the workers", code="enqueued")
    period.enqueued_at = now
    period.save(update_fields=["enqueued_at"])
    transaction.on_commit(lambda: run_period.delay(period_id))
    return period


def period_reconciliation(period: ApportionmentPeriod) -> dict[str, object]:
    """What finance checks: every chunk done, shares = cases + fees, and what the chunks put
    into the clearing account is exactly what the cases took out."""
    chunks = period.chunks.aggregate(gross=Sum("gross_fen"), charged=Sum("charged_fen"))
    clearing = PostingLine.objects.filter(
        posting__idempotency_key__startswith=f"period:{period.pk}:", account__role="clearing"
    ).aggregate(debit=Sum("debit_fen"), credit=Sum("credit_fen"))
    shares = chunks["gross"] or 0
    cleared = (clearing["debit"] or 0) - (clearing["credit"] or 0)
    checks = {
        "all chunks done": period.chunks_total == period.chunks_done,
        "shares equal cases and fees": shares == period.total_fen,
        "charged + sponsor = total": (
            period.charged_fen + period.sponsor_fen == period.total_fen
            if period.status in (PeriodStatus.POSTED, PeriodStatus.PAID)
            else None
        ),
        "clearing nets to zero": cleared == 0 if period.posted_at else None,
    }
    return {"checks": checks, "reconciled": all(v is not False for v in checks.values())}
