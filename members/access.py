"""Who saw what: the access log of staff looking at members' personal data (a full national id,
an evidence document), written before the data is shown."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db import transaction

from members.models import AccessKind, AccessLog, Member

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def access_record(
    *, by: User | None, kind: str, obj, member_id: int, now: datetime.datetime
) -> AccessLog:
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
def member_national_id_reveal(*, member_id: int, by: User | None, now: datetime.datetime) -> str:
    """The member's full national id, for staff allowed to see it; the look is logged."""
    if not by.has_perm("members.view_national_id"):
        raise PermissionDenied(f"{by} may not see national ids")
    member = Member.objects.get(pk=member_id)
    access_record(by=by, kind=AccessKind.NATIONAL_ID, obj=member, member_id=member.pk, now=now)
    return member.national_id
