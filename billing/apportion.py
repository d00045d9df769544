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

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max, Min, Sum

from billing.ledger import account_for, ledger_post
from billing.models import (
    AccountRole,
    ApportionmentPeriod,
    PeriodCase,
    PeriodChunk,
    PeriodStatus,
    Promotion,
)
from claims.models import Claim, ClaimState
from mutual.errors import ServiceError

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


def _create_bill_partition(period_id: int) -> None:
    """Each period's bills get their own partition (see migration 0008)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS billing_bill_p{int(period_id)} "
            f"PARTITION OF billing_bill FOR VALUES IN ({int(period_id)})"
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
        "size": settings.APPORTION_CHUNK_IDS,
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
        ApportionmentPeriod.objects.select_for_update(of=("self",))
        .select_related("plan")
        .get(pk=period_id)
    )
    if period.status != PeriodStatus.OPEN:
        return period
    _gather_cases(period)
    _create_bill_partition(period.pk)
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
                    lo = low_id + bucket * settings.APPORTION_CHUNK_IDS
                    case.extra_fen_up_to_id = _threshold_id(
                        period, case, lo, lo + settings.APPORTION_CHUNK_IDS, remainder
                    )
                break
            remainder -= bucket_counts[index]
        case.save()
    PeriodChunk.objects.bulk_create(
        PeriodChunk(
            period=period,
            index=i,
            first_id=low_id + b * settings.APPORTION_CHUNK_IDS,
            last_id=low_id + (b + 1) * settings.APPORTION_CHUNK_IDS - 1,
        )
        for i, b in enumerate(sorted(counts))
    )
    period.cases_total_fen = sum(c.amount_fen for c in cases)
    period.fee_total_fen = sum(c.fee_fen for c in cases)
    period.chunks_total = len(counts)
    period.status = PeriodStatus.RUNNING
    period.save()
    return period


def _chunk_sql(
    cases: list[PeriodCase], *, yearly_cap_can_bind: bool, dry_run: bool = False
) -> tuple[str, dict]:
    """One pass over a chunk's memberships, one inline term per case (periods hold few cases),
    so there is no members x cases join. The yearly cap needs no per-case order here: cutting
    the payable shares, taken in claim order, at the remaining headroom sums to
    least(payable, headroom); the order only matters when a bill is broken down by case.
    When the cap cannot bind this period, the year-to-date lookup is skipped (stored as NULL)."""
    params: dict = {}
    share_terms, waived_terms, payable_terms, count_terms = [], [], [], []
    for i, case in enumerate(cases):
        params |= {
            f"pub{i}": case.publicized_at,
            f"base{i}": case.base_share_fen,
            f"upto{i}": case.extra_fen_up_to_id,
        }
        share = (
            f"(CASE WHEN m.in_pool_since < %(pub{i})s "
            f"THEN %(base{i})s + (m.id <= %(upto{i})s)::int ELSE 0 END)"
        )
        share_terms.append(f"{share} AS s{i}")
        count_terms.append(f"(m.in_pool_since < %(pub{i})s)::int")
        if case.waive_if_joined_before is not None:
            params[f"waive{i}"] = case.waive_if_joined_before
            share_terms.append(f"(m.joined_at < %(waive{i})s) AS w{i}")
            waived_terms.append(f"(CASE WHEN w{i} THEN s{i} ELSE 0 END)")
            payable_terms.append(f"(CASE WHEN w{i} THEN 0 ELSE least(s{i}, %(case_cap)s) END)")
        else:
            payable_terms.append(f"least(s{i}, %(case_cap)s)")
    params["last_pub"] = max(case.publicized_at for case in cases)
    gross = " + ".join(f"s{i}" for i in range(len(cases)))
    sql = f"""
WITH shares AS (
    SELECT m.id AS membership_id, {" + ".join(count_terms)} AS cases, {", ".join(share_terms)}
      FROM members_membership m
     WHERE {_ELIGIBLE} AND m.id BETWEEN %(lo)s AND %(hi)s AND m.in_pool_since < %(last_pub)s
), totals AS (
    SELECT membership_id, cases, {gross} AS gross, {" + ".join(waived_terms) or "0"} AS waived,
           {" + ".join(payable_terms)} AS payable
      FROM shares
){{year_to_date}}), inserted AS ({{write}})
SELECT count(*), coalesce(sum(gross_fen), 0), coalesce(sum(charged_fen), 0),
       coalesce(max(charged_fen), 0)
  FROM inserted
