"""Apportionment at scale: the rules of billing/rules/ applied to millions of members in SQL
(the statements are billing/apportion_sql.py's).

Three phases: `period_prepare` (gather the cases, count the members of each cohort per chunk of
ids in one pass, compute the cohorts' exact shares and each group's extra fen in Python, cut the
chunks), `chunk_apportion` (one INSERT ... SELECT per chunk of membership ids, one ledger posting,
idempotent), `period_finish` (reconcile and post the cases to the fund and fee income).

No statement grows with the number of cases: a member's cohort is two binary searches
(`width_bucket`) over arrays passed as parameters, and their amounts are array lookups. The year
to date is carried on each bill, so a period reads only the bills of the one before it."""

from __future__ import annotations

import datetime
import logging
import time

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max, Q, Sum

from billing import apportion_sql, partitions, recoveries, rules
from billing.errors import ErrorCode
from billing.ledger import account_for, ledger_post
from billing.models import (
    FINISHED,
    AccountRole,
    ApportionmentPeriod,
    PeriodCase,
    PeriodChunk,
    PeriodCohort,
    PeriodStatus,
    Promotion,
)
from claims.models import Claim, ClaimState
from members.models import Plan
from members.selectors import plan_rules_at
from mutual.core.errors import InvariantError, ServiceError
from mutual.core.timezones import year_start

logger = logging.getLogger(__name__)


def _gather_cases(period: ApportionmentPeriod) -> list[PeriodCase]:
    """The claims approved by the period's cutoff and in no period yet, as unsaved cases in
    publicity order."""
    plan = period.plan
    # Every approved claim decided before the cutoff that no period holds, however early it was
    # decided (a plan's first period, a period made by hand): none is left out (issue 24). A
    # claim already paid is gathered only from the period's own window.
    claims = Claim.objects.filter(
        Q(state=ClaimState.APPROVED) | Q(state=ClaimState.PAID, decided_at__gte=period.starts_at),
        plan=plan,
        decided_at__lt=period.cutoff_at,
        period_case__isnull=True,
    ).order_by("publicity_starts_at", "pk")
    promotions = list(
        Promotion.objects.filter(plan=plan).values_list("joined_before", "cases_before")
    )
    return [
        PeriodCase(
            period=period,
            claim_id=claim_id,
            publicized_at=publicized_at,
            amount_fen=amount_fen,
            fee_fen=rules.fee_for(amount_fen, period.management_fee_bp),
            waive_if_joined_before=rules.waiver_date(publicized_at, promotions),
        )
        for claim_id, publicized_at, amount_fen in claims.values_list(
            "pk", "publicity_starts_at", "amount_approved_fen"
        )
    ]


