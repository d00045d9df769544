"""The member API, endpoint by endpoint: success, bad input, no login, someone else's object,
and state changes that are not allowed."""

import datetime
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from claims.models import Claim, ClaimState
from tests.claim_steps import PDF, draw_jury, to_disputed, to_publicized
from tests.factories import ClaimFactory, MemberFactory, MembershipFactory, PlanFactory
from tests.test_billing import approved_claim, members, period_for, run

pytestmark = pytest.mark.django_db


def api_for(member) -> APIClient:
    client = APIClient()
    client.force_authenticate(member.user)
    return client


@pytest.fixture
def me(plan):
    return MembershipFactory(plan=plan).member


@pytest.fixture
def someone_else(plan):
    return MembershipFactory(plan=plan).member


@pytest.fixture
def api(me):
    return api_for(me)


def claim_payload(membership, **overrides):
    today = datetime.date.today()
    return {
        "membership": membership.pk, "incident_kind": "accident", "incident_date": today,
        "diagnosis_date": today, "diagnosis": "fracture", "hospital": "Ruijin",
        "amount_requested_fen": 100_00, **overrides,
    }  # fmt: skip


class TestAuth:
    def test_token_for_username_and_password(self, me):
        response = APIClient().post(
            "/api/auth/token/", {"username": me.user.username, "password": "pw"}
        )
        assert response.status_code == 200 and response.json()["token"]
        client = APIClient(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
        assert client.get("/api/me/").json()["id"] == me.pk

    def test_wrong_password_is_400_with_a_message(self, me):
        response = APIClient().post(
            "/api/auth/token/", {"username": me.user.username, "password": "nope"}
        )
        assert response.status_code == 400 and "non_field_errors" in response.json()

    def test_guessing_passwords_is_throttled(self, me, monkeypatch):
        from django.core.cache import cache
        from rest_framework.throttling import ScopedRateThrottle

        monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"auth": "2/min"})
        cache.clear()
        guesses = [
            APIClient().post("/api/auth/token/", {"username": me.user.username, "password": g})
            for g in ("a", "b", "c")
        ]
        assert [r.status_code for r in guesses] == [400, 400, 429]

    @pytest.mark.parametrize(
        "url", ["/api/me/", "/api/memberships/", "/api/claims/", "/api/cases/", "/api/me/bills/"]
    )
    def test_member_endpoints_need_a_login(self, url):
        assert APIClient().get(url).status_code == 401

    def test_staff_without_a_member_profile_is_refused(self, reviewer):
        client = APIClient()
        client.force_authenticate(reviewer)
        assert client.get("/api/claims/").status_code == 403

    def test_plans_are_public(self, plan):
        body = APIClient().get("/api/plans/").json()
        assert body["results"][0]["cover_bands"][0] == {
            "max_age_years": 39,
            "cover_fen": 300_000_00,
        }


class TestMemberships:
    def test_join_and_list_mine(self, good_credit, settings):
        settings.MUTUAL_CREDIT_PROVIDER = "tests.conftest.FixedCreditScores700"
        me, plan = MemberFactory(), PlanFactory()
        response = api_for(me).post("/api/memberships/", {"plan": plan.pk})
        assert response.status_code == 201, response.json()
        assert response.json()["status"] == "active"
        assert [m["plan"] for m in api_for(me).get("/api/memberships/").json()["results"]] == [
            plan.pk
        ]

    def test_a_refusal_names_the_rule(self, settings):
        settings.MUTUAL_CREDIT_PROVIDER = "tests.conftest.FixedCreditScores600"
        response = api_for(MemberFactory()).post("/api/memberships/", {"plan": PlanFactory().pk})
        assert response.status_code == 400
        assert response.json()["code"] == "credit_score" and "650" in response.json()["plan"][0]

    @pytest.mark.parametrize("payload", [{}, {"plan": "x"}, {"plan": 999_999}, {"plan": -1}])
    def test_bad_input_is_a_400_with_field_messages(self, api, payload):
        response = api.post("/api/memberships/", payload)
        assert response.status_code == 400 and "plan" in response.json()

    def test_withdraw_mine(self, api, me):
        membership = me.memberships.get()
        response = api.post(f"/api/memberships/{membership.pk}/withdraw/")
        assert response.status_code == 200 and response.json()["status"] == "withdrawn"
        assert api.post(f"/api/memberships/{membership.pk}/withdraw/").status_code == 409

    def test_someone_elses_membership_is_404(self, api, someone_else):
        other = someone_else.memberships.get()
        assert api.get(f"/api/memberships/{other.pk}/").status_code == 404
        assert api.post(f"/api/memberships/{other.pk}/withdraw/").status_code == 404

    def test_status_cannot_be_mass_assigned(self, api, me):
        """PATCH changes only the member's own choice (move_at_age_limit), nothing else."""
        membership = me.memberships.get()
        url = f"/api/memberships/{membership.pk}/"
        ignored = api.patch(url, {"status": "lapsed"}, format="json")
        assert ignored.status_code == 200 and ignored.json()["status"] == "active"
        both = {"status": "lapsed", "cover_fen": 1, "move_at_age_limit": False}
        answer = api.patch(url, both, format="json")
        assert answer.status_code == 200 and answer.json()["status"] == "active"
        membership.refresh_from_db()
        assert (membership.status, membership.cover_fen) == ("active", 300_000_00)
        assert membership.move_at_age_limit is False
        assert api.put(url, both, format="json").status_code == 405


