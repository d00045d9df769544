"""Membership rules: joining, leaving, lapsing, and moving a pool's members to a successor plan."""

from __future__ import annotations

import datetime

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from members.credit import CreditScoreProvider, default_credit_provider
from members.models import Member, Membership, MembershipStatus, Plan
from mutual.errors import ServiceError
from mutual.transitions import run_transition


class EligibilityError(ServiceError):
    """Joining refused; `code` names the rule that failed."""


def membership_join(
    *,
    member_id: int,
    plan_id: int,
    now: datetime.datetime,
    credit_provider: CreditScoreProvider | None = None,
) -> Membership:
    """Join `plan` for free if eligible. Raises EligibilityError naming the failed rule."""
    plan = Plan.objects.get(pk=plan_id)
    member = Member.objects.get(pk=member_id)
    today = now.date()

    if not plan.accepting_members:
        raise EligibilityError(f"{plan} is closed to new members", code="plan_closed", field="plan")
    score = (credit_provider or default_credit_provider()).score(national_id=member.national_id)
    if score < plan.min_credit_score:
        raise EligibilityError(
            f"credit score {score} is below the plan's minimum of {plan.min_credit_score}",
            code="credit_score",
            field="plan",
        )
    if (today - member.birth_date).days < plan.min_age_days:
        raise EligibilityError(
            f"members must be at least {plan.min_age_days} days old", code="too_young", field="plan"
        )
    age = member.age_on(today)
    if age > plan.max_age_years:
        raise EligibilityError(
            f"age {age} is above the plan's maximum of {plan.max_age_years}",
            code="too_old",
            field="plan",
        )
    cover_fen = plan.cover_for_age(age)
    if cover_fen is None:
        raise EligibilityError(f"no cover band for age {age}", code="no_cover_band", field="plan")

    try:
        with transaction.atomic():
            return Membership.objects.create(
                member=member,
                plan=plan,
                joined_at=now,
                in_pool_since=now,
                waiting_until=now + datetime.timedelta(days=plan.illness_waiting_days),
                cover_fen=cover_fen,
            )
    except IntegrityError as error:
        if "one_live_membership_per_plan" in str(error):
            raise EligibilityError(
                f"{member} is already a member of {plan}", code="already_member", field="plan"
            ) from None
        raise


def _locked_membership(membership_id: int) -> Membership:
    return (
        Membership.objects.select_for_update(of=("self",))
        .select_related("member")
        .get(pk=membership_id)
    )


@transaction.atomic
def membership_withdraw(*, membership_id: int, by, now: datetime.datetime) -> Membership:
    """The member leaves (or staff record that they left). Cover ends now."""
    membership = _locked_membership(membership_id)
    run_transition(membership.withdraw, by=by, now=now, description="withdrawn")
    membership.save()
    return membership


@transaction.atomic
def membership_lapse(*, membership_id: int, by, now: datetime.datetime, reason: str) -> Membership:
    """Cover ends because the member stopped paying; `by=None` is the collections job."""
    membership = _locked_membership(membership_id)
    run_transition(membership.lapse, by=by, system_allowed=True, now=now, description=reason)
    membership.save()
    return membership


# One statement moves everyone: old memberships end, new ones keep joined_at and the waiting
# period, and each ended membership gets its state log row, as a transition would write.
_MIGRATE_SQL = """
WITH moved AS (
    UPDATE members_membership AS old
       SET status = 'withdrawn', ended_at = %(now)s
     WHERE old.plan_id = %(from_plan)s
       AND old.status = 'active'
       AND (%(all_members)s OR old.member_id = ANY(%(member_ids)s))
       AND NOT EXISTS (
           SELECT 1 FROM members_membership AS cur
            WHERE cur.member_id = old.member_id AND cur.plan_id = %(to_plan)s
              AND cur.status = 'active')
 RETURNING old.id, old.member_id, old.joined_at, old.waiting_until, old.cover_fen
), created AS (
    INSERT INTO members_membership
           (member_id, plan_id, status, joined_at, in_pool_since, waiting_until, cover_fen,
            migrated_from_id)
    SELECT member_id, %(to_plan)s, 'active', joined_at, %(now)s, waiting_until, cover_fen, id
      FROM moved
    RETURNING id
)
INSERT INTO django_fsm_log_statelog
       (timestamp, by_id, source_state, state, transition, content_type_id, object_id, description)
SELECT %(now)s, %(by)s, 'active', 'withdrawn', 'migrate', %(content_type)s, id, %(description)s
  FROM moved
"""


@transaction.atomic
def plan_migrate(
    *,
    from_plan_id: int,
    to_plan_id: int,
    by,
    now: datetime.datetime,
    member_ids: list[int] | None = None,
) -> int:
    """Move active members of one plan to its successor (all of them, or those who opted in).

    `joined_at`, the waiting period and the cover are kept; `in_pool_since` is now, so a moved
    member shares only the new pool's cases from here on. Members who do not move stay in the
    old pool. Returns how many moved."""
    if from_plan_id == to_plan_id:
        raise ServiceError("a plan cannot migrate to itself", code="same_plan", field="to_plan")
    if by is not None and not by.has_perm("members.change_membership"):
        raise PermissionDenied(f"{by} may not migrate plans")
    # Lock both plans for the whole move. The rows must be fetched: Django drops FOR UPDATE
    # from aggregates such as count(). Locking in primary-key order keeps two migrations in
    # opposite directions from deadlocking.
    list(
        Plan.objects.select_for_update(of=("self",))
        .filter(pk__in=[from_plan_id, to_plan_id])
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    to_plan = Plan.objects.get(pk=to_plan_id)
    with connection.cursor() as cursor:
        cursor.execute(
            _MIGRATE_SQL,
            {
                "now": now,
                "from_plan": from_plan_id,
                "to_plan": to_plan_id,
                "all_members": member_ids is None,
                "member_ids": list(member_ids or []),
                "by": getattr(by, "pk", None),
                "content_type": ContentType.objects.get_for_model(Membership).pk,
                "description": f"migrated to {to_plan.code}",
            },
        )
        return cursor.rowcount


def membership_is_covered(
    membership: Membership, *, incident_kind: str, diagnosed_at: datetime.datetime
) -> bool:
    """Accidents are covered from the joining day; illness from the day the waiting period
    ends. Days are calendar days in settings.TIME_ZONE."""
    if membership.status != MembershipStatus.ACTIVE:
        return False
    event_day = timezone.localdate(diagnosed_at)
    if incident_kind == "accident":
        days = membership.plan.accident_waiting_days
        return event_day >= timezone.localdate(membership.joined_at + datetime.timedelta(days=days))
    return event_day >= timezone.localdate(membership.waiting_until)
