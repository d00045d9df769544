"""Erase what is past its retention (claims/retention.py), as the daily beat task does; with
--dry-run, only say what would go. Prints one JSON line."""

import json

from django.core.management.base import BaseCommand
from django.utils import timezone

from claims.retention import erase_due


class Command(BaseCommand):
    help = "Erase evidence and identities past their retention (--dry-run: list them)."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="list, erase nothing")

    def handle(self, *args, dry_run, **options):
        self.stdout.write(json.dumps(erase_due(now=timezone.now(), dry_run=dry_run)))
