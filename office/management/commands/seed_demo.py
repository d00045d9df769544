"""Demo data: the seed's plans, N members, the plan's last periods posted
(office/demo/billing.py: the seed's case paid, a promotion, caps, collections, a lapse), and
claims in every state now.

Idempotent: run it again and only what is missing is created."""

import time

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from tqdm import tqdm

from office.checks import require_demo_mode
from office.demo import members as demo
from office.demo.billing import seed_demo_periods
from office.demo.claims import seed_demo_claims

BATCH = 50_000


class Command(BaseCommand):
    help = "Create demo plans, members and claims (idempotent; reproducible with --seed)."

    def add_arguments(self, parser):
        parser.add_argument("--members", type=int, default=2000, help="how many members in all")
        parser.add_argument("--seed", type=int, default=1, help="same seed, same people")
        parser.add_argument(
            "--no-claims", action="store_true", help="members and plans only: no claims, no periods"
        )

    def handle(self, *args, members: int, seed: int, no_claims: bool, **options):
        require_demo_mode("seed_demo")
        if members < 0:
            raise CommandError("--members must be zero or more")
        started = time.monotonic()
        now = timezone.now()
        old, new = demo.ensure_demo_plans()
        existing = demo.existing_demo_members()
        missing = max(0, members - existing)
        with tqdm(total=missing, unit="members", disable=missing == 0) as progress:
            for first in range(existing + 1, members + 1, BATCH):
                last = min(first + BATCH - 1, members)
                demo.create_demo_members(
                    first=first, last=last, seed=seed, now=now, old=old, new=new
                )
                progress.update(last - first + 1)
        if not no_claims:
            seed_demo_periods(now=now)
            seed_demo_claims(now=now, seed=seed)
        elapsed = time.monotonic() - started
        self.stdout.write(
            self.style.SUCCESS(
                f"demo data ready: {members} members ({missing} created) in {elapsed:.1f} s"
            )
        )
