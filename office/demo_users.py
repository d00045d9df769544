"""Demo logins: a superuser and one staff user per role, all with one printed password."""

import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from claims.models import InvestigationFirm, Investigator
from members.models import Member
from mutual.two_factor import staff_2fa_enroll
from office.demo_totp import DEMO_TOTP_KEY

DEMO_PASSWORD = "mutual-demo"
SHARER = "sharer"


def ensure_demo_users() -> dict[str, object]:
    """Create or reset admin, investigator, reviewer, finance, supervisor, and `member` (a
    member with no membership yet, for trying the API). Returns them by username. The staff
    share the demo's published authenticator secret (office.demo_totp) for two-factor login.
    The investigator works for a demo firm, so that new claims are assigned to them."""
    users = get_user_model()
    admin, _ = users.objects.get_or_create(username="admin")
    admin.is_staff = admin.is_superuser = True
    admin.set_password(DEMO_PASSWORD)
    admin.save()
    staff_2fa_enroll(username="admin", key=DEMO_TOTP_KEY)
    result = {"admin": admin}
    for role in ("investigator", "reviewer", "finance", "supervisor"):
        user, _ = users.objects.get_or_create(username=role)
        user.is_staff = True
        user.set_password(DEMO_PASSWORD)
        user.save()
        user.groups.add(Group.objects.get(name=role))
        staff_2fa_enroll(username=role, key=DEMO_TOTP_KEY)
        result[role] = user
    # The demo's investigator works for a firm, so that new claims are assigned to them.
    firm, _ = InvestigationFirm.objects.get_or_create(
        name="Demo Investigations Ltd", defaults={"fee_per_case_fen": 20_000}
    )
    Investigator.objects.get_or_create(user=result["investigator"], defaults={"firm": firm})
    member_user, _ = users.objects.get_or_create(username="member")
    member_user.set_password(DEMO_PASSWORD)
    member_user.save()
    Member.objects.get_or_create(
        user=member_user,
        defaults={
            "full_name": "Demo Member",
            "national_id": "DEMO-MEMBER",
            "birth_date": datetime.date(1990, 5, 17),
        },
    )
    result["member"] = member_user
    # A member since before the demo's periods (office/demo/billing.py makes them), with
    # posted bills: the README's journey reads their bills and disputes a case as a sharer.
    sharer = users.objects.filter(username=SHARER).first()
    if sharer is not None:
        sharer.set_password(DEMO_PASSWORD)
        sharer.save()
        result[SHARER] = sharer
    return result


def ensure_demo_sharer(*, plan, joined_at: datetime.datetime):
    """The demo login `sharer`: a member of `plan` since `joined_at` (past every waiting
    period), made once, as the demo's members are (no join service: the moment is past)."""
    from members.models import Membership, MembershipStatus

    users = get_user_model()
    user, _ = users.objects.get_or_create(username=SHARER)
    user.set_password(DEMO_PASSWORD)
    user.save()
    member, _ = Member.objects.get_or_create(
        user=user,
        defaults={
            "full_name": "Demo Sharer",
            "national_id": "DEMO-SHARER",
            "birth_date": datetime.date(1991, 3, 9),
        },
    )
    Membership.objects.get_or_create(
        member=member,
        plan=plan,
        defaults={
            "status": MembershipStatus.ACTIVE,
            "joined_at": joined_at,
            "in_pool_since": joined_at,
            "waiting_until": joined_at,
            "cover_fen": 300_000_00,
        },
    )
    return user
