"""Demo logins: a superuser and one staff user per role, all with one printed password."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

DEMO_PASSWORD = "mutual-demo"


def ensure_demo_users() -> dict[str, object]:
    """Create or reset admin, investigator, reviewer and finance. Returns them by username."""
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
    return result
