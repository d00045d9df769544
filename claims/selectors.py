"""Reads: a member's claims and cases, and what staff may do to a claim now."""

import datetime

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django_fsm_log.models import StateLog

from claims.models import Claim
from claims.rules import claim_act_allowed
from members.models import Member, MembershipStatus


def claims_of(member: Member) -> QuerySet[Claim]:
    """A member's claims with their evidence and history, each fetched once for the page."""
    return (
        Claim.objects.filter(membership__member=member)
        .order_by("-submitted_at", "-pk")
        .prefetch_related("evidence", "state_log")
    )


def claim_history(claim: Claim) -> list[StateLog]:
    """A claim's transitions in the order they happened: the rows claims_of prefetched, or one
    query for a claim read alone."""
    return sorted(claim.state_log.all(), key=lambda row: (row.timestamp, row.pk))


def cases_visible_to(member: Member) -> QuerySet[Claim]:
    """Cases that have been public (publicized, and whatever came after) in the plans where
    the member is active."""
    plans = member.memberships.filter(status=MembershipStatus.ACTIVE).values("plan_id")
    return Claim.objects.filter(plan_id__in=plans, publicity_starts_at__isnull=False).order_by(
        "-publicity_starts_at", "-pk"
    )


# The acts staff perform on a claim's page, in the order its buttons appear.
STAFF_ACTS = (
    "start_investigation",
    "record_investigation",
    "add_evidence",
    "publicize",
    "open_dispute_review",
    "approve",
    "reject",
)


def claim_actions_for(*, claim: Claim, user, now: datetime.datetime) -> list[str]:
    """The staff acts `user` may do to `claim` at `now`: exactly those whose service would
    accept them (claims.rules, which the services require), whatever the inputs."""
    return [act for act in STAFF_ACTS if claim_act_allowed(act, claim=claim, by=user, now=now)]


def investigators() -> QuerySet:
    """Everyone claim_start_investigation accepts as the investigator: active users with
    `claims.investigate_claim` (investigators and reviewers, by their group or their own), and
    superusers."""
    may_investigate = {"codename": "investigate_claim", "content_type__app_label": "claims"}
    return (
        get_user_model()
        .objects.filter(
            Q(is_superuser=True)
            | Q(**{f"groups__permissions__{key}": value for key, value in may_investigate.items()})
            | Q(**{f"user_permissions__{key}": value for key, value in may_investigate.items()}),
            is_active=True,
        )
        .distinct()
        .order_by("username")
    )
