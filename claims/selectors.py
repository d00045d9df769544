"""Reads for the member API."""

from django.db.models import QuerySet

from claims.models import Claim
from members.models import Member, MembershipStatus


def claims_of(member: Member) -> QuerySet[Claim]:
    return Claim.objects.filter(membership__member=member).order_by("-submitted_at", "-pk")


def cases_visible_to(member: Member) -> QuerySet[Claim]:
    """Cases that have been public (publicized, and whatever came after) in the plans where
    the member is active."""
    plans = member.memberships.filter(status=MembershipStatus.ACTIVE).values("plan_id")
    return Claim.objects.filter(plan_id__in=plans, publicity_starts_at__isnull=False).order_by(
        "-publicity_starts_at", "-pk"
    )
