"""bench_api's clients (office/bench_api.py runs this with locust, headless, on loopback):
members reading their profile, bills, cases and notices, and submitting claims. Each client
keeps the ETags it was given, like a browser's cache, and asks again with If-None-Match."""

import datetime
import itertools
import json
import os
import random
from collections import Counter, defaultdict

from locust import HttpUser, constant, events, tag, task

CLIENTS = json.loads(open(os.environ["BENCH_API_CLIENTS"]).read())  # noqa: SIM115
MAX_REQUESTS = int(os.environ.get("BENCH_API_MAX_REQUESTS") or 0)
_next_client = itertools.count()
_statuses: dict[str, Counter] = defaultdict(Counter)
_total = itertools.count(1)


@events.request.add_listener
def _count(request_type, name, response, exception, **kwargs):
    label = name if request_type == "GET" else f"{request_type} {name}"
    _statuses[label][str(getattr(response, "status_code", 0))] += 1
    if MAX_REQUESTS and next(_total) >= MAX_REQUESTS:
        runner = kwargs.get("context", {}).get("runner") or _runner
        if runner is not None:
            runner.quit()


_runner = None


@events.init.add_listener
def _init(environment, **kwargs):
    global _runner
    _runner = environment.runner


@events.quitting.add_listener
def _write(environment, **kwargs):
    with open(os.environ["BENCH_API_STATUSES"], "w") as f:
        json.dump({name: dict(counts) for name, counts in _statuses.items()}, f)


class Member(HttpUser):
    wait_time = constant(0)

    def on_start(self):
        client = CLIENTS[next(_next_client) % len(CLIENTS)]
        self.membership = client["membership"]
        self.client.headers["Authorization"] = f"Token {client['token']}"
        self.etags: dict[str, str] = {}
        self.periods: list[int] = []
        if "bill" in (self.environment.parsed_options.tags or []):  # the periods to ask for
            bills = self.client.get("/api/me/bills/", name="(start)").json()["results"]
            self.periods = [bill["period"]["id"] for bill in bills]

    def _get(self, url: str, name: str):
        headers = {"If-None-Match": self.etags[url]} if url in self.etags else {}
        with self.client.get(url, name=name, headers=headers, catch_response=True) as response:
            if response.status_code in (200, 304):
                if etag := response.headers.get("ETag"):
                    self.etags[url] = etag
                response.success()
            else:
                response.failure(f"status {response.status_code}")
            return response

    @task(3)
    @tag("me")
    def me(self):
        self._get("/api/me/", "/api/me/")

    @task(3)
    @tag("bills")
    def bills(self):
        response = self._get("/api/me/bills/", "/api/me/bills/")
        if response.status_code == 200:
            self.periods = [bill["period"]["id"] for bill in response.json()["results"]]

    @task(1)
    @tag("bill")
    def bill(self):
        if self.periods:
            period = random.choice(self.periods)
            self._get(f"/api/me/bills/{period}/", "/api/me/bills/{period}/")

    @task(3)
    @tag("cases")
    def cases(self):
        self._get("/api/cases/", "/api/cases/")

    @task(2)
    @tag("notifications")
    def notifications(self):
        self._get("/api/me/notifications/", "/api/me/notifications/")

    @task(1)
    @tag("claim")
    def claim(self):
        today = datetime.date.today().isoformat()
        body = {
            "membership": self.membership,
            "incident_kind": "accident",
            "incident_date": today,
            "diagnosis_date": today,
            "diagnosis": "fracture",
            "hospital": "benchmark hospital",
            "amount_requested_fen": 500_00,
        }
        with self.client.post("/api/claims/", json=body, catch_response=True) as response:
            if response.status_code == 201:
                response.success()
            else:
                response.failure(f"status {response.status_code}")
