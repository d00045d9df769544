"""Membership rules: joining (a holder, or a dependant they cover), leaving, lapsing, a household
taken out with its holder, and moving a pool's members to a successor plan. A plan's rules
change in members/plan_rules.py; who saw what is members/access.py."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, connection, transaction

from members.consent_records import consents_record_joining
from members.credit import CreditScoreProvider, default_credit_provider
from members.errors import ErrorCode
from members.households import (
    acts_for,
    holder_for,
    holder_still_covered,
    household_active_memberships,
)
from members.models import (
    EndReason,
    Member,
    Membership,
    MembershipStatus,
    Plan,
)
from members.notices import notify_cover_ended, notify_membership_lapsed
from mutual.core.errors import ServiceError
from mutual.core.timezones import local_date
from mutual.core.transitions import run_transition

if TYPE_CHECKING:
    from django.contrib.auth.models import User


class EligibilityError(ServiceError):
    """Joining refused; `code` names the rule that failed."""


def membership_join(
    *,
    member_id: int,
    plan_id: int,
    now: datetime.datetime,
    by: User | None = None,
    credit_provider: CreditScoreProvider | None = None,
) -> Membership:
    """Join `plan` for free if eligible: the member themselves, or a dependant their account
    holder covers (`by`; None: the system). Only the account holder is credit-scored; the age
    rules are the plan's, for the person who joins. Raises EligibilityError naming the rule."""
    plan = Plan.objects.filter(pk=plan_id).first()
    if plan is None:
        raise EligibilityError("no such plan", code=ErrorCode.UNKNOWN_PLAN, field="plan")
    member = Member.objects.select_related("payer").filter(pk=member_id).first()
    if member is None or (by is not None and not acts_for(by, member)):
        raise EligibilityError(
            "not a member of your household", code=ErrorCode.NOT_IN_HOUSEHOLD, field="member"
        )
    if member.removed_at is not None:
        raise EligibilityError(
            f"{member} was removed from the household", code=ErrorCode.REMOVED, field="member"
        )
    holder = member.payer or member
    today = local_date(now)  # ages are counted in Shanghai's days, as claims are

    if not plan.accepting_members:
        raise EligibilityError(
            f"{plan} is closed to new members", code=ErrorCode.PLAN_CLOSED, field="plan"
        )
    if (
        member.payer_id is not None
        and not Membership.objects.filter(member=holder, status=MembershipStatus.ACTIVE).exists()
    ):
        raise EligibilityError(
            "the account holder covers their family while they are covered themselves",
            code=ErrorCode.HOLDER_NOT_COVERED,
            field="member",
        )
    score = (credit_provider or default_credit_provider()).score(national_id=holder.national_id)
    if score < plan.min_credit_score:
        raise EligibilityError(
            f"credit score {score} is below the plan's minimum of {plan.min_credit_score}",
            code=ErrorCode.CREDIT_SCORE,
            field="plan",
        )
    if (today - member.birth_date).days < plan.min_age_days:
        raise EligibilityError(
            f"members must be at least {plan.min_age_days} days old",
            code=ErrorCode.TOO_YOUNG,
            field="plan",
        )
    age = member.age_on(today)
    if age < plan.min_age_years:
        raise EligibilityError(
            f"age {age} is below the plan's minimum of {plan.min_age_years}",
            code=ErrorCode.TOO_YOUNG,
            field="plan",
        )
    if age > plan.max_age_years:
        raise EligibilityError(
            f"age {age} is above the plan's maximum of {plan.max_age_years}",
            code=ErrorCode.TOO_OLD,
            field="plan",
        )
    cover_fen = plan.cover_for_age(age)
    if cover_fen is None:
        raise EligibilityError(
            f"no cover band for age {age}", code=ErrorCode.NO_COVER_BAND, field="plan"
        )

    try:
        with transaction.atomic():
            enters = effective_after_billing(plan_ids=[plan.pk], now=now)
            joined = Membership.objects.create(
                member=member,
                plan=plan,
                joined_at=now,
                in_pool_since=enters,
                # A new membership, a new waiting period: also for whoever rejoins.
                waiting_until=now + datetime.timedelta(days=plan.illness_waiting_days),
                cover_fen=cover_fen,
            )
            consents_record_joining(member=member, by=by, now=now)
            return joined
    except IntegrityError as error:
        if "one_live_membership_per_plan" in str(error):
            raise EligibilityError(
                f"{member} is already a member of {plan}",
                code=ErrorCode.ALREADY_MEMBER,
                field="plan",
            ) from None
        raise


@transaction.atomic
def membership_choose(
    *, membership_id: int, by: User | None, move_at_age_limit: bool
) -> Membership:
    """The member (or their account holder) chooses whether to move to the plan's successor
    at its maximum age, with no new waiting period (on by default)."""
    membership = _locked_membership(membership_id)
    if not acts_for(by, membership.member):
        raise PermissionDenied(f"{by} may not change this membership")
    if membership.status != MembershipStatus.ACTIVE:
        raise ServiceError(
            "only a live membership can change", code=ErrorCode.NOT_LIVE, field="move_at_age_limit"
        )
    membership.move_at_age_limit = move_at_age_limit
    membership.save(update_fields=["move_at_age_limit"])
    return membership


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
        .select_related("member__payer", "plan")
        .get(pk=membership_id)
    )


def membership_withdraw(
    *, membership_id: int, by: User | None, now: datetime.datetime
) -> Membership:
    """The member (or their account holder, or staff) leaves. Cover ends now; a payer whose
    last cover ends takes their household out first. No notice for the leaver's own
    withdrawal; the household is told."""
    return membership_end(membership_id=membership_id, by=by, now=now, lapse=False)


