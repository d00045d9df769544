"""`bench_api`'s workload and run: a plan of N members with posted periods (built once, in
SQL, and reused), the production server (gunicorn, DEBUG off) on loopback, and locust headless
against it (office/locustfile_api.py). The figures are read from locust's CSV."""

from __future__ import annotations

import csv
import datetime
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from knox.models import AuthToken

from billing.models import ApportionmentPeriod, PeriodCase, PeriodStatus
from billing.partitions import bills_partition_create
from members.models import Membership, Plan
from notifications.models import Notice, NoticeKind, NoticeStatus
from office import bench_workload as bench

AMOUNTS = (300_000_00, 100_000_00, 123_456_78)
NOTICES = 30  # per sampled member


def posted_periods(plan: Plan) -> list[ApportionmentPeriod]:
    return list(
        ApportionmentPeriod.objects.filter(plan=plan, status=PeriodStatus.POSTED)
        .filter(cases__isnull=False)
        .distinct()
        .order_by("cutoff_at")
    )


def _period(plan: Plan, claimant: Membership, *, index: int, cases: int, members: int):
    """A posted period of `cases` approved claims shared by every member (written directly:
    the history the API reads, not what is measured)."""
    cutoff = plan.created_at - datetime.timedelta(days=30 * (12 - index))
    window = [(cutoff - bench.WINDOW * (i + 1) / (cases + 1), AMOUNTS[i % 3]) for i in range(cases)]
    claims = bench.approved_claims(plan, claimant, window, decided_at=cutoff)
    fees = [a * 8 // 100 for _, a in window]
    total = sum(a for _, a in window) + sum(fees)
    share = (total + members // 2) // members
    period = ApportionmentPeriod.objects.create(
        plan=plan,
        starts_at=cutoff - bench.WINDOW,
        cutoff_at=cutoff,
        status=PeriodStatus.POSTED,
        posted_at=cutoff,
        cases_total_fen=total - sum(fees),
        fee_total_fen=sum(fees),
        members_count=members,
        charged_fen=share * members,
        per_case_cap_fen=10**12,
        yearly_cap_fen=10**12,
    )
    PeriodCase.objects.bulk_create(
        PeriodCase(
            period=period,
            claim=claim,
            publicized_at=publicized,
            amount_fen=amount,
            fee_fen=fee,
            members_count=members,
            base_share_fen=(amount + fee) // members,
        )
        for claim, (publicized, amount), fee in zip(claims, window, fees, strict=True)
    )
    bills_partition_create(period.pk)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO billing_bill (period_id, membership_id, cases_count, gross_fen, "
            "waived_fen, capped_fen, charged_fen) "
            "SELECT %s, id, %s, %s, 0, 0, %s FROM members_membership WHERE plan_id = %s",
            [period.pk, cases, share, share, plan.pk],
        )
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM (ANALYZE) billing_bill_p{period.pk}")
    return period


TOKEN_LIFETIME = datetime.timedelta(hours=6)


def workload(*, members: int, periods: int, cases: int, users: int) -> dict:
    """Build what is missing (plan, periods, tokens, notices); return the clients' logins."""
    started = time.monotonic()
    plan, built = bench.bench_plan(members=members, cohorts=4)
    have = posted_periods(plan)
    claimant = Membership.objects.filter(plan=plan).order_by("pk").first()
    for index in range(len(have), periods):
        _period(plan, claimant, index=index, cases=cases // periods, members=members)
    # The clients: the first cohort (in the pool for two years, past any waiting period).
    sample = list(
        Membership.objects.filter(plan=plan)
        .order_by("pk")
        .values_list("pk", "member_id", "member__user_id")[:users]
    )
    user_ids = [u for _, _, u in sample]
    # Only a token's hash is stored (knox): each run issues its clients fresh tokens.
    AuthToken.objects.filter(user_id__in=user_ids).delete()
    tokens = {u: AuthToken.objects.create(user_id=u, expiry=TOKEN_LIFETIME)[1] for u in user_ids}
    now = timezone.now()
    Notice.objects.bulk_create(
        (
            Notice(
                member_id=m,
                kind=NoticeKind.BILL,
                event=f"bench-api-bill-{k}",
                payload={"period": f"bench period {k}", "charged_fen": 1234},
                created_at=now,
                status=NoticeStatus.SENT,
                sent_at=now,
            )
            for _, m, _ in sample
            for k in range(NOTICES)
        ),
        ignore_conflicts=True,
    )
    return {
        "plan": plan.code,
        "plan_built": built,
        "periods": len(posted_periods(plan)),
        "cases": PeriodCase.objects.filter(period__plan=plan).count(),
        "setup_seconds": round(time.monotonic() - started, 1),
        "clients": [{"token": tokens[u], "membership": ms} for ms, _, u in sample],
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_start(*, code_dir: Path, workers: int) -> tuple[subprocess.Popen, str]:
    """gunicorn with the Procfile's settings (mutual/gunicorn_conf.py), DEBUG off, a fresh
    secret key, bound to loopback; `code_dir` is the code it serves (a worktree for "before")."""
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_SECURE_SSL_REDIRECT": "0",  # plain HTTP on loopback: no proxy in front
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": str(workers),
        "MUTUAL_DATA_DIR": str(settings.MUTUAL_DATA_DIR),
        "PYTHONPATH": str(code_dir),
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    gunicorn = Path(sys.executable).with_name("gunicorn")
    server = subprocess.Popen(
        [str(gunicorn), "--config", "mutual/gunicorn_conf.py"],
        cwd=code_dir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            urllib.request.urlopen(f"{url}/api/me/", timeout=5)
            return server, url
        except urllib.error.HTTPError:  # it answers (401: no login)
            return server, url
        except OSError:
            if server.poll() is not None:
                raise RuntimeError("gunicorn exited at start") from None
            time.sleep(0.2)
    server.terminate()
    raise RuntimeError("gunicorn did not answer in 30 s")


PHASES = ("me", "bills", "bill", "cases", "notifications", "claim")


def locust_run(*, url: str, clients: list[dict], users: int, seconds: int, requests: int) -> dict:
    """One locust phase per endpoint (office/locustfile_api.py's tags), so that each figure is
    that endpoint's own throughput, not its share of a mix."""
    endpoints = {}
    for phase in PHASES:
        endpoints.update(
            _locust_phase(
                phase, url=url, clients=clients, users=users, seconds=seconds, requests=requests
            )
        )
    return endpoints


def _locust_phase(
    phase: str, *, url: str, clients: list[dict], users: int, seconds: int, requests: int
) -> dict:
    """locust headless against `url` (loopback); per endpoint requests/s, p50, p99 and 304s."""
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        logins, counts = Path(tmp, "clients.json"), Path(tmp, "statuses.json")
        logins.write_text(json.dumps(clients))
        env = {
            **os.environ,
            "BENCH_API_CLIENTS": str(logins),
            "BENCH_API_STATUSES": str(counts),
            "BENCH_API_MAX_REQUESTS": str(requests),
        }
        subprocess.run(
            [
                str(Path(sys.executable).with_name("locust")),
                "-f",
                str(Path(__file__).with_name("locustfile_api.py")),
                "--headless",
                "--tags",
                phase,
                "--host",
                url,
                "--users",
                str(users),
                "--spawn-rate",
                str(users),
                "--run-time",
                f"{seconds}s",
                "--stop-timeout",
                "5",
                "--csv",
                str(Path(tmp, "run")),
                "--only-summary",
                "--loglevel",
                "WARNING",
            ],
            env=env,
            check=False,
            stdout=subprocess.DEVNULL,
        )
        statuses = json.loads(counts.read_text()) if counts.exists() else {}
        with Path(tmp, "run_stats.csv").open() as f:
            rows = list(csv.DictReader(f))
    endpoints = {}
    for row in rows:
        name = row["Name"] if row["Type"] in ("GET", "") else f"{row['Type']} {row['Name']}"
        if row["Name"] in ("Aggregated", "(start)"):
            continue
        endpoints[name] = {
            "requests": int(row["Request Count"]),
            "failures": int(row["Failure Count"]),
            "requests_per_s": round(float(row["Requests/s"]), 1),
            "p50_ms": _ms(row["50%"]),
            "p99_ms": _ms(row["99%"]),
            "statuses": statuses.get(name, {}),
        }
    return endpoints


def _ms(value: str) -> float | None:
    return None if value in ("", "N/A") else float(value)
