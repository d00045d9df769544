"""Membership rules: joining, leaving, lapsing, and moving a pool's members to a successor plan;
changing a plan's rules (kept in its history); and the access log of who saw what."""

from __future__ import annotations

import datetime

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from members.credit import CreditScoreProvider, default_credit_provider
from members.models import AccessKind, AccessLog, Member, Membership, MembershipStatus, Plan
from members.notifications.events import notify_membership_lapsed
from mutual.core.errors import ServiceError
from mutual.core.timezones import local_date
from mutual.core.transitions import run_transition


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
    plan = Plan.objects.filter(pk=plan_id).first()
    if plan is None:
        raise EligibilityError("no such plan", code="unknown_plan", field="plan")
    member = Member.objects.get(pk=member_id)
    today = local_date(now)  # ages are counted in Shanghai's days, as claims are

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
            enters = effective_after_billing(plan_ids=[plan.pk], now=now)
            return Membership.objects.create(
                member=member,
                plan=plan,
                joined_at=now,
                in_pool_since=enters,
                waiting_until=now + datetime.timedelta(days=plan.illness_waiting_days),
                cover_fen=cover_fen,
            )
    except IntegrityError as error:
        if "one_live_membership_per_plan" in str(error):
            raise EligibilityError(
                f"{member} is already a member of {plan}", code="already_member", field="plan"
            ) from None
        raise


_JUST_AFTER = datetime.timedelta(microseconds=1)