class TestClaims:
    def test_submit_list_read_withdraw(self, api, me):
        membership = me.memberships.get()
        response = api.post("/api/claims/", claim_payload(membership), format="json")
        assert response.status_code == 201, response.json()
        claim_id = response.json()["id"]
        assert response.json()["state"] == "submitted"
        assert [c["id"] for c in api.get("/api/claims/").json()["results"]] == [claim_id]
        withdrawn = api.post(f"/api/claims/{claim_id}/withdraw/")
        assert withdrawn.status_code == 200 and withdrawn.json()["state"] == "withdrawn"
        history = api.get(f"/api/claims/{claim_id}/").json()["history"]
        assert [h["transition"] for h in history] == ["submit", "withdraw"]

    def test_state_and_approved_amount_are_read_only(self, api, me):
        membership = me.memberships.get()
        payload = claim_payload(membership, state="approved", amount_approved_fen=1)
        body = api.post("/api/claims/", payload, format="json").json()
        assert body["state"] == "submitted" and body["amount_approved_fen"] is None

    @pytest.mark.parametrize(("overrides", "field"), [
        ({"amount_requested_fen": 0}, "amount_requested_fen"),
        ({"incident_kind": "boredom"}, "incident_kind"),
        ({"incident_date": "not a date"}, "incident_date"),
        ({"amount_requested_fen": 300_000_01}, "amount_requested_fen"),
    ])  # fmt: skip
    def test_bad_claims_are_400_naming_the_field(self, api, me, overrides, field):
        response = api.post(
            "/api/claims/", claim_payload(me.memberships.get(), **overrides), format="json"
        )
        assert response.status_code == 400 and field in response.json()

    def test_a_claim_on_someone_elses_membership_is_refused(self, api, someone_else):
        payload = claim_payload(someone_else.memberships.get())
        response = api.post("/api/claims/", payload, format="json")
        assert response.status_code == 400 and "membership" in response.json()

    def test_someone_elses_claim_is_404(self, api, someone_else):
        claim = ClaimFactory(membership=someone_else.memberships.get())
        assert api.get(f"/api/claims/{claim.pk}/").status_code == 404
        assert api.post(f"/api/claims/{claim.pk}/withdraw/").status_code == 404
        assert api.post(f"/api/claims/{claim.pk}/evidence/", {}).status_code == 404

    def test_evidence_upload_returns_hash_and_position(self, api, me):
        claim = ClaimFactory(membership=me.memberships.get())
        upload = SimpleUploadedFile("cert.pdf", PDF + b"certificate", "application/pdf")
        response = api.post(
            f"/api/claims/{claim.pk}/evidence/",
            {"kind": "medical_certificate", "file": upload},
            format="multipart",
        )
        assert response.status_code == 201, response.json()
        assert response.json()["position"] == 1 and len(response.json()["sha256"]) == 64

    def test_evidence_of_the_wrong_type_is_400(self, api, me):
        claim = ClaimFactory(membership=me.memberships.get())
        upload = SimpleUploadedFile("x.pdf", b"plain text", "application/pdf")
        response = api.post(
            f"/api/claims/{claim.pk}/evidence/",
            {"kind": "other", "file": upload},
            format="multipart",
        )
        assert response.status_code == 400 and "file" in response.json()

    def test_withdrawing_an_investigated_claim_is_a_conflict(self, api, me, investigator):
        claim = to_publicized(
            ClaimFactory(membership=me.memberships.get()),
            investigator=investigator,
            now=datetime.datetime.now(datetime.UTC),
        )
        assert api.post(f"/api/claims/{claim.pk}/withdraw/").status_code == 409
        assert Claim.objects.get(pk=claim.pk).state == ClaimState.PUBLICIZED


