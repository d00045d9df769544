"""Cover follows age, as in the real plan: a claim's cover is the plan's band for the patient's
age on the day of the event (the diagnosis; for an accident, the accident), with the bands in
force that day; and a member reaching the plan's maximum age stops being covered, and stops
sharing, on that birthday. Where the plan names a successor for that age (the plan for 60 to
70 year olds), they move to it with no new waiting period, unless they chose not to
(`Membership.move_at_age_limit`), and are told."""

from __future__ import annotations

import datetime
import logging

from django.db import transaction

from members.models import CoverBand, EndReason, Membership, MembershipStatus, Plan, years_before
from mutual.core.timezones import local_date, local_midnight

logger = logging.getLogger(__name__)


def cover_on(*, plan: Plan, age_years: int, day: datetime.date) -> int | None:
    """The cover in fen for a person of `age_years` on `day`, by the bands in force at the
    start of that day (CoverBand's history); before the plan's bands have any history, its
    present bands. None when no band covers the age (or it is past the plan's maximum)."""
    if age_years > plan.max_age_years or age_years < plan.min_age_years:
        return None
    bands = list(CoverBand.history.as_of(local_midnight(day)).filter(plan_id=plan.pk))
    if not bands:
        bands = list(plan.cover_bands.all())
    fitting = sorted(
        (b for b in bands if b.max_age_years >= age_years), key=lambda b: b.max_age_years
    )
    return fitting[0].cover_fen if fitting else None


def limit_birthday(birth_date: datetime.date, plan: Plan) -> datetime.date:
    """The day the member turns one year older than the plan's maximum: cover ends then."""
    years = plan.max_age_years + 1
    try:
        return birth_date.replace(year=birth_date.year + years)
    except ValueError:  # born on 29 February
        return birth_date.replace(year=birth_date.year + years, month=3, day=1)


def memberships_at_age_limit(*, now: datetime.datetime, batch_size: int = 500) -> dict[str, int]:
    """Every live membership whose member reached the plan's maximum age by today: moved on
    or ended, each in its own transaction (beat, hourly: idempotent, and a late run ends the
    cover at the birthday, or just after a cutoff already counted)."""
    today = local_date(now)
    done = {"moved": 0, "ended": 0}
    for plan in Plan.objects.all():
        born_by = years_before(today, plan.max_age_years + 1)
        due = Membership.objects.filter(
            plan=plan, status=MembershipStatus.ACTIVE, member__birth_date__lte=born_by
        ).order_by("pk")
        for membership_id in due.values_list("pk", flat=True)[:batch_size].iterator():
            outcome = membership_reach_age_limit(membership_id=membership_id, now=now)
            if outcome:
                done[outcome] += 1
    return done


@transaction.atomic
def membership_reach_age_limit(*, membership_id: int, now: datetime.datetime) -> str | None:
    """Move one membership on at its plan's maximum age, or end it. Returns "moved", "ended",
    or None when it was not due (ended meanwhile, or not yet of age)."""
    from members.notices import notify_cover_ended
    from members.services import effective_after_billing, membership_end

    membership = (
        Membership.objects.select_related("member", "plan__age_successor")
        .filter(pk=membership_id, status=MembershipStatus.ACTIVE)
        .first()
    )
    if membership is None:
        return None
    plan, member = membership.plan, membership.member
    birthday = limit_birthday(member.birth_date, plan)
    if birthday > local_date(now):
        return None
    ends = local_midnight(birthday)
    successor = plan.age_successor
    age = member.age_on(birthday)
    cover = None
    if successor is not None and membership.move_at_age_limit and successor.accepting_members:
        cover = cover_on(plan=successor, age_years=age, day=birthday)
    reason = f"reached {plan.name}'s maximum age of {plan.max_age_years}"
    if cover is None:
        membership_end(
            membership_id=membership.pk, by=None, now=ends, lapse=False, reason=reason,
            end_reason=EndReason.AGE_LIMIT,
        )  # fmt: skip
        return "ended"
    # The successor first, so that an account holder who moves on is still covered and their
    # household stays. Its cover goes on from the birthday: no new waiting period.
    enters = effective_after_billing(plan_ids=[successor.pk], now=ends)
    Membership.objects.create(
        member=member,
        plan=successor,
        joined_at=enters,
        in_pool_since=enters,
        waiting_until=max(membership.waiting_until, enters),
        cover_fen=cover,
        migrated_from=membership,
    )
    ended = membership_end(
        membership_id=membership.pk, by=None, now=ends, lapse=False, reason=reason,
        end_reason=EndReason.AGE_LIMIT, notify=False,
    )  # fmt: skip
    notify_cover_ended(membership=ended, reason=reason, now=now, moved_to=successor.name)
    return "moved"