"""
    sql = sql.replace("{year_to_date}", _YEAR_TO_DATE if yearly_cap_can_bind else _NO_YEAR_TO_DATE)
    return sql.replace("{write}", _DRY_RUN if dry_run else _WRITE_BILLS), params


_WRITE_BILLS = """
    INSERT INTO billing_bill (period_id, membership_id, cases_count, gross_fen, waived_fen,
                              capped_fen, charged_fen, year_to_date_before_fen)
    SELECT %(period)s, membership_id, cases, gross, waived, gross - waived - charged, charged, ytd
      FROM bills
    RETURNING gross_fen, charged_fen
"""
_DRY_RUN = "SELECT gross AS gross_fen, charged AS charged_fen FROM bills"


_YEAR_TO_DATE = """, year_to_date AS (
    SELECT b.membership_id, sum(b.charged_fen) AS charged
      FROM billing_bill b JOIN billing_apportionmentperiod p ON p.id = b.period_id
     WHERE p.plan_id = %(plan)s AND p.id <> %(period)s AND p.cutoff_at >= %(year_start)s
       AND p.cutoff_at < %(cutoff)s AND b.membership_id BETWEEN %(lo)s AND %(hi)s
     GROUP BY b.membership_id
), bills AS (
    SELECT t.*, coalesce(y.charged, 0) AS ytd,
           least(t.payable, greatest(0, %(year_cap)s - coalesce(y.charged, 0))) AS charged
      FROM totals t LEFT JOIN year_to_date y USING (membership_id)
"""
_NO_YEAR_TO_DATE = """, bills AS (
    SELECT t.*, NULL::bigint AS ytd, t.payable AS charged FROM totals t
"""


def yearly_cap_can_bind(period: ApportionmentPeriod, cases: list[PeriodCase]) -> bool:
    """False when no member can reach the yearly cap: the largest charge of each earlier
    period this year plus the most anyone can pay now stays within it. Exact, not a guess."""
    plan = period.plan
    earlier = ApportionmentPeriod.objects.filter(
        plan=plan, cutoff_at__gte=_year_start(period.cutoff_at), cutoff_at__lt=period.cutoff_at
    ).exclude(pk=period.pk)
    if earlier.exclude(status__in=[PeriodStatus.POSTED, PeriodStatus.PAID]).exists():
        return True  # an unfinished earlier period: its largest charge is not known yet
    paid_before = earlier.aggregate(total=Sum("max_charged_fen"))["total"] or 0
    most_now = sum(min(case.base_share_fen + 1, plan.per_case_cap_fen) for case in cases)
    return paid_before + most_now > plan.yearly_cap_fen


def _year_start(moment: datetime.datetime) -> datetime.datetime:
    local = moment.astimezone(SHANGHAI)
    return datetime.datetime(local.year, 1, 1, tzinfo=SHANGHAI)


def _chunk_params(period: ApportionmentPeriod, first_id: int, last_id: int) -> dict:
    plan = period.plan
    return {
        "plan": plan.pk,
        "period": period.pk,
        "cutoff": period.cutoff_at,
        "lo": first_id,
        "hi": last_id,
        "case_cap": plan.per_case_cap_fen,
        "year_cap": plan.yearly_cap_fen,
        "year_start": _year_start(period.cutoff_at),
    }


def chunk_apportion(*, chunk_id: int, now: datetime.datetime) -> bool:
    """Bill one id range and post it, in one transaction. The chunk row is locked first and
    marked done in the same transaction, so a second delivery waits, then finds it done and
    does nothing; a killed run leaves no trace and is simply run again. (Hence no ON CONFLICT:
    a duplicate bill would be a bug, and the unique index would refuse it loudly.)"""
    with transaction.atomic():
        with connection.cursor() as cursor:
            # Don't wait for this chunk's WAL to reach disk: if a crash loses the commit, it
            # loses the chunk's done mark with it, and the resumed run bills the chunk again.
            cursor.execute("SET LOCAL synchronous_commit = off")
        chunk = (
            PeriodChunk.objects.select_for_update(of=("self",))
            .select_related("period__plan")
            .get(pk=chunk_id)
        )
        if chunk.done_at is not None:
            return False
        period, plan = chunk.period, chunk.period.plan
        cases = list(period.cases.order_by("claim_id"))
        sql, case_params = _chunk_sql(cases, yearly_cap_can_bind=yearly_cap_can_bind(period, cases))
        with connection.cursor() as cursor:
            cursor.execute(sql, case_params | _chunk_params(period, chunk.first_id, chunk.last_id))
            members_count, gross, charged, max_charged = cursor.fetchone()
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
        PeriodChunk.objects.filter(pk=chunk.pk).update(
            done_at=now,
            members_count=members_count,
            gross_fen=gross,
            charged_fen=charged,
            max_charged_fen=max_charged,
        )
    return True


@transaction.atomic
def period_finish(*, period_id: int, now: datetime.datetime) -> ApportionmentPeriod:
    """Reconcile to the fen and post the cases. Idempotent; refuses while chunks remain."""
    period = (
        ApportionmentPeriod.objects.select_for_update(of=("self",))
        .select_related("plan")
        .get(pk=period_id)
    )
    if period.status in (PeriodStatus.POSTED, PeriodStatus.PAID):
        return period
    if period.chunks.filter(done_at__isnull=True).exists():
        raise ServiceError("chunks are still running", code="chunks_pending")
    # Each chunk recorded what it billed, in the transaction that billed it.
    totals = period.chunks.aggregate(
        gross=Sum("gross_fen"),
        charged=Sum("charged_fen"),
        members=Sum("members_count"),
        max_charged=Max("max_charged_fen"),
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
    period.members_count = totals["members"] or 0
    period.max_charged_fen = totals["max_charged"] or 0
    period.charged_fen, period.sponsor_fen = charged, gross - charged
    period.status, period.posted_at = PeriodStatus.POSTED, now
    period.save()
    return period


def period_preview(*, period_id: int) -> dict:
    """The period's figures without writing anything: cases, sharers, the exact charges and the
    sponsor's cover. One pass over the plan's members; everything is rolled back."""
    with transaction.atomic():
        period = period_prepare(period_id=period_id)
        cases = list(period.cases.order_by("claim_id"))
        figures = {
            "cases": [
                {
                    "claim_id": c.claim_id,
                    "amount_fen": c.amount_fen,
                    "fee_fen": c.fee_fen,
                    "members": c.members_count,
                    "share_fen": c.base_share_fen,
                }
                for c in cases
            ],
            "total_fen": period.total_fen,
            "members": 0,
            "charged_fen": 0,
            "sponsor_fen": 0,
        }
        chunks = period.chunks.aggregate(low=Min("first_id"), high=Max("last_id"))
        if cases and chunks["low"] is not None:
            sql, params = _chunk_sql(
                cases, yearly_cap_can_bind=yearly_cap_can_bind(period, cases), dry_run=True
            )
            with connection.cursor() as cursor:
                cursor.execute(sql, params | _chunk_params(period, chunks["low"], chunks["high"]))
                members, gross, charged, _max = cursor.fetchone()
            figures |= {"members": members, "charged_fen": charged, "sponsor_fen": gross - charged}
        transaction.set_rollback(True)
    return figures


def period_start(*, period_id: int) -> list[int]:
    """Prepare (once) and return the chunks still to bill: a resumed run gets only those."""
    period_prepare(period_id=period_id)
    pending = PeriodChunk.objects.filter(period_id=period_id, done_at__isnull=True)
    return list(pending.order_by("index").values_list("pk", flat=True))


def period_vacuum(*, period_id: int) -> None:
    """VACUUM (ANALYZE) the period's fresh partition once it is posted: statistics, the
    visibility map and frozen rows now, rather than autovacuum at a random later moment,
    perhaps in the middle of the next run. Needs autocommit (not inside a transaction)."""
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM (ANALYZE) billing_bill_p{int(period_id)}")


def period_run_inline(*, period_id: int, now: datetime.datetime) -> ApportionmentPeriod:
    """Prepare, every chunk, finish, in this process (tests, small plans, the preview)."""
    for chunk_id in period_start(period_id=period_id):
        chunk_apportion(chunk_id=chunk_id, now=now)
    return period_finish(period_id=period_id, now=now)
