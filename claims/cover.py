"""What a claim can pay: the condition it names, judged by the plan's list in force on the day
of the event, and the cover the plan's bands give the patient's age on that day.

- The event day is the diagnosis day for an illness, the accident's day for an accident.
- A plan with a list of covered conditions requires a claim to name one of them, in force on
  the event day (a rule change never re-judges an earlier case); an accident-category
  condition is claimed for an accident. A plan with no list yet takes any claim (the older
  plans), at the full cover for the age.
- The cover is the band for the patient's age on the event day (members.ages.cover_on), cut
  to what the condition pays if it pays a fixed amount."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import Q
from django.utils import timezone

from claims.errors import ErrorCode
from claims.models import Condition, ConditionCategory, IncidentKind
from members.ages import cover_on
from members.models import EndReason, Membership
from members.services import membership_is_covered
from mutual.core.errors import ServiceError
from mutual.core.money import format_yuan
from mutual.core.timezones import local_date, local_datetime, local_midnight


@dataclass(frozen=True)
class ClaimCover:
    condition: Condition | None
    age_years: int
    cover_fen: int


def conditions_in_force(*, plan_id: int, day: datetime.date):
    """The plan's list on `day`."""
    return Condition.objects.filter(
        Q(in_force_until__isnull=True) | Q(in_force_until__gt=day),
        plan_id=plan_id,
        in_force_from__lte=day,
    )


def claim_cover(
    *,
    membership: Membership,
    incident_kind: str,
    event_day: datetime.date,
    condition_code: str | None,
) -> ClaimCover:
    """The condition and the cover of a claim on `membership` for an event on `event_day`;
    ServiceError (a 400) naming the rule otherwise."""
    plan, patient = membership.plan, membership.member
    age = patient.age_on(event_day)
    condition = None
    has_list = Condition.objects.filter(plan=plan).exists()
    if has_list or condition_code:
        if not condition_code:
            raise ServiceError(
                f"name the condition from {plan.name}'s list of covered conditions",
                code=ErrorCode.CONDITION_REQUIRED,
                field="condition",
            )
        condition = (
            conditions_in_force(plan_id=plan.pk, day=event_day).filter(code=condition_code).first()
        )
        if condition is None:
            raise ServiceError(
                f"{condition_code!r} is not on {plan.name}'s list of covered conditions in "
                f"force on {event_day}",
                code=ErrorCode.NOT_COVERED,
                field="condition",
            )
        if condition.category == ConditionCategory.ACCIDENT and incident_kind != (
            IncidentKind.ACCIDENT
        ):
            raise ServiceError(
                f"{condition.name_en} is covered when an accident causes it",
                code=ErrorCode.CONDITION_NEEDS_ACCIDENT,
                field="condition",
            )
        too_young = condition.min_age_years is not None and age < condition.min_age_years
        too_old = condition.max_age_years is not None and age > condition.max_age_years
        if too_young or too_old:
            raise ServiceError(
                f"{condition.name_en} is covered from age {condition.min_age_years or 0} to "
                f"{condition.max_age_years if condition.max_age_years is not None else 'any'}"
                f"; the patient was {age} on {event_day}",
                code=ErrorCode.CONDITION_AGE,
                field="condition",
            )
    band = cover_on(plan=plan, age_years=age, day=event_day)
    if band is None:
        raise ServiceError(
            f"{plan.name} covers no one aged {age} (the patient's age on {event_day})",
            code=ErrorCode.NO_COVER_FOR_AGE,
            field="diagnosis_date",
        )
    cover = (
        band if condition is None or condition.pays_fen is None else min(band, condition.pays_fen)
    )
    return ClaimCover(condition=condition, age_years=age, cover_fen=cover)


