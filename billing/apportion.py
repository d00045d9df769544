"""Apportionment: every eligible member's exact share of a period's approved cases.

Rounding rule (deterministic, documented in the README): a case's total T = payout + fee,
fee = payout x fee_bp / 10000 rounded half up. With n eligible members, everyone pays
floor(T / n) and the T mod n memberships with the lowest ids pay one fen more, so the shares add
up to T exactly. Caps and promotions then move part of a share to the sponsor.

Three phases, all set-based SQL: `period_prepare` (gather cases, count sharers per chunk in one
pass, fix each case's base share and extra-fen threshold, cut chunks), `chunk_apportion` (one
INSERT ... SELECT per membership id range, one ledger posting; idempotent), `period_finish`
(reconcile and post the cases to the fund and fee income)."""

from __future__ import annotations

import datetime
import zoneinfo

from django.db import connection, transaction
from django.db.models import F, Sum

from billing.ledger import account_for, ledger_post
from billing.models import (
    AccountRole,
    ApportionmentPeriod,
    Bill,
    PeriodCase,
    PeriodChunk,
    PeriodStatus,
    Promotion,
)
from claims.models import Claim, ClaimState
from mutual.errors import ServiceError

CHUNK_IDS = 250_000
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")

_ELIGIBLE = """
    m.plan_id = %(plan)s AND m.in_pool_since <= %(cutoff)s
    AND (m.ended_at IS NULL OR m.ended_at > %(cutoff)s)
"""


def fee_for(amount_fen: int, fee_bp: int) -> int:
    return (amount_fen * fee_bp + 5_000) // 10_000


def _gather_cases(period: ApportionmentPeriod) -> None:
    plan = period.plan
    claims = Claim.objects.filter(
        plan=plan,
        state__in=[ClaimState.APPROVED, ClaimState.PAID],
        decided_at__gte=period.starts_at,
        decided_at__lt=period.cutoff_at,
        period_case__isnull=True,
    )
    promotions = list(Promotion.objects.filter(plan=plan))
    for claim in claims:
        waivers = [
            p.joined_before for p in promotions if claim.publicity_starts_at < p.cases_before
        ]
        PeriodCase.objects.create(
            period=period,
            claim=claim,
            publicized_at=claim.publicity_starts_at,
            amount_fen=claim.amount_approved_fen,
            fee_fen=fee_for(claim.amount_approved_fen, plan.management_fee_bp),
            waive_if_joined_before=max(waivers) if waivers else None,
        )


def _counts_per_bucket(period, cases, low_id) -> dict[int, list[int]]:
    """One scan of the plan's memberships: sharers of every case, per chunk of ids."""
    filters = ", ".join(
        f"count(*) FILTER (WHERE m.in_pool_since < %(pub{i})s)" for i in range(len(cases))
    )
    params = {
        "plan": period.plan_id,
        "cutoff": period.cutoff_at,
        "low": low_id,
        "size": CHUNK_IDS,
        **{f"pub{i}": c.publicized_at for i, c in enumerate(cases)},
    }
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT (m.id - %(low)s) / %(size)s AS bucket, {filters} "
            f"FROM members_membership m WHERE {_ELIGIBLE} GROUP BY 1 ORDER BY 1",
            params,
        )
        return {row[0]: list(row[1:]) for row in cursor.fetchall()}


