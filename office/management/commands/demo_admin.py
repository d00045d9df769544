from django.conf import settings
from django.core.management.base import BaseCommand

from office.checks import require_demo_mode
from office.demo_totp import DEMO_TOTP_SECRET
from office.demo_users import DEMO_PASSWORD, ensure_demo_users


class Command(BaseCommand):
    help = "Create (or reset) the demo admin and role users and print their logins."

    def handle(self, *args, **options):
        require_demo_mode("demo_admin")
        users = ensure_demo_users()
        self.stdout.write(self.style.SUCCESS(f"Admin logins (password for all: {DEMO_PASSWORD}):"))
        for username, user in users.items():
            role = "superuser" if user.is_superuser else username
            if username == "member":
                role = "a member, for the API"
            if username == "sharer":
                role = "a member since before the demo's periods, with bills"
            self.stdout.write(f"  {username:<13} / {DEMO_PASSWORD}   ({role})")
        required = "required" if settings.MUTUAL_STAFF_2FA else "off: MUTUAL_STAFF_2FA is false"
        self.stdout.write(
            f"Staff second factor ({required}): the demo authenticator secret {DEMO_TOTP_SECRET}"
            " (every demo staff login);\n  the code now: .venv/bin/python -m office.demo_totp"
        )
