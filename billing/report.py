"""The public report of a posted period, and the public list of cases in publicity: read by
anyone, without login, so nothing personal leaves here: no names, national ids, member,
membership or claim ids. A case is its age band, illness, hospital, amount and the root
(last link) of its evidence chain; members are counted, never listed."""

from __future__ import annotations

import datetime
from decimal import Decimal
from fractions import Fraction

from django.core.cache import cache
from django.db.models import Prefetch

from billing import whatif
from billing.models import FINISHED, ApportionmentPeriod, PeriodCohort
from claims import jury
from claims.models import Claim, ClaimState, EvidenceDocument, JuryDraw
from members.models import Plan
from mutual.core.timezones import local_date

_BAND = 10  # years


def age_band(claim: Claim) -> str:
    age = claim.membership.member.age_on(claim.incident_date)
    low = age // _BAND * _BAND
    return f"{low}-{low + _BAND - 1}"


def _evidence_root(claim: Claim) -> str | None:
    links = list(claim.evidence.all())  # prefetched in chain order
    return links[-1].link_hash if links else None


def _condition(claim: Claim) -> dict | None:
    condition = claim.condition
    if condition is None:
        return None
    return {
        "code": condition.code,
        "name_en": condition.name_en,
        "name_zh": condition.name_zh,
        "category": condition.category,
    }


def _case(claim: Claim, amount_fen: int) -> dict:
    return {
        "age_band": age_band(claim),
        "incident_kind": claim.incident_kind,
        "condition": _condition(claim),
        "illness": claim.diagnosis,
        "hospital": claim.hospital,
        "amount_fen": amount_fen,
        "evidence_root": _evidence_root(claim),
        "jury": _jury(claim),
    }


def _jury(claim: Claim) -> dict | None:
    """The jury draw's commitment, and its seed once revealed (claims/jury.py)."""
    draws = claim.draws_in_order  # prefetched: the last is the current round's
    return jury.public_draw(draws[-1]) if draws else None


def _claims(queryset):
    return queryset.select_related("membership__member", "plan", "condition").prefetch_related(
        Prefetch("evidence", queryset=EvidenceDocument.objects.order_by("position")),
        Prefetch(
            "jury_draws",
            queryset=JuryDraw.objects.defer("eligible").order_by("round"),
            to_attr="draws_in_order",
        ),
    )


def public_periods():
    return (
        ApportionmentPeriod.objects.filter(status__in=FINISHED)
        .select_related("plan")
        .order_by("plan__code", "-cutoff_at")
    )


def _cohort_label(cohort: PeriodCohort) -> dict:
    def day(moment):
        return local_date(moment).isoformat() if moment else None

    return {
        "entered_pool_from": day(cohort.in_pool_from),
        "entered_pool_before": day(cohort.in_pool_before),
        # Members who left (or lapsed) between two notices: they share the cases noticed
        # while they were covered. Both None: still covered at the period's last notice.
        "cover_ended_after": day(cohort.ended_after),
        "cover_ended_by": day(cohort.ended_by),
        "joined_from": day(cohort.joined_from),
        "joined_before": day(cohort.joined_before),
    }


def period_report(period: ApportionmentPeriod) -> dict:
    """What the period shared, and how, with its Merkle root and the previous one."""
    cases = period.cases.select_related("claim").order_by("publicized_at", "claim_id")
    claims = {c.pk: c for c in _claims(Claim.objects.filter(pk__in=cases.values("claim_id")))}
    head = (period.merkle_head or {}).get("head", {})
    cohorts = period.cohorts.filter(members_count__gt=0).order_by("index")
    return {
        "plan": {"code": period.plan.code, "name": period.plan.name},
        "period": period.pk,
        "cutoff": local_date(period.cutoff_at).isoformat(),
        "status": period.status,
        "cases": [
            {
                **_case(claims[c.claim_id], c.amount_fen),
                "fee_fen": c.fee_fen,
                "recovered_fen": c.recovered_fen,
                "sharers": c.members_count,
            }
            for c in cases
        ],
        "totals": {
            "cases": len(claims),
            "cases_fen": period.cases_total_fen,
            "fees_fen": period.fee_total_fen,
            # Payouts recovered from claims of earlier periods (found fraudulent), spent on
            # this period's cases: the members share the total, which is that much lower.
            "recovered_fen": period.recovered_fen,
            "total_fen": period.total_fen,
            "charged_fen": period.charged_fen,
            "sponsor_fen": period.sponsor_fen,
        },
        # Everyone covered at a case's notice, whether or not they left before the cutoff
        # (a bill of no case, carrying a year to date, is not a share).
        "sharers": sum(c.members_count for c in cohorts if c.cases_count),
        "shares": [
            {
                **_cohort_label(cohort),
                "members": cohort.members_count,
                "cases": cohort.cases_count,
                "share_fen": str(cohort.gross_share_fen),
                "payable_share_fen": str(cohort.payable_share_fen),
            }
            for cohort in cohorts
        ],
        "merkle": {
            "size": period.merkle_size,
            "root": period.merkle_root or None,
            "previous_root": head.get("previous_root"),
            "signed_head": period.merkle_head,
        },
    }


def period_report_kept(period: ApportionmentPeriod) -> dict:
    """period_report, kept in the cache once the period is posted and its tree sealed: from
    then on it never changes."""
    if period.status not in FINISHED or not period.merkle_root:
        return period_report(period)
    key = f"period-report:{period.pk}:{period.status}:{period.merkle_root}"
    return cache.get_or_set(key, lambda: period_report(period), timeout=7 * 24 * 3600)


def cases_in_publicity() -> list[dict]:
    """Every plan's cases in their public window now, anonymised."""
    claims = _claims(
        Claim.objects.filter(state__in=[ClaimState.PUBLICIZED, ClaimState.DISPUTED])
    ).order_by("publicity_ends_at", "pk")
    return [
        {
            "plan": claim.plan.code,
            **_case(claim, claim.amount_approved_fen),
            "publicity_starts_at": claim.publicity_starts_at.isoformat(),
            "publicity_ends_at": claim.publicity_ends_at.isoformat(),
            "disputed": claim.state == ClaimState.DISPUTED,
        }
        for claim in claims
    ]


def fen6(amount: Fraction) -> str:
    """An exact amount of fen to a millionth, rounded down (as the cohorts' shares are)."""
    return str(Decimal(amount.numerator * 10**6 // amount.denominator).scaleb(-6))


def estimate(outcome: whatif.Outcome) -> dict:
    return {
        "cases": outcome.cases,
        "sharers": outcome.members,
        "total_fen": outcome.total_fen,
        "share_fen": fen6(outcome.share_fen),
        "after_per_case_cap_fen": fen6(outcome.after_case_cap_fen),
        "charged_fen": fen6(outcome.charged_fen),
        "sponsor_fen": fen6(outcome.sponsor_fen),
    }


def next_period_estimates(*, now: datetime.datetime) -> list[dict]:
    """Per plan with cases in publicity: the next period's share for a member who shares
    them all, estimated from those cases (billing/whatif.py, billing/rules/)."""
    plans = (
        Plan.objects.filter(claims__state__in=[ClaimState.PUBLICIZED, ClaimState.DISPUTED])
        .distinct()
        .order_by("code")
    )
    return [e for e in (plan_estimate(plan, now=now) for plan in plans) if e is not None]


def plan_estimate(plan: Plan, *, now: datetime.datetime) -> dict | None:
    outcome = whatif.plan_forecast(plan=plan, now=now)
    return None if outcome is None else {"plan": plan.code, **estimate(outcome)}