def amount_within(cover: ClaimCover, amount_fen: int) -> None:
    if not 0 < amount_fen <= cover.cover_fen:
        what = f" ({cover.condition.name_en} pays at most that)" if (
            cover.condition is not None and cover.condition.pays_fen is not None
            and cover.condition.pays_fen <= cover.cover_fen
        ) else f" (the cover for age {cover.age_years})"  # fmt: skip
        raise ServiceError(
            f"amount must be between 0.01 and {format_yuan(cover.cover_fen)} yuan{what}",
            code=ErrorCode.AMOUNT,
            field="amount_requested_fen",
        )


def claim_event_at(
    *,
    membership: Membership,
    incident_kind: str,
    incident_date: datetime.date,
    diagnosis_date: datetime.date,
    incident_time: datetime.time | None,
    now: datetime.datetime,
) -> datetime.datetime:
    """When the claimed event happened, as the rules judge it, or a refusal with its reason:
    the dates in order and not in the future, after the joining, inside the cover (not in a
    waiting period, not after a cover that ended at the plan's maximum age).

    Claim dates are Shanghai's calendar days; joining is an instant. So an accident on the
    joining day is covered only if it happened after the joining time, and the claim must say
    when (`incident_time`, Shanghai): an accident at 23:00 is not covered by a membership that
    began at 23:30."""
    aged_out = membership.end_reason == EndReason.AGE_LIMIT
    if incident_kind not in IncidentKind.values:
        raise ServiceError(
            "incident kind must be illness or accident",
            code=ErrorCode.BAD_KIND,
            field="incident_kind",
        )
    if incident_date > diagnosis_date:
        raise ServiceError(
            "the incident cannot come after the diagnosis",
            code=ErrorCode.BAD_DATES,
            field="incident_date",
        )
    if diagnosis_date > local_date(now):  # Shanghai's today, not UTC's
        raise ServiceError(
            "the diagnosis date is in the future",
            code=ErrorCode.FUTURE_DATE,
            field="diagnosis_date",
        )
    accident = incident_kind == IncidentKind.ACCIDENT
    event_day = incident_date if accident else diagnosis_date
    if event_day < local_date(membership.joined_at):
        raise ServiceError(
            "the event happened before the member joined",
            code=ErrorCode.BEFORE_JOINING,
            field="incident_date",
        )
    event_at = local_midnight(event_day)  # claim dates are the plan's calendar days
    if accident and incident_time is not None:
        event_at = local_datetime(incident_date, incident_time)
        if event_at > now:
            raise ServiceError(
                "the accident's time is in the future",
                code=ErrorCode.FUTURE_DATE,
                field="incident_time",
            )
    # A time of day is given to the second: an accident in the second of the joining counts
    # as after it.
    if (
        accident
        and event_day == local_date(membership.joined_at)
        and event_at < membership.joined_at.replace(microsecond=0)
    ):
        joined = timezone.localtime(membership.joined_at)
        raise ServiceError(
            f"the membership began at {joined:%H:%M:%S} on {event_day} (Shanghai): an accident "
            "that day is covered only after that time"
            + ("" if incident_time is not None else "; give the accident's time"),
            code=ErrorCode.BEFORE_JOINING,
            field="incident_time",
        )
    if aged_out and event_at >= membership.ended_at:
        raise ServiceError(
            f"this cover ended on {local_date(membership.ended_at)} at the plan's maximum age: "
            "claim on the membership that covered the patient then",
            code=ErrorCode.NOT_LIVE,
            field="membership",
        )
    if not membership_is_covered(membership, incident_kind=incident_kind, diagnosed_at=event_at):
        if accident:
            raise ServiceError(
                f"an accident on {incident_date} falls inside the plan's accident waiting "
                f"period of {membership.plan.accident_waiting_days} days",
                code=ErrorCode.WAITING_PERIOD,
                field="incident_date",
            )
        until = local_date(membership.waiting_until)
        raise ServiceError(
            f"illness diagnosed on {diagnosis_date} falls inside the waiting period "
            f"(illness is covered from {until}); accidents are covered at once",
            code=ErrorCode.WAITING_PERIOD,
            field="diagnosis_date",
        )
    return event_at