def previous_period(period: ApportionmentPeriod) -> ApportionmentPeriod | None:
    """The period whose bills carry this one's year to date: the plan's last period this year
    that billed anyone. Every earlier period must be finished first."""
    earlier = ApportionmentPeriod.objects.filter(
        plan_id=period.plan_id, cutoff_at__lt=period.cutoff_at
    )
    later = ApportionmentPeriod.objects.filter(
        plan_id=period.plan_id, cutoff_at__gt=period.cutoff_at, status__in=FINISHED
    ).first()
    if later is not None:
        raise ServiceError(
            f"the later period {later} is already posted: a period cannot be billed before it",
            code=ErrorCode.LATER_PERIOD_POSTED,
        )
    unfinished = earlier.exclude(status__in=FINISHED).order_by("cutoff_at").first()
    if unfinished is not None:
        raise ServiceError(
            f"the earlier period {unfinished} is {unfinished.status}: periods are billed in order",
            code=ErrorCode.EARLIER_PERIOD_UNFINISHED,
        )
    return (
        earlier.filter(cutoff_at__gte=year_start(period.cutoff_at), members_count__gt=0)
        .order_by("-cutoff_at")
        .first()
    )


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
    plan = period.plan
    # Who shares is counted below: membership changes wait for this lock, and those dated up
    # to the cutoff then take effect just after it (members.services.effective_after_billing).
    Plan.objects.select_for_update(of=("self",)).filter(pk=plan.pk).values_list("pk").get()
    period.previous_period = previous_period(period)
    in_force = plan_rules_at(plan=plan, at=period.cutoff_at)  # not today's: the cutoff's
    period.management_fee_bp = in_force.management_fee_bp
    period.per_case_cap_fen = in_force.per_case_cap_fen
    period.yearly_cap_fen = in_force.yearly_cap_fen
    period_cases = _gather_cases(period)
    recoveries.spend_on_cases(period, period_cases)
    cases = [c.rule_case() for c in period_cases]
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(id) FROM members_membership WHERE plan_id = %s", [plan.pk])
        (low_id,) = cursor.fetchone()
    period.status = PeriodStatus.RUNNING
    Plan.objects.filter(pk=plan.pk).filter(
        Q(billed_through__isnull=True) | Q(billed_through__lt=period.cutoff_at)
    ).update(billed_through=period.cutoff_at)
    if not cases:
        period.save()
        return period
    if low_id is None:
        raise InvariantError(f"period {period.pk} has cases but its plan has no members")
    partitions.bills_table_create(period.pk)
    calendar = rules.Calendar.of(cases)
    calendar, groups = apportion_sql.members_per_group(period, calendar, low_id)
    if calendar.size >= apportion_sql.MAX_COHORTS:
        raise InvariantError(
            f"period {period.pk} has {calendar.size} cohorts: the draw's sort key holds "
            f"{apportion_sql.MAX_COHORTS - 1} at most"
        )
    per_cohort: dict[int, int] = {}
    for (_chunk, cohort), count in groups.items():
        per_cohort[cohort] = per_cohort.get(cohort, 0) + count
    sharers = rules.sharers_per_case(cases, calendar, per_cohort)
    for case, n in zip(cases, sharers, strict=True):
        if n == 0:
            raise InvariantError(f"claim {case.claim_id} has no eligible members to share it")
    shares = rules.cohort_shares(
        cases, calendar, sharers, per_case_cap_fen=period.per_case_cap_fen, cohorts=per_cohort
    )
    extras = rules.group_extras(
        shares,
        {key: count for key, count in groups.items() if shares.cohorts[key[1]].cases_count},
        total_fen=sum(c.total_fen for c in cases),
        period_id=period.pk,
    )
    _save_shares(period, period_cases, sharers, calendar, shares, per_cohort)
    chunk_extras: dict[int, list[list[int]]] = {chunk: [] for chunk, _ in groups}
    members_before: dict[tuple[int, int], int] = {}  # the chunk's members in lower cohorts
    seen: dict[int, int] = {}
    for (chunk, cohort), count in sorted(groups.items()):
        members_before[chunk, cohort] = seen.get(chunk, 0)
        seen[chunk] = seen.get(chunk, 0) + count
    for (chunk, cohort), extra in sorted(extras.items()):
        if extra.gross or extra.net or extra.payable:
            chunk_extras[chunk].append(
                [cohort, extra.gross, extra.net, extra.payable, members_before[chunk, cohort]]
            )
    size = settings.APPORTION_CHUNK_IDS
    PeriodChunk.objects.bulk_create(
        PeriodChunk(
            period=period,
            index=i,
            first_id=low_id + chunk * size,
            last_id=low_id + (chunk + 1) * size - 1,
            extras=chunk_extras[chunk],
        )
        for i, chunk in enumerate(sorted(chunk_extras))
    )
    period.cases_total_fen = sum(c.amount_fen for c in cases)
    period.fee_total_fen = sum(c.fee_fen for c in cases)
    period.chunks_total = len(chunk_extras)
    period.save()
    return period


