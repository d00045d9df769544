from django.core.management.base import BaseCommand, CommandError

from billing.ledger import ledger_verify


class Command(BaseCommand):
    help = "Check that every posting balances; exit 1 naming any that does not."

    def handle(self, *args, **options):
        problems = ledger_verify()
        for problem in problems:
            self.stderr.write(self.style.ERROR(problem))
        if problems:
            raise CommandError(f"{len(problems)} ledger problem(s) found")
        self.stdout.write(self.style.SUCCESS("ledger verified: every posting balances"))
