"""Identities past their retention (PIPL Art. 47): a person whose every membership ended more
than MUTUAL_RETAIN_IDENTITY_DAYS ago (or who never joined, that long after they were added),
and, for an account holder, with no one they cover still within it, is replaced by a
pseudonym: the name, the national id (and so its blind index) and the login's name, e-mail and
password go; the memberships, bills, ledger and Merkle leaves stay, as they hold amounts and
pseudonyms only. (Whether a claim still holds the person is the claims app's to say:
claims/retention.py narrows this list.)"""

from __future__ import annotations

import datetime

from axes.models import AccessAttempt, AccessFailureLog
from axes.models import AccessLog as AxesAccessLog
from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Exists, Max, OuterRef, QuerySet
from django.db.models.functions import Coalesce
from knox.models import AuthToken

from members.models import Member, Membership, MembershipStatus
from notifications.models import Notice

ERASED_NAME = "Erased person"


def identity_retention() -> datetime.timedelta:
    return datetime.timedelta(days=settings.MUTUAL_RETAIN_IDENTITY_DAYS)


def identities_past_retention(*, now: datetime.datetime) -> QuerySet[Member]:
    """The people whose identity is past its retention, not yet erased (staff excluded: a
    login that works in the office is not a member's to erase)."""
    cutoff = now - identity_retention()
    covered = Membership.objects.filter(member=OuterRef("pk"), status=MembershipStatus.ACTIVE)
    recent = Membership.objects.filter(member=OuterRef("pk"), ended_at__gt=cutoff)
    family_kept = Member.objects.filter(payer=OuterRef("pk"), erased_at__isnull=True).filter(
        Exists(Membership.objects.filter(member=OuterRef("pk"), status=MembershipStatus.ACTIVE))
        | Exists(Membership.objects.filter(member=OuterRef("pk"), ended_at__gt=cutoff))
    )
    return (
        Member.objects.filter(erased_at__isnull=True)
        .exclude(user__is_staff=True)
        .exclude(Exists(covered) | Exists(recent) | Exists(family_kept))
        .annotate(last_end=Coalesce(Max("memberships__ended_at"), "created_at"))
        .filter(last_end__lte=cutoff)
        .order_by("pk")
    )


@transaction.atomic
def identity_erase(*, member_id: int, now: datetime.datetime) -> bool:
    """Replace one person's identity by a pseudonym; False if it was already erased (the
    beat task and a command may race: the row lock decides). `erased_at` records when."""
    member = Member.objects.select_for_update().filter(pk=member_id).first()
    if member is None or member.erased_at is not None:
        return False
    # The account holder's notices name the family member they were about.
    told = Notice.objects.filter(
        member_id__in=[member.pk, member.payer_id or member.pk], payload__person=member.full_name
    )
    for notice in told:
        Notice.objects.filter(pk=notice.pk).update(
            payload={**notice.payload, "person": ERASED_NAME}
        )
    member.full_name = ERASED_NAME
    member.national_id = f"ERASED-{member.pk}"  # encrypted like any, its index unique
    member.erased_at = now
    member.save(update_fields=["full_name", "national_id", "national_id_index", "erased_at"])
    # The admin's history names the person in its rows' descriptions.
    described = [
        (Member, [member.pk]),
        (Membership, member.memberships.values_list("pk", flat=True)),
    ]
    for model, pks in described:
        LogEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(model),
            object_id__in=[str(pk) for pk in pks],
        ).update(object_repr=f"{model._meta.verbose_name} (erased)")
    if member.user_id is not None:
        user = member.user
        for attempts in (AccessAttempt, AccessFailureLog, AxesAccessLog):  # logins tried
            attempts.objects.filter(username=user.username).delete()
        user.username = f"erased-{member.pk}"
        user.first_name = user.last_name = user.email = ""
        user.set_unusable_password()
        user.is_active = False
        user.save()
        AuthToken.objects.filter(user=user).delete()
    return True
