"""Demo logins: a superuser and one staff user per role, all with one printed password."""

import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from members.models import Member

DEMO_PASSWORD = "mutual-demo"


def ensure_demo_users() -> dict[str, object]:
    """Create or reset admin, investigator, reviewer, finance, and `member` (a member with no
    membership yet, for trying the API). Returns them by username."""
    users = get_user_model()
    admin, _ = users.objects.get_or_create(username="admin")
    admin.is_staff = admin.is_superuser = True
    admin.set_password(DEMO_PASSWORD)
    admin.save()
    result = {"admin": admin}
    for role in ("investigator", "reviewer", "finance"):
        user, _ = users.objects.get_or_create(username=role)
        user.is_staff = True
        user.set_password(DEMO_PASSWORD)
        user.save()
        user.groups.add(Group.objects.get(name=role))
        result[role] = user
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
    return result
