"""Reads: a member's claims and cases, and what staff may do to a claim now."""

import datetime

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Q, QuerySet
from django_fsm_log.models import StateLog

from claims.models import Claim
from claims.rules import claim_act_allowed
from members.households import household_of
from members.models import Member, Membership, MembershipStatus


def claims_of(member: Member) -> QuerySet[Claim]:
    """The claims of a member's household (the account holder files and follows those of the
    people they cover), with their patient, condition, evidence and history, each fetched
    once for the page."""
    return (
        Claim.objects.filter(membership__member__in=household_of(member))
        .select_related("membership__member", "condition", "reason")
        .order_by("-submitted_at", "-pk")
        .prefetch_related("evidence", "state_log", "info_requests__documents_received", "appeals")
    )


def claim_history(claim: Claim) -> list[StateLog]:
    """A claim's transitions in the order they happened: the rows claims_of prefetched, or one
    query for a claim read alone."""
    return sorted(claim.state_log.all(), key=lambda row: (row.timestamp, row.pk))


def cases_visible_to(member: Member) -> QuerySet[Claim]:
    """Cases that have been public (publicized, and whatever came after) in the plans where
    someone of the member's household is active: the account holder pays their shares."""
    plans = Membership.objects.filter(
        member__in=household_of(member), status=MembershipStatus.ACTIVE
    ).values("plan_id")
    return Claim.objects.filter(plan_id__in=plans, publicity_starts_at__isnull=False).order_by(
        "-publicity_starts_at", "-pk"
    )


_FINGERPRINT_SQL = """
SELECT count(*), md5(coalesce(string_agg(concat_ws(':', c.id, c.state, c.amount_approved_fen,
           c.publicity_starts_at, c.publicity_ends_at, c.decided_at,
           (SELECT count(*) FROM claims_dispute d WHERE d.claim_id = c.id),
           (SELECT max(e.id) FROM claims_evidencedocument e WHERE e.claim_id = c.id)),
       ',' ORDER BY c.id), ''))
  FROM claims_claim c WHERE c.id IN ({ids})
"""


def cases_fingerprint(cases: QuerySet[Claim]) -> tuple[int, str]:
    """What the public view of these cases shows that can change — which cases, their state,
    amount, publicity and decision, disputes and evidence: one query over them."""
    ids, params = cases.order_by().values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(_FINGERPRINT_SQL.format(ids=ids), params)
        return tuple(cursor.fetchone())


# The acts staff perform on a claim's page, in the order its buttons appear.
STAFF_ACTS = (
    "start_investigation",
    "record_investigation",
    "add_evidence",
    "publicize",
    "open_dispute_review",
    "approve",
    "reject",
    "request_info",
    "reopen",
    "uphold_appeal",
    "dismiss_appeal",
    "confirm_audit",
    "miss_audit",
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
