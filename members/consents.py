"""Giving and withdrawing consents (members/models/consents.py): the person themselves, or
their account holder for the family they cover (for a child under 14, as guardian).
Withdrawing a consent stops that use from then on: a claim is then neither investigated nor
publicized (claims.services), the person is left out of jury draws (claims/jury.py), and
withdrawing the membership consent is leaving every plan."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import QuerySet

from members.consent_records import consent_new
from members.errors import ErrorCode
from members.households import acts_for, household_of
from members.models import Consent, ConsentPurpose, Member, Membership, MembershipStatus
from members.services import membership_withdraw
from mutual.core.errors import ServiceError

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def _person(member_id: int, by: User | None) -> Member:
    member = Member.objects.select_related("payer").filter(pk=member_id).first()
    if member is None or member.removed_at is not None or not acts_for(by, member):
        raise ServiceError(
            "not a member of your household", code=ErrorCode.NOT_IN_HOUSEHOLD, field="person"
        )
    return member


def _purpose(purpose: str) -> str:
    if purpose not in ConsentPurpose.values:
        raise ServiceError(
            f"no such purpose (one of {', '.join(ConsentPurpose.values)})",
            code=ErrorCode.BAD_PURPOSE,
            field="purpose",
        )
    return purpose


def _locked(member_id: int, purpose: str, by: User | None) -> tuple[Member, Consent | None]:
    """The person (theirs to act for), locked for one change of their consents at a time,
    and their consent in force for `purpose`, if any."""
    member = _person(member_id, by)
    purpose = _purpose(purpose)
    Member.objects.select_for_update().filter(pk=member.pk).values_list("pk").get()
    return member, Consent.objects.filter(member=member, purpose=purpose, withdrawn_at=None).first()


@transaction.atomic
def consent_give(
    *, member_id: int, purpose: str, by: User | None, now: datetime.datetime
) -> Consent:
    """Give a consent (again, after a withdrawal). Giving one in force returns it."""
    member, current = _locked(member_id, purpose, by)
    if current is not None:
        return current
    consent = consent_new(member=member, purpose=purpose, by=by, now=now)
    consent.save()
    return consent


@transaction.atomic
def consent_withdraw(
    *, member_id: int, purpose: str, by: User | None, now: datetime.datetime
) -> Consent:
    """Withdraw a consent from now on; the membership consent is leaving every plan."""
    member, current = _locked(member_id, purpose, by)
    if current is None:
        # Given by joining before records were kept: recorded now, as withdrawn.
        current = Consent(member=member, purpose=purpose, text_version="joining", given_at=now)
    current.withdrawn_at = now
    current.save()
    if purpose == ConsentPurpose.MEMBERSHIP:
        live = Membership.objects.filter(member=member, status=MembershipStatus.ACTIVE)
        for membership_id in live.values_list("pk", flat=True):
            membership_withdraw(membership_id=membership_id, by=by, now=now)
    return current


def household_consents(*, holder: Member) -> QuerySet[Consent]:
    """The consents of the holder and the people they cover now, withdrawn ones too."""
    return Consent.objects.filter(member__in=household_of(holder).values("pk")).order_by(
        "member", "purpose", "pk"
    )
