"""The consents a person gives by joining a plan, recorded in the joining's transaction
(members.services.membership_join), and whether a use is stopped. No service is imported
here: members/consents.py, which withdraws (and so ends memberships), imports this."""

from __future__ import annotations

import datetime

from django.conf import settings

from members.households import GUARDIAN_CONSENT_UNDER
from members.models import Consent, ConsentPurpose, Member
from mutual.core.timezones import local_date

# What joining agrees to, under the plan's rules: the processing itself, the anonymised public
# notice of one's claims, their investigation, and jury service. (A move to a successor is
# asked separately.)
JOINING = (
    ConsentPurpose.MEMBERSHIP,
    ConsentPurpose.PUBLIC_NOTICE,
    ConsentPurpose.INVESTIGATION,
    ConsentPurpose.JURY,
)


def text_version() -> str:
    return settings.MUTUAL_CONSENT_TEXT_VERSION


def by_guardian(member: Member, *, now: datetime.datetime) -> bool:
    """Given for a child under 14 by their account holder, as guardian (PIPL Art. 31)."""
    return member.payer_id is not None and member.age_on(local_date(now)) < (GUARDIAN_CONSENT_UNDER)


def consent_new(*, member: Member, purpose: str, by, now: datetime.datetime) -> Consent:
    """A consent given now under the current texts, not saved."""
    return Consent(
        member=member,
        purpose=purpose,
        text_version=text_version(),
        given_at=now,
        given_by=by,
        by_guardian=by_guardian(member, now=now),
    )


def consents_record_joining(*, member: Member, by, now: datetime.datetime) -> None:
    """Joining is consenting to membership (again, after leaving by withdrawing it); the
    other purposes are recorded only if never recorded: joining another plan does not undo
    a withdrawal of the public notice, the investigation or jury service."""
    recorded = Consent.objects.filter(member=member)
    in_force = set(recorded.filter(withdrawn_at__isnull=True).values_list("purpose", flat=True))
    ever = set(recorded.values_list("purpose", flat=True))
    Consent.objects.bulk_create(
        consent_new(member=member, purpose=purpose, by=by, now=now)
        for purpose in JOINING
        if purpose not in in_force and (purpose == ConsentPurpose.MEMBERSHIP or purpose not in ever)
    )


def consent_withdrawn(*, member_id: int, purpose: str) -> bool:
    """Whether this use is stopped: a withdrawn record and none in force. (A person who
    joined before records were kept consented by joining: no record, not stopped.)"""
    records = Consent.objects.filter(member_id=member_id, purpose=purpose)
    return (
        records.filter(withdrawn_at__isnull=False).exists()
        and not records.filter(withdrawn_at__isnull=True).exists()
    )