class TestCases:
    @pytest.fixture
    def public_case(self, someone_else, investigator):
        claim = ClaimFactory(membership=someone_else.memberships.get())
        return to_publicized(
            claim, investigator=investigator, now=datetime.datetime.now(datetime.UTC)
        )

    def test_public_cases_of_my_plans_are_anonymised(self, api, public_case):
        body = api.get("/api/cases/").json()["results"]
        assert [c["id"] for c in body] == [public_case.pk]
        case = api.get(f"/api/cases/{public_case.pk}/").json()
        assert case["evidence"][0]["sha256"] and case["investigation_summary"]
        assert not {"membership", "member", "full_name", "file"} & set(case)
        assert "file" not in case["evidence"][0]

    def test_cases_of_other_plans_and_unpublished_ones_are_404(self, api, someone_else):
        hidden = ClaimFactory(membership=someone_else.memberships.get())  # not yet public
        elsewhere = ClaimFactory(membership=MembershipFactory(plan=PlanFactory()))
        assert api.get(f"/api/cases/{hidden.pk}/").status_code == 404
        assert api.get(f"/api/cases/{elsewhere.pk}/").status_code == 404

    def test_dispute_once_during_the_window(self, api, public_case):
        first = api.post(f"/api/cases/{public_case.pk}/disputes/", {"reason": "dates differ"})
        assert first.status_code == 201 and first.json()["case"] == public_case.pk
        again = api.post(f"/api/cases/{public_case.pk}/disputes/", {"reason": "again"})
        assert again.status_code == 400 and again.json()["code"] == "already_disputed"
        assert api.post(f"/api/cases/{public_case.pk}/disputes/", {}).status_code == 400

    def test_a_member_not_drawn_cannot_vote(self, api, someone_else, investigator):
        claim = to_disputed(
            ClaimFactory(membership=someone_else.memberships.get()),
            investigator=investigator,
            now=datetime.datetime.now(datetime.UTC),
        )
        response = api.post(f"/api/cases/{claim.pk}/votes/", {"vote": "approve"})
        assert response.status_code == 400 and response.json()["code"] == "not_a_juror"
        assert api.post(f"/api/cases/{claim.pk}/votes/", {"vote": "maybe"}).status_code == 400


def test_a_drawn_juror_votes_through_the_api(investigator):
    from members.models import DisputeReview

    plan = PlanFactory(dispute_review=DisputeReview.JURY, jury_size=1, jury_quorum=1)
    claimant, objector, juror = (MembershipFactory(plan=plan) for _ in range(3))
    claim = ClaimFactory(membership=claimant)
    now = datetime.datetime.now(datetime.UTC)
    claim = to_publicized(claim, investigator=investigator, now=now)
    from claims.disputes import dispute_raise
    from claims.services import claims_close_due_windows

    dispute_raise(claim_id=claim.pk, member_id=objector.member_id, reason="doubt", now=now)
    claims_close_due_windows(now=claim.publicity_ends_at)
    draw_jury(claim, now=claim.publicity_ends_at)  # its own task, after the closer
    assert list(claim.jury.values_list("member_id", flat=True)) == [juror.member_id]
    response = api_for(juror.member).post(f"/api/cases/{claim.pk}/votes/", {"vote": "approve"})
    assert response.status_code == 200 and response.json()["state"] == "approved"


class TestBills:
    def test_my_bills_with_breakdown_and_the_public_period(self, investigator):
        plan = PlanFactory(management_fee_bp=800, per_case_cap_fen=10)
        mine = members(plan, 4)[0]
        approved_claim(plan, investigator, amount_fen=1000_00)
        period = run(period_for(plan))
        api = api_for(mine.member)
        bills = api.get("/api/me/bills/").json()["results"]
        assert [b["period"]["id"] for b in bills] == [period.pk]
        bill = api.get(f"/api/me/bills/{period.pk}/").json()
        assert bill["charged_fen"] == 10 and Decimal(bill["breakdown"][0]["case_capped_fen"]) > 0
        report = APIClient().get(f"/api/periods/{period.pk}/").json()
        assert report["total_fen"] == 1080_00 and report["members_count"] == 5
        assert report["cases"][0]["base_share_fen"] == 1080_00 // 5

    def test_a_period_i_was_not_billed_in_is_404(self, api):
        assert api.get("/api/me/bills/999999/").status_code == 404
