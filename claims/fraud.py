"""Fraud and duplicate signals, computed when a claim arrives and each time it moves. Each
signal has a stable code and a weight; their sum is the claim's risk score, and a claim at or
above its plan's threshold waits in the supervisors' queue (the desk *Risky*). A signal never
refuses a claim: people decide, the signals only route (as Lemonade's automatic checks may pay
but never refuse alone)."""

from __future__ import annotations

import datetime

from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce

from claims.models import Claim, ClaimSignal, ClaimState, IncidentKind, SignalCode
from members.models import Membership, MembershipStatus
from mutual.core.personal_data import blind_index

WEIGHTS = {
    SignalCode.DUPLICATE_PERSON: 50,
    SignalCode.EARLY_AFTER_WAITING: 30,
    SignalCode.SAME_INCIDENT: 40,
    SignalCode.FULL_COVER_FOR_LESSER: 10,
    SignalCode.MANY_CLAIMS_PAYER: 20,
}
EARLY_WINDOW = datetime.timedelta(days=15)
MANY_CLAIMS = 3  # claims from one account holder's household in 365 days, this one included
YEAR = datetime.timedelta(days=365)
DEFAULT_RISK_THRESHOLD = 50
CLOSED = (ClaimState.PAID, ClaimState.REJECTED, ClaimState.WITHDRAWN)


def _duplicate_person(claim: Claim) -> str | None:
    """Another person record with the same national id (spaces and case aside: its blind
    index), covered in the same plan: one person insured twice, through two account holders.
    The index is unique, so today the database refuses a second record of one person when it
    is added ("already registered"); the signal stays for the day that is relaxed (a merge of
    two plans' people), and costs one index probe."""
    patient = claim.membership.member
    others = (
        Membership.objects.filter(plan_id=claim.plan_id, status=MembershipStatus.ACTIVE)
        .exclude(member_id=patient.pk)
        .filter(member__national_id_index=blind_index(patient.national_id))
    )
    found = others.values_list("pk", flat=True).first()
    return None if found is None else f"also covered by membership #{found}"


def _early_after_waiting(claim: Claim) -> str | None:
    if claim.incident_kind != IncidentKind.ILLNESS:
        return None
    ends = claim.membership.waiting_until.date()
    if ends <= claim.diagnosis_date < ends + EARLY_WINDOW:
        return f"diagnosed {(claim.diagnosis_date - ends).days} day(s) after the waiting period"
    return None


def _same_incident(claim: Claim) -> str | None:
    others = Claim.objects.filter(
        hospital__iexact=claim.hospital,
        incident_date=claim.incident_date,
        condition_id=claim.condition_id,
    ).exclude(pk=claim.pk)
    found = others.values_list("pk", flat=True).first()
    return None if found is None else f"like claim #{found}"


def _full_cover_for_lesser(claim: Claim) -> str | None:
    condition = claim.condition
    if condition is None or condition.pays_fen is None:
        return None
    if claim.amount_requested_fen >= claim.cover_fen and condition.pays_fen < (
        claim.membership.cover_fen
    ):
        return f"asks all of {condition.code}'s fixed amount"
    return None


def _many_claims_payer(claim: Claim) -> str | None:
    patient = claim.membership.member
    payer_id = patient.payer_id or patient.pk
    household = Q(membership__member_id=payer_id) | Q(membership__member__payer_id=payer_id)
    count = Claim.objects.filter(
        household, submitted_at__gt=claim.submitted_at - YEAR, submitted_at__lte=claim.submitted_at
    ).count()
    return f"{count} claims in a year from one household" if count >= MANY_CLAIMS else None


CHECKS = {
    SignalCode.DUPLICATE_PERSON: _duplicate_person,
    SignalCode.EARLY_AFTER_WAITING: _early_after_waiting,
    SignalCode.SAME_INCIDENT: _same_incident,
    SignalCode.FULL_COVER_FOR_LESSER: _full_cover_for_lesser,
    SignalCode.MANY_CLAIMS_PAYER: _many_claims_payer,
}


def claim_signals_compute(*, claim: Claim, now: datetime.datetime) -> int:
    """Recompute the claim's signals (in the caller's transaction, the claim saved) and its
    risk score; returns the score. Closed claims keep the signals they had."""
    if claim.state in CLOSED:
        return claim.risk_score
    raised = {code: detail for code, check in CHECKS.items() if (detail := check(claim))}
    claim.signals.exclude(code__in=list(raised)).delete()
    for code, detail in raised.items():
        ClaimSignal.objects.update_or_create(
            claim=claim,
            code=code,
            defaults={"weight": WEIGHTS[code], "detail": detail[:200], "computed_at": now},
        )
    score = sum(WEIGHTS[code] for code in raised)
    if score != claim.risk_score:
        claim.risk_score = score
        claim.save(update_fields=["risk_score"])
    return score


def risky_q() -> Q:
    """Open claims at or above their plan's threshold: the supervisors' queue."""
    threshold = Coalesce(F("plan__desk_policy__risk_threshold"), Value(DEFAULT_RISK_THRESHOLD))
    return Q(risk_score__gt=0, risk_score__gte=threshold) & ~Q(state__in=CLOSED)