def effective_after_billing(*, plan_ids: list[int], now: datetime.datetime) -> datetime.datetime:
    """When a change to who is in these plans' pools takes effect: `now`, or just after the
    latest cutoff whose sharers billing already counted (Plan.billed_through), whichever is
    later. The plans are locked FOR SHARE until the caller commits; billing's prepare takes
    them FOR UPDATE while it counts. So a withdrawal dated 23:59:59 that commits after the
    midnight period was prepared ends the cover just after midnight: the member shares that
    period's cases as counted, and the period balances."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT max(billed_through) FROM (SELECT billed_through FROM members_plan "
            "WHERE id = ANY(%s) ORDER BY id FOR SHARE) AS locked",
            [list(plan_ids)],
        )
        (billed_through,) = cursor.fetchone()
    if billed_through is not None and now <= billed_through:
        return billed_through + _JUST_AFTER
    return now


def _ends_at(membership_id: int, *, now: datetime.datetime) -> datetime.datetime:
    """The plan is locked before the membership, as plan_migrate locks them (plans, then
    their memberships): the other order deadlocks with a migration. A membership's plan never
    changes (a migration makes a new membership), so it is read unlocked."""
    plan_id = Membership.objects.values_list("plan_id", flat=True).get(pk=membership_id)
    return effective_after_billing(plan_ids=[plan_id], now=now)


def _locked_membership(membership_id: int) -> Membership:
    return (
        Membership.objects.select_for_update(of=("self",))
        .select_related("member")
        .get(pk=membership_id)
    )


@transaction.atomic
def membership_withdraw(*, membership_id: int, by, now: datetime.datetime) -> Membership:
    """The member leaves (or staff record that they left). Cover ends now. No notice is
    written (only a lapse is told)."""
    ends = _ends_at(membership_id, now=now)
    membership = _locked_membership(membership_id)
    run_transition(membership.withdraw, by=by, now=ends, description="withdrawn")
    membership.save()
    return membership


@transaction.atomic
def membership_lapse(*, membership_id: int, by, now: datetime.datetime, reason: str) -> Membership:
    """Cover ends because the member stopped paying; `by=None` is the collections job. The
    member is told, in this transaction."""
    ends = _ends_at(membership_id, now=now)
    membership = _locked_membership(membership_id)
    run_transition(membership.lapse, by=by, system_allowed=True, now=ends, description=reason)
    membership.save()
    notify_membership_lapsed(membership=membership, reason=reason, now=now)
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
    moves = effective_after_billing(plan_ids=[from_plan_id, to_plan_id], now=now)
    with connection.cursor() as cursor:
        cursor.execute(
            _MIGRATE_SQL,
            {
                "now": moves,
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
    """Accidents are covered from the joining instant (plus the plan's accident waiting
    period, none by default): an accident is an instant. Illness is covered from the day the
    waiting period ends: a diagnosis is a calendar day in settings.TIME_ZONE."""
    if membership.status != MembershipStatus.ACTIVE:
        return False
    if incident_kind == "accident":
        days = membership.plan.accident_waiting_days
        return diagnosed_at >= membership.joined_at + datetime.timedelta(days=days)
    return local_date(diagnosed_at) >= local_date(membership.waiting_until)


# --- plan rules: every change kept, with the moment it is in force from ---------------------
def plan_effective_at_check(
    *, plan: Plan, effective_at: datetime.datetime, now: datetime.datetime
) -> None:
    """Raise ServiceError unless a change of `plan` may be in force from `effective_at`.

    Not in the future: the plan's row holds the rules in force now, and every other reader
    (joining, publicity, the calendar) reads it. Not before the plan's last change: history
    rows then stay in the order of their effect, so each is the whole rule set in force until
    the next. Not on or before the cutoff of a period already billed: its rules are frozen."""
    if effective_at > now:
        raise ServiceError(
            "a change cannot take effect in the future: make it on the day it takes effect",
            code="effective_in_future",
            field="effective_at",
        )
    if plan.pk is None:
        return
    last = plan.history.order_by("-effective_at", "-history_id").first()
    if last is not None and effective_at < last.effective_at:
        raise ServiceError(
            "the plan's rules last changed with effect from "
            f"{timezone.localtime(last.effective_at):%Y-%m-%d %H:%M}; "
            "a change cannot take effect before that",
            code="effective_before_last_change",
            field="effective_at",
        )
    billed = (
        plan.periods.exclude(status="open")  # billing.PeriodStatus.OPEN: not yet prepared
        .filter(cutoff_at__gte=effective_at)
        .order_by("-cutoff_at")
        .first()
    )
    if billed is not None:
        raise ServiceError(
            f"period {billed} is already billed with the rules in force at its cutoff; "
            "a change can take effect only after that cutoff",
            code="period_billed",
            field="effective_at",
        )


@transaction.atomic
def plan_save(
    *,
    plan: Plan,
    by,
    now: datetime.datetime,
    effective_at: datetime.datetime | None = None,
) -> Plan:
    """Create or change a plan. Its history gets a row with the new values, who (`by`), when
    (`now`) and from when they are in force (`effective_at`, default now; see
    plan_effective_at_check). Periods are billed with the rules in force at their cutoff
    (members.selectors.plan_rules_at)."""
    if by is not None and not by.has_perm(
        "members.change_plan" if plan.pk is not None else "members.add_plan"
    ):
        raise PermissionDenied(f"{by} may not change plans")
    if plan.pk is not None:  # two changes at once: the second sees the first's history row
        Plan.objects.select_for_update().filter(pk=plan.pk).values_list("pk").get()
    effective_at = now if effective_at is None else effective_at
    plan_effective_at_check(plan=plan, effective_at=effective_at, now=now)
    plan._history_user = by
    plan._history_date = now
    plan._rules_effective_at = effective_at
    try:
        plan.save()
    finally:
        del plan._history_user, plan._history_date, plan._rules_effective_at
    return plan


# --- who saw what ----------------------------------------------------------------------------
def access_record(*, by, kind: str, obj, member_id: int, now: datetime.datetime) -> AccessLog:
    """Log that `by` saw `obj` (member `member_id`'s data) at `now`. Callers write it in the
    request that shows the data, before showing it."""
    return AccessLog.objects.create(
        at=now,
        user=by,
        kind=kind,
        member_id=member_id,
        content_type=ContentType.objects.get_for_model(obj),
        object_id=obj.pk,
    )


@transaction.atomic
def member_national_id_reveal(*, member_id: int, by, now: datetime.datetime) -> str:
    """The member's full national id, for staff allowed to see it; the look is logged."""
    if not by.has_perm("members.view_national_id"):
        raise PermissionDenied(f"{by} may not see national ids")
    member = Member.objects.get(pk=member_id)
    access_record(by=by, kind=AccessKind.NATIONAL_ID, obj=member, member_id=member.pk, now=now)
    return member.national_id
