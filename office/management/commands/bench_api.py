"""The API under load: members of an N-member plan with posted periods read their profile,
bills, cases and notices and submit claims, through the production server (gunicorn, DEBUG
off) on loopback, driven by locust headless for a bounded time and number of requests. Prints
one JSON object: requests/s, p50 and p99 per endpoint, and the statuses seen (304s)."""

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from office import bench_api


class Command(BaseCommand):
    help = "Load-test the member API with locust against gunicorn on loopback; print JSON."

    def add_arguments(self, parser):
        parser.add_argument("--members", type=int, default=1_000_000)
        parser.add_argument("--periods", type=int, default=3, help="posted periods (built once)")
        parser.add_argument("--cases", type=int, default=503, help="cases over all the periods")
        parser.add_argument("--users", type=int, default=50, help="concurrent clients")
        parser.add_argument("--seconds", type=int, default=30)
        parser.add_argument("--requests", type=int, default=100_000, help="stop after this many")
        parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
        parser.add_argument(
            "--code-dir",
            type=Path,
            default=settings.BASE_DIR,
            help="the code gunicorn serves (e.g. a `git worktree` of an older commit)",
        )

    def handle(self, *args, members, periods, cases, users, seconds, requests, workers,
               code_dir, **options):  # fmt: skip
        if members < users or periods < 1 or cases < periods:
            raise CommandError("need a member per client, a period, and a case per period")
        built = bench_api.workload(members=members, periods=periods, cases=cases, users=users)
        server, url = bench_api.server_start(code_dir=code_dir.resolve(), workers=workers)
        try:
            endpoints = bench_api.locust_run(
                url=url, clients=built.pop("clients"), users=users, seconds=seconds,
                requests=requests,
            )  # fmt: skip
        finally:
            server.terminate()
            server.wait(timeout=30)
        figures = {
            "members": members,
            **built,
            "users": users,
            "gunicorn_workers": workers,
            "seconds": seconds,
            "max_requests": requests,
            "code": str(code_dir),
            "endpoints": endpoints,
        }
        self.stdout.write(json.dumps(figures))
