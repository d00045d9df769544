from django.core.management.base import BaseCommand, CommandError

from mutual.core.errors import ServiceError
from mutual.two_factor import staff_2fa_enroll


class Command(BaseCommand):
    help = (
        "Enrol a staff user for two-factor login: a new authenticator secret and new recovery "
        "codes, printed once (any earlier ones stop working)."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username: str, **options):
        try:
            enrollment = staff_2fa_enroll(username=username)
        except ServiceError as error:
            raise CommandError(error.message) from None
        self.stdout.write(self.style.SUCCESS(f"Two-factor login for {enrollment.username}:"))
        self.stdout.write(f"  authenticator secret: {enrollment.secret}")
        self.stdout.write(f"  or as a link (QR code): {enrollment.config_url}")
        self.stdout.write("  recovery codes (each works once; keep them offline):")
        for code in enrollment.recovery_codes:
            self.stdout.write(f"    {code}")
