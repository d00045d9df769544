"""Time the encryption of national ids at rest on N members (issue 22), and the exact search
through the blind index on the table that results.

Writes N demo members in clear (as a database before migration members.0019 holds them), then
runs the migration's pass (mutual.core.personal_data.seal_model) over them, in its batches of
their own transactions, and times an exact national-id search in the admin. Prints one JSON
line: seconds, rows per second, the longest batch (how long its row locks were held), and
the search's median and worst seconds. DEBUG only (it writes demo members)."""

import json
import statistics
import time

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from tqdm import tqdm

from members.models import Member
from mutual.core.personal_data import BATCH, blind_index, seal_model
from office.checks import require_demo_mode
from office.demo import members as demo

WRITE_BATCH = 50_000


class Command(BaseCommand):
    help = "Time sealing N members' national ids, and the exact search by blind index."

    def add_arguments(self, parser):
        parser.add_argument("--members", type=int, default=100_000, help="members to write")
        parser.add_argument("--batch", type=int, default=BATCH, help="rows per transaction")
        parser.add_argument("--seed", type=int, default=7, help="the written ids' seed")
        parser.add_argument("--repeat", type=int, default=20)

    def handle(self, *args, members, batch, seed, repeat, **options):
        require_demo_mode("bench_seal")
        if members < 1 or batch < 1:
            raise CommandError("--members and --batch must be at least 1")
        now = timezone.now()
        old, new = demo.ensure_demo_plans()
        existing = demo.existing_demo_members()
        before = None
        started = time.perf_counter()
        with tqdm(total=members, unit="written") as progress:
            for first in range(existing + 1, existing + members + 1, WRITE_BATCH):
                last = min(first + WRITE_BATCH - 1, existing + members)
                low = demo.create_demo_members(
                    first=first, last=last, seed=seed, now=now, old=old, new=new, seal=False
                )
                before = low if before is None else before
                progress.update(last - first + 1)
        written_s = time.perf_counter() - started
        batches = []
        started = last_end = time.perf_counter()

        def took(rows):
            nonlocal last_end
            batches.append(time.perf_counter() - last_end)
            last_end = time.perf_counter()
            progress.update(rows)

        with tqdm(total=members, unit="sealed") as progress:
            sealed = seal_model(Member, batch=batch, after=before, progress=took)
        seal_s = time.perf_counter() - started
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE members_member")
        figures = {
            "members_written": members,
            "members_in_database": Member.objects.count(),
            "write_in_clear_s": round(written_s, 1),
            "sealed": sealed,
            "seal_s": round(seal_s, 1),
            "sealed_per_s": round(sealed / seal_s),
            "batch_rows": batch,
            "longest_batch_s": round(max(batches), 3),
            "search": self.time_search(seed=seed, number=existing + members // 2, repeat=repeat),
        }
        self.stdout.write(json.dumps(figures))

    def time_search(self, *, seed: int, number: int, repeat: int) -> dict:
        user, _ = get_user_model().objects.get_or_create(
            username="bench-seal-admin", defaults={"is_staff": True, "is_superuser": True}
        )
        client = Client()
        client.force_login(user)
        national_id = f"D{seed}-{number:09d}"
        url = reverse("admin:members_member_changelist") + f"?q={national_id}"
        client.get(url)  # warm, as a page in daily use is
        seconds = []
        for _ in range(repeat):
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                response = client.get(url)
                seconds.append(time.perf_counter() - started)
        found = Member.objects.filter(national_id_index=blind_index(national_id)).count()
        return {
            "status": response.status_code,
            "found": found,
            "queries": len(queries),
            "median_s": round(statistics.median(seconds), 4),
            "worst_s": round(max(seconds), 4),
        }
