"""Conditional GET (issue 11, part 4): posted bills and public cases carry an ETag and answer
304 to a client that already has them; the list of bills leaves the cases to each bill."""

import datetime
import json

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.utils.http import http_date

from billing.models import Bill
from claims.disputes import dispute_raise
from tests.claim_steps import to_publicized
from tests.factories import ClaimFactory, MembershipFactory
from tests.test_api import api_for
from tests.test_billing import approved_claim, members, period_for, run

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


def _again(api, url, response):
    return api.get(url, HTTP_IF_NONE_MATCH=response["ETag"])


class TestBills:
    @pytest.fixture
    def billed(self, investigator, plan):
        mine = members(plan, 3)[0]
        approved_claim(plan, investigator, amount_fen=1000_00)
        return mine, run(period_for(plan))

    def test_a_repeated_read_is_304_until_a_new_period_is_posted(self, billed, investigator):
        mine, period = billed
        api = api_for(mine.member)
        first = api.get("/api/me/bills/")
        assert first.status_code == 200 and first["ETag"] and first["Last-Modified"]
        again = _again(api, "/api/me/bills/", first)
        assert again.status_code == 304 and again.content == b""
        assert again["ETag"] == first["ETag"]
        detail = api.get(f"/api/me/bills/{period.pk}/")
        assert _again(api, f"/api/me/bills/{period.pk}/", detail).status_code == 304
        assert detail["ETag"] != first["ETag"]

        publicized = period.cutoff_at + datetime.timedelta(days=1)
        approved_claim(period.plan, investigator, amount_fen=500_00, publicize_at=publicized)
        later = run(period_for(period.plan, cutoff=period.cutoff_at + datetime.timedelta(days=15)))
        changed = _again(api, "/api/me/bills/", first)
        assert changed.status_code == 200 and changed["ETag"] != first["ETag"]
        assert [b["period"]["id"] for b in changed.json()["results"]] == [later.pk, period.pk]
        # The older bill did not change: its detail is still the client's.
        assert _again(api, f"/api/me/bills/{period.pk}/", detail).status_code == 304

    def test_paying_a_bill_changes_its_etag(self, billed):
        mine, period = billed
        api = api_for(mine.member)
        first = api.get(f"/api/me/bills/{period.pk}/")
        Bill.objects.filter(period=period, membership=mine).update(paid_at=period.cutoff_at)
        assert _again(api, f"/api/me/bills/{period.pk}/", first).status_code == 200

    def test_if_modified_since(self, billed):
        mine, period = billed
        api = api_for(mine.member)
        first = api.get("/api/me/bills/")
        assert (
            api.get("/api/me/bills/", HTTP_IF_MODIFIED_SINCE=first["Last-Modified"]).status_code
            == 304
        )
        older = http_date(period.posted_at.timestamp() - 60)
        assert api.get("/api/me/bills/", HTTP_IF_MODIFIED_SINCE=older).status_code == 200

    def test_the_list_leaves_the_cases_to_each_bill(self, billed):
        mine, period = billed
        api = api_for(mine.member)
        listed = api.get("/api/me/bills/").json()["results"][0]
        assert "cases" not in listed["period"] and "breakdown" not in listed
        bill = api.get(f"/api/me/bills/{period.pk}/").json()
        assert len(bill["period"]["cases"]) == 1 and bill["breakdown"][0]["claim"]

    def test_another_members_etag_is_not_mine(self, billed, plan):
        mine, period = billed
        other = Bill.objects.filter(period=period).exclude(membership=mine).first()
        first = api_for(mine.member).get(f"/api/me/bills/{period.pk}/")
        theirs = _again(api_for(other.membership.member), f"/api/me/bills/{period.pk}/", first)
        assert theirs.status_code == 200


class TestCases:
    @pytest.fixture
    def public_case(self, plan, investigator):
        now = datetime.datetime.now(datetime.UTC)
        return to_publicized(
            ClaimFactory(membership=MembershipFactory(plan=plan)),
            investigator=investigator,
            now=now,
        )

    def test_a_repeated_read_is_304_until_a_case_changes(self, public_case, plan, investigator):
        me = MembershipFactory(plan=plan)
        api = api_for(me.member)
        first = api.get("/api/cases/")
        assert first.status_code == 200 and first["ETag"]
        assert _again(api, "/api/cases/", first).status_code == 304
        # Another page or filter is another answer.
        assert _again(api, "/api/cases/?state=publicized", first).status_code == 200

        dispute_raise(
            claim_id=public_case.pk,
            member_id=me.member_id,
            reason="dates differ",
            now=public_case.publicity_starts_at,
        )
        disputed = _again(api, "/api/cases/", first)
        assert disputed.status_code == 200 and disputed["ETag"] != first["ETag"]
        assert disputed.json()["results"][0]["disputes"] == 1

        now = datetime.datetime.now(datetime.UTC)
        to_publicized(
            ClaimFactory(membership=MembershipFactory(plan=plan)),
            investigator=investigator,
            now=now,
        )
        more = _again(api, "/api/cases/", disputed)
        assert more.status_code == 200 and len(more.json()["results"]) == 2


def test_bench_api_prints_json_per_endpoint(monkeypatch, capsys):
    """The command's shape, with the server and locust stood in (they need a real database
    that other processes can read, and minutes)."""
    from office import bench_api

    monkeypatch.setattr(
        bench_api,
        "workload",
        lambda **kw: {"plan": "bench-10-c4", "periods": 2, "clients": [{"token": "t"}]},
    )

    class Server:
        def terminate(self):
            self.stopped = True

        def wait(self, timeout):
            return 0

    monkeypatch.setattr(bench_api, "server_start", lambda **kw: (Server(), "http://127.0.0.1:1"))
    figures = {"requests": 10, "failures": 0, "requests_per_s": 5.0, "p50_ms": 3.0}
    monkeypatch.setattr(
        bench_api, "locust_run", lambda **kw: {"/api/me/": {**figures, "p99_ms": 9.0}}
    )
    call_command("bench_api", "--members", "10", "--users", "1", "--seconds", "1")
    out = json.loads(capsys.readouterr().out)
    assert out["members"] == 10 and out["periods"] == 2 and "clients" not in out
    assert set(out["endpoints"]["/api/me/"]) == {
        "requests",
        "failures",
        "requests_per_s",
        "p50_ms",
        "p99_ms",
    }


class TestPublic:
    def test_the_public_report_and_cases_answer_304_when_unchanged(self, plan, investigator):
        members(plan, 3)
        approved_claim(plan, investigator, amount_fen=1000_00)
        period = run(period_for(plan))
        for url in (f"/api/public/periods/{period.pk}/", "/api/public/cases/"):
            client = api_for(members(plan, 1)[0].member)
            first = client.get(url)
            assert first.status_code == 200 and first["ETag"], url
            assert _again(client, url, first).status_code == 304, url
