"""Time the admin changelists staff use all day, as a logged-in superuser, on this database.
Prints one JSON line: median and worst seconds per page over --repeat loads."""

import json
import statistics
import time

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

PAGES = {
    "members": ("admin:members_member_changelist", ""),
    "members, search by national id": ("admin:members_member_changelist", "?q=D1-000500000"),
    "memberships": ("admin:members_membership_changelist", ""),
    "memberships, active in a plan": ("admin:members_membership_changelist",
                                      "?status__exact=active&plan__id__exact=2"),
    "memberships, page 1000": ("admin:members_membership_changelist", "?p=1000"),
    "claims": ("admin:claims_claim_changelist", ""),
    "bills": ("admin:billing_bill_changelist", ""),
}  # fmt: skip


class Command(BaseCommand):
    help = "Time the big admin changelists (members, memberships, claims, bills)."

    def add_arguments(self, parser):
        parser.add_argument("--repeat", type=int, default=5)

    def handle(self, *args, repeat, **options):
        from django.db import connection

        user = get_user_model().objects.filter(is_superuser=True).first()
        client = Client()
        client.force_login(user)
        figures = {}
        for name, (url_name, query) in PAGES.items():
            url = reverse(url_name) + query
            client.get(url)  # warm the cache once, as a page in daily use is
            seconds = []
            for _ in range(repeat):
                with CaptureQueriesContext(connection) as queries:
                    started = time.perf_counter()
                    response = client.get(url)
                    seconds.append(time.perf_counter() - started)
            figures[name] = {"status": response.status_code, "queries": len(queries),
                             "median_s": round(statistics.median(seconds), 3),
                             "worst_s": round(max(seconds), 3)}  # fmt: skip
        from members.models import Membership

        figures["memberships_in_database"] = Membership.objects.count()
        self.stdout.write(json.dumps(figures))