def _copy_rows(model, columns: list[str], rows) -> None:
    """Write many rows with COPY: thousands of cases and cohorts, without the ORM's per-row
    cost (a second at three thousand cases)."""
    with (
        connection.cursor() as cursor,
        cursor.copy(f"COPY {model._meta.db_table} ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)


def _save_shares(period, period_cases, sharers, calendar, shares, per_cohort) -> None:
    _copy_rows(
        PeriodCase,
        ["period_id", "claim_id", "publicized_at", "amount_fen", "fee_fen", "members_count",
         "base_share_fen", "waive_if_joined_before", "recovered_fen"],
        (
            (period.pk, c.claim_id, c.publicized_at, c.amount_fen, c.fee_fen, n,
             c.rule_case().total_fen // n, c.waive_if_joined_before, c.recovered_fen)
            for c, n in zip(period_cases, sharers, strict=True)
        ),
    )  # fmt: skip
    bounds = ["in_pool_from", "in_pool_before", "ended_after", "ended_by", "joined_from",
              "joined_before"]  # fmt: skip
    _copy_rows(
        PeriodCohort,
        ["period_id", "index", "members_count", "cases_count", "gross_base_fen", "net_base_fen",
         "payable_base_fen", "gross_share_fen", "payable_share_fen", "exit_key", *bounds],
        (
            (period.pk, cohort, per_cohort[cohort], share.cases_count,
             shares.base(share.gross), shares.base(share.net), shares.base(share.payable),
             shares.display(share.gross), shares.display(share.payable),
             calendar.exits[cohort - calendar.base] if cohort >= calendar.base else None,
             *(calendar.bounds(cohort)[name] for name in bounds))
            for cohort, share in sorted(shares.cohorts.items())
        ),
    )  # fmt: skip


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
            # The workers already keep every core busy with one chunk each: no parallel plan.
            cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
            # Members and last period's bills are both read in id order: merge, don't hash,
            # and read the bills through their index (already sorted), not a bitmap and a sort.
            cursor.execute("SET LOCAL enable_hashjoin = off")
            cursor.execute("SET LOCAL enable_bitmapscan = off")
        chunk = (
            PeriodChunk.objects.select_for_update(of=("self",))
            .select_related("period__plan")
            .get(pk=chunk_id)
        )
        if chunk.done_at is not None:
            return False
        period, plan = chunk.period, chunk.period.plan
        sql, params = apportion_sql.chunk_statement(period, chunk)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            members_count, gross, charged, max_charged = cursor.fetchone()
        ledger_post(
            key=f"period:{period.pk}:chunk:{chunk.index}",
            description=f"apportionment {period}, members {chunk.first_id}-{chunk.last_id}",
            now=now,
            lines=[
                (account_for(plan=plan, role=AccountRole.RECEIVABLE), charged, 0),
                (account_for(plan=plan, role=AccountRole.SPONSOR), gross - charged, 0),
                (account_for(plan=plan, role=AccountRole.CLEARING), 0, gross),
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
    if period.status in FINISHED:
        return period
    if period.status != PeriodStatus.RUNNING:
        raise ServiceError(
            f"the period is {period.status}, not running", code=ErrorCode.NOT_RUNNING
        )
    if period.chunks.filter(done_at__isnull=True).exists():
        raise ServiceError("chunks are still running", code=ErrorCode.CHUNKS_PENDING)
    # Each chunk recorded what it billed, in the transaction that billed it.
    totals = period.chunks.aggregate(
        gross=Sum("gross_fen"),
        charged=Sum("charged_fen"),
        members=Sum("members_count"),
        max_charged=Max("max_charged_fen"),
    )
    gross, charged = totals["gross"] or 0, totals["charged"] or 0
    if gross != period.total_fen:
        raise InvariantError(
            f"period {period.pk} does not reconcile: members' shares {gross} "
            f"!= cases and fees {period.total_fen}"
        )
    partitions.bills_table_attach(period.pk)
    plan = period.plan
    if period.cases_total_fen or period.fee_total_fen:
        ledger_post(
            key=f"period:{period.pk}:cases",
            description=f"cases and fees of {period}",
            now=now,
            lines=[
                (account_for(plan=plan, role=AccountRole.CLEARING), period.total_fen, 0),
                (account_for(plan=plan, role=AccountRole.RECOVERED), period.recovered_fen, 0),
                (account_for(plan=plan, role=AccountRole.FUND), 0, period.cases_total_fen),
                (account_for(plan=plan, role=AccountRole.FEE_INCOME), 0, period.fee_total_fen),
            ],
        )
    period.members_count = totals["members"] or 0
    period.max_charged_fen = totals["max_charged"] or 0
    period.charged_fen, period.sponsor_fen = charged, gross - charged
    period.status, period.posted_at = PeriodStatus.POSTED, now
    period.failed_at, period.failure = None, ""
    period.save()
    return period


def period_preview(*, period_id: int) -> dict:
    """The period's figures without writing anything: cases, sharers, the exact charges and the
    sponsor's cover, by the same SQL as a run; everything is rolled back."""
    with transaction.atomic():
        period = period_prepare(period_id=period_id)
        cases = list(period.cases.order_by("claim_id"))
        cap = period.per_case_cap_fen
        figures = {
            "cases": [
                {
                    "claim_id": c.claim_id,
                    "amount_fen": c.amount_fen,
                    "fee_fen": c.fee_fen,
                    "members": c.members_count,
                    "share_fen": c.base_share_fen,
                    "recovered_fen": c.recovered_fen,
                    # exact: each sharer's share, and what the per-case cap leaves of it
                    "exact_fen": rules.case_share(c.rule_case(), c.members_count, cap),
                }
                for c in cases
            ],
            "recovered_fen": period.recovered_fen,
            "per_case_cap_fen": cap,
            "total_fen": period.total_fen,
            "members": 0,
            "charged_fen": 0,
            "sponsor_fen": 0,
        }
        for chunk in period.chunks.order_by("index"):
            sql, params = apportion_sql.chunk_statement(period, chunk, dry_run=True)
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                members, gross, charged, _max = cursor.fetchone()
            figures["members"] += members
            figures["charged_fen"] += charged
            figures["sponsor_fen"] += gross - charged
        transaction.set_rollback(True)
    return figures


def period_pending_chunks(*, period_id: int) -> list[int] | None:
    """Prepare (once) and return the chunks still to bill: a resumed run gets only those.
    None when there is nothing to run: the period is finished, or failed (finance retries)."""
    if period_prepare(period_id=period_id).status != PeriodStatus.RUNNING:
        return None
    pending = PeriodChunk.objects.filter(period_id=period_id, done_at__isnull=True)
    return list(pending.order_by("index").values_list("pk", flat=True))


def period_index_bills(*, period_id: int) -> None:
    """Index the run's bills once every chunk is done (before `period_finish` attaches them).
    Two finishers at once (a redelivered task) take turns: CREATE INDEX IF NOT EXISTS does not
    see an index that another session is still building."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s, %s)", [_INDEX_LOCK, period_id])
    try:
        period = ApportionmentPeriod.objects.get(pk=period_id)
        pending = period.chunks.filter(done_at__isnull=True).exists()
        if period.status == PeriodStatus.RUNNING and not pending:
            started = time.monotonic()
            partitions.bills_table_index(period_id)
            logger.info("period %s: bills indexed in %.1f s", period_id, time.monotonic() - started)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [_INDEX_LOCK, period_id])


_INDEX_LOCK = 7_001  # advisory lock class: indexing a period's bills