def membership_lapse(
    *, membership_id: int, by: User | None, now: datetime.datetime, reason: str
) -> Membership:
    """Cover ends because the member stopped paying; `by=None` is the collections job. The
    member is told, in this transaction; a payer's lapse takes their household out."""
    return membership_end(membership_id=membership_id, by=by, now=now, lapse=True, reason=reason)


@transaction.atomic
def membership_end(
    *,
    membership_id: int,
    by: User | None,
    now: datetime.datetime,
    lapse: bool,
    reason: str = "",
    end_reason: str | None = None,
    notify: bool = True,
) -> Membership:
    """End one membership's cover (withdrawn, or lapsed), with its log row. When it is an
    account holder's last live membership, their dependants' live memberships end first (they
    leave before the payer can; last joined first), each told. Every end dated up to a counted
    cutoff takes effect just after it (effective_after_billing)."""
    # The household first, before this membership's lock: each end locks its plan, then its
    # membership (the order plan_migrate takes them in).
    current = Membership.objects.select_related("member").get(pk=membership_id)
    if (
        current.member.payer_id is None
        and current.status == MembershipStatus.ACTIVE
        and not holder_still_covered(current.member_id, except_membership_id=current.pk)
    ):
        why = "the account holder's cover lapsed" if lapse else "the account holder left"
        for dependant in household_active_memberships(current.member_id):
            membership_end(
                membership_id=dependant.pk, by=None, now=now, lapse=lapse, reason=why,
                end_reason=EndReason.HOUSEHOLD,
            )  # fmt: skip
    ends = _ends_at(membership_id, now=now)
    membership = _locked_membership(membership_id)
    if lapse:
        run_transition(
            membership.lapse, by=by, system_allowed=True, now=ends, description=reason,
            reason=end_reason or EndReason.UNPAID,
        )  # fmt: skip
    else:
        run_transition(
            membership.withdraw, by=by, system_allowed=by is None, now=ends,
            description=reason or "withdrawn", reason=end_reason or EndReason.LEFT,
        )  # fmt: skip
    membership.save()
    if not notify:
        pass
    elif lapse:
        notify_membership_lapsed(membership=membership, reason=reason, now=now)
    elif end_reason is not None:  # taken out with the household, or at the age limit
        notify_cover_ended(membership=membership, reason=reason or "withdrawn", now=now)
    return membership


@transaction.atomic
def dependant_remove(*, member_id: int, by: User | None, now: datetime.datetime) -> Member:
    """The account holder takes a dependant out: their cover ends now (each membership
    withdrawn, and told); their claims and bills stay."""
    holder = holder_for(by)
    dependant = Member.objects.select_for_update().filter(pk=member_id, payer=holder).first()
    if dependant is None or dependant.removed_at is not None:
        raise ServiceError(
            "not a member of your household", code=ErrorCode.NOT_IN_HOUSEHOLD, field="member"
        )
    for membership_id in dependant.memberships.filter(status=MembershipStatus.ACTIVE).values_list(
        "pk", flat=True
    ):
        membership_end(
            membership_id=membership_id, by=by, now=now, lapse=False,
            reason="removed from the household by the account holder",
            end_reason=EndReason.HOUSEHOLD,
        )  # fmt: skip
    dependant.removed_at = now
    dependant.save(update_fields=["removed_at"])
    return dependant


# One statement moves everyone: old memberships end, new ones keep joined_at and the waiting
# period, and each ended membership gets its state log row, as a transition would write.
_MIGRATE_SQL = """
WITH moved AS (
    UPDATE members_membership AS old
       SET status = 'withdrawn', ended_at = %(now)s, end_reason = 'migrated'
     WHERE old.plan_id = %(from_plan)s
       AND old.status = 'active'
       AND (%(all_members)s OR old.member_id = ANY(%(member_ids)s))
       AND NOT EXISTS (
           SELECT 1 FROM members_membership AS cur
            WHERE cur.member_id = old.member_id AND cur.plan_id = %(to_plan)s
              AND cur.status = 'active')
 RETURNING old.id, old.member_id, old.joined_at, old.waiting_until, old.cover_fen,
           old.move_at_age_limit
), created AS (
    INSERT INTO members_membership
           (member_id, plan_id, status, joined_at, in_pool_since, waiting_until, cover_fen,
            migrated_from_id, end_reason, move_at_age_limit)
    SELECT member_id, %(to_plan)s, 'active', joined_at, %(now)s, waiting_until, cover_fen, id,
           '', move_at_age_limit
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
    by: User | None,
    now: datetime.datetime,
    member_ids: list[int] | None = None,
) -> int:
    """Move active members of one plan to its successor (all of them, or those who opted in).

    `joined_at`, the waiting period and the cover are kept; `in_pool_since` is now, so a moved
    member shares only the new pool's cases from here on. Members who do not move stay in the
    old pool. Returns how many moved."""
    if from_plan_id == to_plan_id:
        raise ServiceError(
            "a plan cannot migrate to itself", code=ErrorCode.SAME_PLAN, field="to_plan"
        )
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
    """Covered at the event: not after the cover ended; accidents from the joining instant
    (plus the plan's accident waiting period, none by default): an accident is an instant.
    Illness from the day the waiting period ends: a diagnosis is a calendar day in
    settings.TIME_ZONE."""
    if membership.ended_at is not None and diagnosed_at >= membership.ended_at:
        return False
    if incident_kind == "accident":
        days = membership.plan.accident_waiting_days
        # To the second: an accident's time is given in whole seconds.
        starts = (membership.joined_at + datetime.timedelta(days=days)).replace(microsecond=0)
        return diagnosed_at >= starts
    return local_date(diagnosed_at) >= local_date(membership.waiting_until)
