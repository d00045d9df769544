from django.core.management.base import BaseCommand, CommandError

from claims.evidence import evidence_verify_all


class Command(BaseCommand):
    help = "Re-hash stored evidence files and their chains; exit 1 naming any mismatch."

    def add_arguments(self, parser):
        parser.add_argument("--claim", type=int, help="only this claim's chain")

    def handle(self, *args, claim=None, **options):
        problems = evidence_verify_all(claim)
        for problem in problems:
            self.stderr.write(self.style.ERROR(str(problem)))
        if problems:
            raise CommandError(f"{len(problems)} evidence problem(s) found")
        self.stdout.write(self.style.SUCCESS("evidence chains verified: no mismatch"))
