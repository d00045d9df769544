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

from claims.errors import ErrorCode
from claims.models import Condition, ConditionCategory, IncidentKind
from members.ages import cover_on
from members.models import Membership
from mutual.core.errors import ServiceError
from mutual.core.money import format_yuan


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