def _threshold_id(period, case, bucket_low, bucket_high, offset) -> int:
    """The id of the offset-th (1-based) sharer of `case` inside one chunk of ids."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT m.id FROM members_membership m WHERE {_ELIGIBLE} "
            "AND m.in_pool_since < %(pub)s AND m.id >= %(lo)s AND m.id < %(hi)s "
            "ORDER BY m.id OFFSET %(skip)s LIMIT 1",
            {
                "plan": period.plan_id,
                "cutoff": period.cutoff_at,
                "pub": case.publicized_at,
                "lo": bucket_low,
                "hi": bucket_high,
                "skip": offset - 1,
            },
        )
        return cursor.fetchone()[0]


@transaction.atomic
def period_prepare(*, period_id: int) -> ApportionmentPeriod:
    """Fix the shares and cut the chunks. Idempotent: a prepared period is returned as is."""
    period = (
        ApportionmentPeriod.objects.select_for_update().select_related("plan").get(pk=period_id)
    )
    if period.status != PeriodStatus.OPEN:
        return period
    _gather_cases(period)
    cases = list(period.cases.order_by("claim_id"))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT min(id) FROM members_membership WHERE plan_id = %s", [period.plan_id]
        )
        (low_id,) = cursor.fetchone()
    if not cases or low_id is None:
        period.status = PeriodStatus.RUNNING
        period.save()
        return period
    counts = _counts_per_bucket(period, cases, low_id)
    for index, case in enumerate(cases):
        total = case.amount_fen + case.fee_fen
        sharers = sum(bucket[index] for bucket in counts.values())
        if sharers == 0:
            raise ServiceError(f"claim {case.claim_id} has no eligible members to share it")
        case.members_count = sharers
        case.base_share_fen, remainder = divmod(total, sharers)
        case.extra_fen_up_to_id = 0
        for bucket, bucket_counts in sorted(counts.items()):
            if remainder <= bucket_counts[index]:
                if remainder > 0:
                    lo = low_id + bucket * CHUNK_IDS
                    case.extra_fen_up_to_id = _threshold_id(
                        period, case, lo, lo + CHUNK_IDS, remainder
                    )
                break
            remainder -= bucket_counts[index]
        case.save()
    PeriodChunk.objects.bulk_create(
        PeriodChunk(
            period=period,
            index=i,
            first_id=low_id + b * CHUNK_IDS,
            last_id=low_id + (b + 1) * CHUNK_IDS - 1,
        )
        for i, b in enumerate(sorted(counts))
    )
    period.cases_total_fen = sum(c.amount_fen for c in cases)
    period.fee_total_fen = sum(c.fee_fen for c in cases)
    period.chunks_total = len(counts)
    period.status = PeriodStatus.RUNNING
    period.save()
    return period


_CHUNK_SQL = f"""
WITH eligible AS (
    SELECT m.id, m.joined_at, m.in_pool_since FROM members_membership m
     WHERE {_ELIGIBLE} AND m.id BETWEEN %(lo)s AND %(hi)s
), per_case AS (
    SELECT e.id AS membership_id, c.claim_id,
           c.base_share_fen + (e.id <= c.extra_fen_up_to_id)::int AS share,
           coalesce(e.joined_at < c.waive_if_joined_before, false) AS waived
      FROM eligible e
      JOIN billing_periodcase c ON c.period_id = %(period)s AND e.in_pool_since < c.publicized_at
), capped AS (
    SELECT membership_id, claim_id, share,
           CASE WHEN waived THEN share ELSE 0 END AS waived_fen,
           CASE WHEN waived THEN 0 ELSE least(share, %(case_cap)s) END AS payable
      FROM per_case
), year_to_date AS (
    SELECT b.membership_id, sum(b.charged_fen) AS charged
      FROM billing_bill b JOIN billing_apportionmentperiod p ON p.id = b.period_id
     WHERE p.plan_id = %(plan)s AND p.id <> %(period)s AND p.cutoff_at >= %(year_start)s
       AND p.cutoff_at < %(cutoff)s AND b.membership_id BETWEEN %(lo)s AND %(hi)s
     GROUP BY b.membership_id
), running AS (
    SELECT c.*, coalesce(y.charged, 0) AS ytd,
           sum(c.payable) OVER (PARTITION BY c.membership_id ORDER BY c.claim_id
                                ROWS UNBOUNDED PRECEDING) - c.payable AS earlier
      FROM capped c LEFT JOIN year_to_date y USING (membership_id)
), bills AS (
    SELECT membership_id, ytd, count(*) AS cases, sum(share) AS gross,
           sum(waived_fen) AS waived,
           sum(greatest(0, least(payable, %(year_cap)s - ytd - earlier))) AS charged
      FROM running GROUP BY membership_id, ytd
), inserted AS (
    INSERT INTO billing_bill (period_id, membership_id, cases_count, gross_fen, waived_fen,
                              capped_fen, charged_fen, year_to_date_before_fen)
    SELECT %(period)s, membership_id, cases, gross, waived, gross - waived - charged, charged, ytd
      FROM bills
    ON CONFLICT (period_id, membership_id) DO NOTHING
    RETURNING gross_fen, charged_fen
)
SELECT count(*), coalesce(sum(gross_fen), 0), coalesce(sum(charged_fen), 0) FROM inserted
"""


def _year_start(moment: datetime.datetime) -> datetime.datetime:
    local = moment.astimezone(SHANGHAI)
    return datetime.datetime(local.year, 1, 1, tzinfo=SHANGHAI)


def chunk_apportion(*, chunk_id: int, now: datetime.datetime) -> bool:
    """Bill one id range and post it, in one transaction. The conditional UPDATE that marks the
    chunk done is also the lock: a second delivery finds it done and does nothing."""
    with transaction.atomic():
        chunk = (
            PeriodChunk.objects.select_for_update().select_related("period__plan").get(pk=chunk_id)
        )
        if chunk.done_at is not None:
            return False
        period, plan = chunk.period, chunk.period.plan
        with connection.cursor() as cursor:
            cursor.execute(
                _CHUNK_SQL,
                {
                    "plan": plan.pk,
                    "period": period.pk,
                    "cutoff": period.cutoff_at,
                    "lo": chunk.first_id,
                    "hi": chunk.last_id,
                    "case_cap": plan.per_case_cap_fen,
                    "year_cap": plan.yearly_cap_fen,
                    "year_start": _year_start(period.cutoff_at),
                },
            )
            _members, gross, charged = cursor.fetchone()
        ledger_post(
            key=f"period:{period.pk}:chunk:{chunk.index}",
            description=f"apportionment {period}, members {chunk.first_id}-{chunk.last_id}",
            now=now,
            lines=[
                (account_for(plan, AccountRole.RECEIVABLE), charged, 0),
                (account_for(plan, AccountRole.SPONSOR), gross - charged, 0),
                (account_for(plan, AccountRole.CLEARING), 0, gross),
            ],
        )
        PeriodChunk.objects.filter(pk=chunk.pk).update(done_at=now)
        ApportionmentPeriod.objects.filter(pk=period.pk).update(chunks_done=F("chunks_done") + 1)
    return True


@transaction.atomic
def period_finish(*, period_id: int, now: datetime.datetime) -> ApportionmentPeriod:
    """Reconcile to the fen and post the cases. Idempotent; refuses while chunks remain."""
    period = (
        ApportionmentPeriod.objects.select_for_update().select_related("plan").get(pk=period_id)
    )
    if period.status in (PeriodStatus.POSTED, PeriodStatus.PAID):
        return period
    if period.chunks.filter(done_at__isnull=True).exists():
        raise ServiceError("chunks are still running", code="chunks_pending")
    totals = Bill.objects.filter(period=period).aggregate(
        gross=Sum("gross_fen"), charged=Sum("charged_fen")
    )
    gross, charged = totals["gross"] or 0, totals["charged"] or 0
    if gross != period.total_fen:
        raise ServiceError(
            f"period {period.pk} does not reconcile: members' shares {gross} "
            f"!= cases and fees {period.total_fen}",
            code="not_exact",
        )
    plan = period.plan
    if period.total_fen:
        ledger_post(
            key=f"period:{period.pk}:cases",
            description=f"cases and fees of {period}",
            now=now,
            lines=[
                (account_for(plan, AccountRole.CLEARING), period.total_fen, 0),
                (account_for(plan, AccountRole.FUND), 0, period.cases_total_fen),
                (account_for(plan, AccountRole.FEE_INCOME), 0, period.fee_total_fen),
            ],
        )
    period.members_count = Bill.objects.filter(period=period).count()
    period.charged_fen, period.sponsor_fen = charged, gross - charged
    period.status, period.posted_at = PeriodStatus.POSTED, now
    period.save()
    return period


def period_start(*, period_id: int) -> list[int]:
    """Prepare (once) and return the chunks still to bill: a resumed run gets only those."""
    period_prepare(period_id=period_id)
    pending = PeriodChunk.objects.filter(period_id=period_id, done_at__isnull=True)
    return list(pending.order_by("index").values_list("pk", flat=True))


def period_run_inline(*, period_id: int, now: datetime.datetime) -> ApportionmentPeriod:
    """Prepare, every chunk, finish, in this process (tests, small plans, the preview)."""
    for chunk_id in period_start(period_id=period_id):
        chunk_apportion(chunk_id=chunk_id, now=now)
    return period_finish(period_id=period_id, now=now)
