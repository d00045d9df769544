"""A demo superuser and one user per staff role, all with the printed password."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand

DEMO_PASSWORD = "mutual-demo"
ROLE_USERS = {"investigator": "investigator", "reviewer": "reviewer", "finance": "finance"}


class Command(BaseCommand):
    help = "Create (or reset) the demo admin and role users and print their logins."

    def handle(self, *args, **options):
        users = get_user_model()
        admin, _ = users.objects.get_or_create(username="admin", defaults={"email": ""})
        admin.is_staff = admin.is_superuser = True
        admin.set_password(DEMO_PASSWORD)
        admin.save()
        lines = [f"  admin / {DEMO_PASSWORD}   (superuser)"]
        for username, group_name in ROLE_USERS.items():
            group = Group.objects.filter(name=group_name).first()
            if group is None:
                continue  # the role's app has not created its group yet
            user, _ = users.objects.get_or_create(username=username)
            user.is_staff = True
            user.set_password(DEMO_PASSWORD)
            user.save()
            user.groups.add(group)
            lines.append(f"  {username} / {DEMO_PASSWORD}   ({group_name})")
        self.stdout.write(self.style.SUCCESS("Admin logins:"))
        self.stdout.write("\n".join(lines))
