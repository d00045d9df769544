"""Households, as the real plan had them: an account holder (the payer, credit-scored, with a
login) covers themselves and their family — spouse, children from 30 days old, parents — and
pays all their shares. Each covered person has their own memberships, waiting periods, cover
by age and claims; the account holder acts for them (joins, leaves, claims, reads bills).

- A child under 14 is added only with the account holder's recorded consent as guardian.
- Dependants leave before the payer can: a payer whose last cover ends takes the household
  out (`household_end`), and every covered person is told."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet

from members.errors import ErrorCode
from members.models import Member, Membership, MembershipStatus, Relationship
from mutual.core.errors import ServiceError
from mutual.core.timezones import local_date

if TYPE_CHECKING:
    from django.contrib.auth.models import User

GUARDIAN_CONSENT_UNDER = 14  # PIPL Art. 31: a child under 14's data needs a guardian's consent
MAX_SPOUSES, MAX_PARENTS = 1, 4  # the account holder's parents and their spouse's


def household_of(member: Member) -> QuerySet[Member]:
    """The account holder and the dependants they cover now (not removed)."""
    holder = member.account_holder_id
    return Member.objects.filter(
        Q(pk=holder) | Q(payer_id=holder, removed_at__isnull=True)
    ).order_by("payer_id", "pk")


def acts_for(user, member: Member) -> bool:
    """The member themselves, or their account holder (a dependant has no login)."""
    if user is None or user.pk is None:
        return False
    if member.user_id == user.pk:
        return True
    return member.payer_id is not None and member.payer.user_id == user.pk


def holder_for(user) -> Member:
    """The login's member, who must be an account holder to act for a household."""
    member = Member.objects.filter(user=user).first() if user is not None else None
    if member is None:
        raise PermissionDenied("this login has no member profile")
    return member


def _check_family(holder: Member, *, relationship: str, birth_date: datetime.date, today) -> None:
    if relationship not in (Relationship.SPOUSE, Relationship.CHILD, Relationship.PARENT):
        raise ServiceError(
            "a household covers a spouse, children and parents",
            code=ErrorCode.BAD_RELATIONSHIP,
            field="relationship",
        )
    if birth_date > today:
        raise ServiceError(
            "the birth date is in the future", code=ErrorCode.BAD_DATE, field="birth_date"
        )
    if relationship == Relationship.CHILD and birth_date <= holder.birth_date:
        raise ServiceError(
            "a child is born after the account holder", code=ErrorCode.BAD_AGE, field="birth_date"
        )
    if relationship == Relationship.PARENT and birth_date >= holder.birth_date:
        raise ServiceError(
            "a parent is born before the account holder", code=ErrorCode.BAD_AGE, field="birth_date"
        )
    if relationship == Relationship.SPOUSE and Member(birth_date=birth_date).age_on(today) < 18:
        raise ServiceError("a spouse is an adult", code=ErrorCode.BAD_AGE, field="birth_date")
    current = holder.dependants.filter(removed_at__isnull=True, relationship=relationship)
    limit = {Relationship.SPOUSE: MAX_SPOUSES, Relationship.PARENT: MAX_PARENTS}.get(relationship)
    if limit is not None and current.count() >= limit:
        raise ServiceError(
            f"a household covers at most {limit} {relationship}(s)",
            code=ErrorCode.TOO_MANY,
            field="relationship",
        )


@transaction.atomic
def dependant_add(
    *,
    by: User | None,
    full_name: str,
    national_id: str,
    birth_date: datetime.date,
    relationship: str,
    guardian_consent: bool = False,
    now: datetime.datetime,
) -> Member:
    """The account holder `by` adds a family member to their household (no login, no credit
    score of their own). They join plans separately (members.services.membership_join)."""
    holder = holder_for(by)
    if holder.payer_id is not None:
        raise PermissionDenied("only an account holder covers a household")
    # One household change at a time: the limits below count the household's rows.
    Member.objects.select_for_update().filter(pk=holder.pk).values_list("pk").get()
    today = local_date(now)
    _check_family(holder, relationship=relationship, birth_date=birth_date, today=today)
    if not full_name.strip():
        raise ServiceError("a name is needed", code=ErrorCode.EMPTY, field="full_name")
    minor = Member(birth_date=birth_date).age_on(today) < GUARDIAN_CONSENT_UNDER
    if minor and not guardian_consent:
        raise ServiceError(
            f"a child under {GUARDIAN_CONSENT_UNDER} is added only with your consent as their "
            "guardian to the processing of their personal and medical data",
            code=ErrorCode.GUARDIAN_CONSENT,
            field="guardian_consent",
        )
    try:
        with transaction.atomic():
            return Member.objects.create(
                payer=holder,
                relationship=relationship,
                full_name=full_name.strip(),
                national_id=national_id.strip(),
                birth_date=birth_date,
                guardian_consent_at=now if minor else None,
                guardian_consent_by=by if minor else None,
            )
    except IntegrityError:
        raise ServiceError(
            "this national id is already registered", code=ErrorCode.ALREADY_REGISTERED,
            field="national_id",
        ) from None  # fmt: skip


def household_active_memberships(holder_id: int) -> QuerySet[Membership]:
    """The dependants' live memberships, last joined first."""
    return Membership.objects.filter(
        member__payer_id=holder_id, status=MembershipStatus.ACTIVE
    ).order_by("-joined_at", "-pk")


def holder_still_covered(holder_id: int, *, except_membership_id: int) -> bool:
    return (
        Membership.objects.filter(member_id=holder_id, status=MembershipStatus.ACTIVE)
        .exclude(pk=except_membership_id)
        .exists()
    )
