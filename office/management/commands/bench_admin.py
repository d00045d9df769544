"""Time the admin changelists staff use all day, as a logged-in superuser (the desk's My work
as an investigator), on this database, and the dashboard's claims-desk figures. Prints one
JSON line: median and worst seconds and the queries per page over --repeat loads. With
--claims N, first writes the claims desk's workload up to N claims (office/bench_desk.py)."""

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
    "desk: my work (an investigator)": ("admin:claims_claim_changelist", "?desk=mine"),
    "desk: unassigned": ("admin:claims_claim_changelist", "?desk=unassigned"),
    "desk: overdue": ("admin:claims_claim_changelist", "?desk=overdue"),
    "desk: waiting on the claimant": ("admin:claims_claim_changelist", "?desk=waiting"),
    "desk: risky": ("admin:claims_claim_changelist", "?desk=risky"),
    "desk: audit sample": ("admin:claims_claim_changelist", "?desk=audit"),
    "desk: appeals": ("admin:claims_claim_changelist", "?desk=appeals"),
    "desk: everyone's load": ("admin:claims_claim_desk_load", ""),
    "investigation firms": ("admin:claims_investigationfirm_changelist", ""),
    "bills": ("admin:billing_bill_changelist", ""),
}  # fmt: skip


class Command(BaseCommand):
    help = "Time the big admin changelists (members, memberships, claims, bills)."

    def add_arguments(self, parser):
        parser.add_argument("--repeat", type=int, default=5)
        parser.add_argument("--claims", type=int, default=0, help="write claims up to N first")

    def handle(self, *args, repeat, claims, **options):
        from django.db import connection
        from django.utils import timezone

        figures = {}
        if claims:
            from office.bench_desk import ensure_desk_claims

            started = time.perf_counter()
            figures["claims_setup"] = ensure_desk_claims(total=claims, now=timezone.now())
            figures["claims_setup"]["seconds"] = round(time.perf_counter() - started, 1)
        user = get_user_model().objects.filter(is_superuser=True).first()
        client, worker = Client(), Client()
        client.force_login(user)
        investigator = get_user_model().objects.filter(username="bench-inv-00").first()
        worker.force_login(investigator or user)
        for name, (url_name, query) in PAGES.items():
            url = reverse(url_name) + query
            browser = worker if "an investigator" in name else client
            browser.get(url)  # warm the cache once, as a page in daily use is
            seconds = []
            for _ in range(repeat):
                with CaptureQueriesContext(connection) as queries:
                    started = time.perf_counter()
                    response = browser.get(url)
                    seconds.append(time.perf_counter() - started)
            figures[name] = {"status": response.status_code, "queries": len(queries),
                             "median_s": round(statistics.median(seconds), 3),
                             "worst_s": round(max(seconds), 3)}  # fmt: skip
        figures["desk figures (dashboard panel)"] = _time_kpis(repeat)
        from claims.models import Claim
        from members.models import Membership

        figures["memberships_in_database"] = Membership.objects.count()
        figures["claims_in_database"] = Claim.objects.count()
        self.stdout.write(json.dumps(figures))


def _time_kpis(repeat: int) -> dict:
    """The dashboard's claims-desk panel, computed afresh each time (its cache bypassed)."""
    from django.db import connection
    from django.utils import timezone

    from claims.kpis import desk_kpis

    seconds = []
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            desk_kpis(now=timezone.now())
            seconds.append(time.perf_counter() - started)
    return {"queries": len(queries), "median_s": round(statistics.median(seconds), 3),
            "worst_s": round(max(seconds), 3)}  # fmt: skip
