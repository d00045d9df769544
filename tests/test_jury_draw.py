"""A verifiable jury draw (issue 12, item 4): the seed's SHA-256 is public from the first
dispute, the jury is drawn by mutual/jury.py's rule, and once the claim is decided the seed
is revealed and anyone recomputes the jury from it and the published eligible list.

The draw is its own task (claims.tasks.draw_jury), sent when the window closer's transaction
commits: the transition never waits for it, a second delivery draws nothing, a claim decided
first gets no jury, a draw cut short leaves nothing, and beat sends a lost one again."""

import datetime
import hashlib
import json

import pytest
import time_machine
from django.db import connection
from rest_framework.test import APIClient

from claims import disputes, jury, services, tasks
from claims.disputes import dispute_raise, jury_vote
from claims.models import ClaimState, JuryDraw, JurySeat
from members.models import DisputeReview
from mutual import jury as rule
from mutual.core.errors import InvariantError
from notifications.models import Notice
from office import attention
from tests.claim_steps import after_window, draw_jury, tasks_in_this_process, to_publicized
from tests.factories import ClaimFactory, MembershipFactory, PlanFactory

pytestmark = pytest.mark.django_db
NOW = datetime.datetime(2018, 12, 7, 10, 0, tzinfo=datetime.UTC)


def _public(path: str):
    answer = APIClient().get(path)
    assert answer.status_code == 200, answer.content
    return answer


def _eligible(draw) -> bytes:
    """The published list: its pages, joined."""
    return b"".join(jury.eligible_page(draw, n) for n in range(jury.eligible_pages(draw)))


def _values(data: bytes) -> list[bytes]:
    return list(rule.split_values([data]))


@pytest.fixture
def close_window(django_capture_on_commit_callbacks):
    """The window closer at `moment`, then what its commit sends (the draw), run here."""

    def close(claim, moment=None):
        with tasks_in_this_process(), django_capture_on_commit_callbacks(execute=True):
            services.claims_close_due_windows(now=moment or after_window(claim))

    return close


def _stored(claim) -> dict:
    """Everything a draw writes, and the seed it must leave as it was."""
    draw = JuryDraw.objects.get(claim=claim)
    return {
        "seed": draw.seed,
        "commitment": draw.commitment,
        "committed_at": draw.committed_at,
        "drawn_at": draw.drawn_at,
        "eligible": bytes(draw.eligible),
        "eligible_count": draw.eligible_count,
        "eligible_sha256": draw.eligible_sha256,
        "size": draw.size,
        "jurors": draw.jurors,
        "seats": sorted(JurySeat.objects.filter(claim=claim).values_list("pk", "member_id")),
        "notices": Notice.objects.filter(kind="jury").count(),
    }


def _staging_tables() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_class WHERE relname LIKE 'jury_draw_%%' "
            "AND relpersistence = 't'"
        )
        return [name for (name,) in cursor.fetchall()]


@pytest.fixture
def disputed(investigator):
    plan = PlanFactory(dispute_review=DisputeReview.JURY, jury_size=3, jury_quorum=3)
    pool = MembershipFactory.create_batch(12, plan=plan)
    claim = to_publicized(ClaimFactory(membership=pool[0]), investigator=investigator, now=NOW)
    dispute_raise(claim_id=claim.pk, member_id=pool[1].member_id, reason="doubt", now=NOW)
    late = MembershipFactory(plan=plan, in_pool_since=NOW + datetime.timedelta(hours=1))
    return claim, pool, late


def test_the_seed_is_committed_when_the_dispute_opens_and_revealed_after_the_vote(
    disputed, close_window, tmp_path
):
    claim, pool, late = disputed
    draw = JuryDraw.objects.get(claim=claim)
    case = _public("/api/public/cases/").json()["results"][0]
    assert case["jury"]["commitment"] == draw.commitment
    assert case["jury"]["seed"] is None and case["jury"]["drawn_at"] is None
    page = _public("/public/cases/").content.decode()
    assert f'class="jury-commitment">{draw.commitment}<' in page and "jury-seed" not in page

    close_window(claim)
    url = f"/api/public/juries/{draw.commitment}/"
    published = _public(url).json()
    assert published["seed"] is None and len(published["jurors"]) == 3  # drawn, still secret
    assert published["eligible_pages"] == 1
    eligible = _public(url + "eligible/0.bin").content
    assert published["eligible_count"] == 10 == len(eligible) // 32  # 12 - claimant - disputer

    jurors = list(claim.jury.values_list("member_id", flat=True))
    for member_id in jurors:
        jury_vote(claim_id=claim.pk, member_id=member_id, vote="approve", now=after_window(claim))
    claim.refresh_from_db()
    assert claim.state == ClaimState.APPROVED
    published = _public(url).json()

    # Recomputed from the revealed seed with hashlib alone: the rule, not the server's code.
    seed = bytes.fromhex(published["seed"])
    assert hashlib.sha256(seed).hexdigest() == published["commitment"] == draw.commitment
    listed = [eligible[i : i + 32] for i in range(0, len(eligible), 32)]
    assert listed == sorted(listed)
    assert hashlib.sha256(b"".join(listed)).hexdigest() == published["eligible_sha256"]
    ranked = sorted(listed, key=lambda p: hashlib.sha256(seed + p).digest())
    assert [p.hex() for p in ranked[:3]] == published["jurors"]
    # ... and the drawn seats are exactly those pseudonyms' members.
    key = jury._key()
    by_pseudonym = {jury.pseudonym(key, claim.pk, m.pk).hex(): m.member_id for m in pool}
    assert [by_pseudonym[p] for p in published["jurors"]] == jurors
    assert jury.pseudonym(key, claim.pk, late.pk) not in listed  # entered after the commitment
    assert jury.pseudonym(key, claim.pk, pool[0].pk) not in listed  # the claimant

    (tmp_path / "jury.json").write_text(json.dumps(published))
    (tmp_path / "eligible.bin").write_bytes(eligible)
    assert rule.main([str(tmp_path / "jury.json"), str(tmp_path / "eligible.bin")]) == 0


def test_a_seed_that_does_not_match_its_commitment_is_refused(
    disputed, close_window, tmp_path, capsys
):
    claim, _pool, _late = disputed
    close_window(claim)
    for member_id in claim.jury.values_list("member_id", flat=True):
        jury_vote(claim_id=claim.pk, member_id=member_id, vote="reject", now=after_window(claim))
    draw = JuryDraw.objects.get(claim=claim)
    published = jury.public_draw(draw)
    eligible = _eligible(draw)

    other = "00" * 32
    with pytest.raises(rule.Invalid, match="does not match its commitment"):
        rule.verify({**published, "seed": other}, _values(eligible))
    (tmp_path / "jury.json").write_text(json.dumps({**published, "seed": other}))
    (tmp_path / "eligible.bin").write_bytes(eligible)
    assert rule.main([str(tmp_path / "jury.json"), str(tmp_path / "eligible.bin")]) == 1
    assert "FAILED: the seed does not match its commitment" in capsys.readouterr().out
    # A juror left out of the list, another jury, a list out of order or cut short, fail too.
    with pytest.raises(rule.Invalid, match="not the one published"):
        rule.verify(published, _values(eligible)[1:])
    with pytest.raises(rule.Invalid, match="not the ones the seed draws"):
        rule.verify({**published, "jurors": published["jurors"][::-1]}, _values(eligible))
    with pytest.raises(rule.Invalid, match="not sorted"):
        rule.verify(published, _values(eligible)[::-1])
    with pytest.raises(rule.Invalid, match="multiple of 32"):
        rule.verify(published, rule.split_values([eligible[:-1]]))

    # The server never publishes a stored seed that does not hash to its commitment.
    JuryDraw.objects.filter(pk=draw.pk).update(seed=other)
    with pytest.raises(InvariantError, match="does not match"):
        jury.revealed_seed(JuryDraw.objects.get(pk=draw.pk))


def test_the_rule_is_pinned():
    seed = bytes(range(32))
    listed = sorted(hashlib.sha256(bytes([i])).digest() for i in range(20))
    expected = sorted(listed, key=lambda p: hashlib.sha256(seed + p).digest())[:5]
    assert rule.draw(seed, listed, 5) == expected
    assert rule.commitment_of(seed) == hashlib.sha256(seed).hexdigest()
    with pytest.raises(rule.Invalid, match="32"):
        rule.check_seed("abcd", rule.commitment_of(bytes.fromhex("abcd")))


def test_the_eligible_list_is_served_in_bounded_cacheable_pages(
    disputed, close_window, client, monkeypatch, django_assert_max_num_queries
):
    """Issue 18, defect 4: eligible.txt streamed Python-made hex from a sync worker for as
    long as the reader took (320 MB at ten million members): five slow readers were cut off
    by the 30 s timeout and /healthz stopped answering. Now the list is in pages of at most
    256 KiB, each read as one slice of the row, cacheable for good, verified page by page."""
    monkeypatch.setattr(rule, "PAGE_SIZE", 3)  # 10 eligible: pages of 3, 3, 3 and 1
    claim, _pool, _late = disputed
    close_window(claim)
    for member_id in claim.jury.values_list("member_id", flat=True):
        jury_vote(claim_id=claim.pk, member_id=member_id, vote="approve", now=after_window(claim))
    draw = JuryDraw.objects.get(claim=claim)
    base = f"/api/public/juries/{draw.commitment}/"
    published = client.get(base).json()
    assert (published["eligible_pages"], published["page_size"]) == (4, 3)
    pages = []
    for n in range(4):
        with django_assert_max_num_queries(2):  # the draw's row, less its list; one slice
            answer = client.get(f"{base}eligible/{n}.bin")
        assert answer.status_code == 200 and answer["Content-Type"] == "application/octet-stream"
        assert "immutable" in answer["Cache-Control"] and answer["ETag"]
        assert (
            client.get(f"{base}eligible/{n}.bin", HTTP_IF_NONE_MATCH=answer["ETag"]).status_code
            == 304
        )
        pages.append(answer.content)
    assert [len(page) for page in pages] == [96, 96, 96, 32]
    assert b"".join(pages) == bytes(draw.eligible)
    assert client.get(f"{base}eligible/4.bin").status_code == 404
    assert client.get(f"{base}eligible.txt").status_code == 404  # the old stream is gone

    def get(url):
        answer = client.get(url)
        assert answer.status_code == 200
        return answer.content

    assert rule.main(["--fetch", f"http://testserver{base}"], get=lambda u: get(u[17:])) == 0


def test_the_page_size_bounds_every_answer_at_ten_million():
    assert rule.PAGE_SIZE * 32 == 256 * 1024


def test_the_window_closes_without_the_draw_and_sends_it_once_that_commits(
    disputed, django_capture_on_commit_callbacks
):
    claim, _pool, _late = disputed
    committed = _stored(claim)
    moment = after_window(claim)
    with tasks_in_this_process(), django_capture_on_commit_callbacks(execute=True) as sent:
        assert services.claims_close_due_windows(now=moment)["disputed"] == 1
        # The transition is done and nothing is drawn: the draw waits for the commit.
        claim.refresh_from_db()
        assert claim.state == ClaimState.DISPUTED
        assert _stored(claim) == committed
        assert JuryDraw.objects.get(claim=claim).enqueued_at == moment
    assert sent  # ... then the commit sent it, and it ran
    drawn = _stored(claim)
    assert len(drawn["seats"]) == 3 == len(drawn["jurors"]) and drawn["drawn_at"] == moment
    assert drawn["eligible_count"] == 10 and drawn["notices"] == 3
    # The seed committed at the first dispute is the one drawn with.
    assert [drawn[k] for k in ("seed", "commitment", "committed_at")] == [
        committed[k] for k in ("seed", "commitment", "committed_at")
    ]


def test_a_draw_delivered_twice_draws_once(disputed, close_window):
    claim, _pool, _late = disputed
    close_window(claim)
    drawn = _stored(claim)
    assert len(drawn["seats"]) == 3
    later = after_window(claim) + datetime.timedelta(minutes=5)
    assert tasks.draw_jury.apply(args=[claim.pk, later.isoformat()]).get() == 0
    assert _stored(claim) == drawn  # same jurors, list, seats, drawn_at, notices


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_a_claim_decided_before_its_draw_runs_gets_no_jury(
    disputed, reviewer, decision, django_capture_on_commit_callbacks
):
    claim, _pool, _late = disputed
    moment = after_window(claim)
    with django_capture_on_commit_callbacks() as sent:  # sent, not yet run
        services.claims_close_due_windows(now=moment)
    if decision == "approve":
        services.claim_approve(
            claim_id=claim.pk, by=reviewer, now=moment, reason="the hospital confirmed it"
        )
    else:
        services.claim_reject(
            claim_id=claim.pk, by=reviewer, now=moment, code="misstatement", reason="forged"
        )
    committed = _stored(claim)
    with tasks_in_this_process():
        for callback in sent:
            callback()
    assert _stored(claim) == committed and committed["drawn_at"] is None
    assert not committed["seats"] and not committed["eligible"]
    assert jury.public_draw(JuryDraw.objects.get(claim=claim))["seed"] is None  # never drawn


def test_a_claim_decided_while_its_draw_runs_gets_no_jury(disputed, reviewer, monkeypatch):
    """The draw reads the members with no lock held: it re-locks the claim and checks it
    again before writing anything."""
    claim, _pool, _late = disputed
    moment = after_window(claim)
    services.claims_close_due_windows(now=moment)
    committed = _stored(claim)
    real_pick = disputes.jury_pick

    def decided_meanwhile(**kwargs):
        services.claim_reject(
            claim_id=claim.pk, by=reviewer, now=moment, code="misstatement", reason="fraud"
        )
        return real_pick(**kwargs)

    monkeypatch.setattr(disputes, "jury_pick", decided_meanwhile)
    assert draw_jury(claim, now=moment) == 0
    assert _stored(claim) == committed and _staging_tables() == []


def test_a_draw_cut_short_writes_nothing_and_the_next_one_draws_by_the_same_seed(
    disputed, monkeypatch
):
    """Pages of 4 members: the draw stops in the third page of ten. A killed worker's
    temporary tables go with its session; an error's are dropped at once."""
    claim, pool, _late = disputed
    moment = after_window(claim)
    services.claims_close_due_windows(now=moment)
    committed = _stored(claim)
    monkeypatch.setattr(jury, "PAGE_SIZE", 4)
    named = []
    real_of = jury._Pseudonyms.of

    def dies_at_the_ninth(self, membership_id):
        if len(named) == 8:
            raise MemoryError("worker killed")
        named.append(membership_id)
        return real_of(self, membership_id)

    monkeypatch.setattr(jury._Pseudonyms, "of", dies_at_the_ninth)
    with pytest.raises(MemoryError):
        draw_jury(claim, now=moment)
    assert _stored(claim) == committed and _staging_tables() == []

    monkeypatch.setattr(jury._Pseudonyms, "of", real_of)
    assert draw_jury(claim, now=moment) == 3
    draw = JuryDraw.objects.get(claim=claim)
    # Paged, the list is every eligible pseudonym, sorted, and the jury the rule's.
    key = jury._key()
    eligible = sorted(jury.pseudonym(key, claim.pk, m.pk) for m in pool[2:])
    assert bytes(draw.eligible) == b"".join(eligible) and draw.eligible_count == 10
    assert draw.eligible_sha256 == hashlib.sha256(b"".join(eligible)).hexdigest()
    assert rule.verify({**jury.public_draw(draw), "seed": draw.seed}, eligible) == draw.jurors
    assert draw.seed == committed["seed"] and draw.commitment == committed["commitment"]


def test_a_pool_with_no_one_eligible_is_drawn_once_with_an_empty_list(investigator):
    plan = PlanFactory(dispute_review=DisputeReview.JURY, jury_size=3, jury_quorum=3)
    claimant, objector = MembershipFactory.create_batch(2, plan=plan)
    claim = to_publicized(ClaimFactory(membership=claimant), investigator=investigator, now=NOW)
    dispute_raise(claim_id=claim.pk, member_id=objector.member_id, reason="doubt", now=NOW)
    services.claims_close_due_windows(now=after_window(claim))
    assert draw_jury(claim, now=after_window(claim)) == 0
    draw = JuryDraw.objects.get(claim=claim)
    assert draw.drawn_at == after_window(claim) and draw.jurors == [] and draw.eligible_count == 0
    assert draw.eligible_sha256 == hashlib.sha256(b"").hexdigest() and bytes(draw.eligible) == b""
    assert disputes.jury_draws_resend(now=after_window(claim) + datetime.timedelta(hours=1)) == []


def test_beat_sends_a_lost_draw_again_after_15_minutes(
    disputed, django_capture_on_commit_callbacks
):
    claim, _pool, _late = disputed
    moment = after_window(claim)

    def beat(at, *, run_what_it_sends=True):
        with (
            time_machine.travel(at, tick=False),
            tasks_in_this_process(),
            django_capture_on_commit_callbacks(execute=run_what_it_sends) as sent,
        ):
            tasks.close_publicity_windows.apply().get()  # as beat sends it: no `now`
        return sent

    assert beat(moment, run_what_it_sends=False)  # the draw is lost with its worker
    assert beat(moment + datetime.timedelta(minutes=14)) == []  # it may still be coming
    assert _stored(claim)["drawn_at"] is None
    resent_at = moment + datetime.timedelta(minutes=16)
    assert len(beat(resent_at, run_what_it_sends=False)) == 1  # sent again, and lost again
    assert JuryDraw.objects.get(claim=claim).enqueued_at == resent_at
    assert beat(resent_at + datetime.timedelta(minutes=14)) == []  # once per 15 minutes
    drawn_at = resent_at + datetime.timedelta(minutes=16)
    assert beat(drawn_at)  # sent again, and run: the draw, then the jurors' notices
    drawn = _stored(claim)
    assert drawn["drawn_at"] == drawn_at and len(drawn["seats"]) == 3
    assert beat(drawn_at + datetime.timedelta(hours=1)) == []  # drawn: never sent again


def test_a_reviewer_plan_has_no_draw_to_send(investigator, django_capture_on_commit_callbacks):
    plan = PlanFactory(dispute_review=DisputeReview.REVIEWER)
    pool = MembershipFactory.create_batch(3, plan=plan)
    claim = to_publicized(ClaimFactory(membership=pool[0]), investigator=investigator, now=NOW)
    dispute_raise(claim_id=claim.pk, member_id=pool[1].member_id, reason="doubt", now=NOW)
    with django_capture_on_commit_callbacks() as sent:
        services.claims_close_due_windows(now=after_window(claim))
        disputes.jury_draws_resend(now=after_window(claim) + datetime.timedelta(hours=1))
    assert not JuryDraw.objects.filter(claim=claim).exists()
    assert len(sent) == 1  # the claimant's notice of the dispute, and no draw


def test_a_jury_not_drawn_after_15_minutes_needs_a_person(disputed, close_window, client, reviewer):
    claim, _pool, _late = disputed
    moment = after_window(claim)
    services.claims_close_due_windows(now=moment)  # its draw never runs
    late = moment + datetime.timedelta(minutes=16)
    assert attention.juries_not_drawn(now=moment + datetime.timedelta(minutes=14)) == []
    assert [c["claim"] for c in attention.juries_not_drawn(now=late)] == [f"#{claim.pk}"]
    assert attention.attention_for(reviewer, now=late)["juries"]
    client.force_login(reviewer)
    page = client.get(f"/admin/claims/claim/{claim.pk}/change/").content.decode()
    assert 'id="jury-state"' in page and "not drawn yet" in page
    page = client.get(
        f"/admin/claims/claim/{claim.pk}/change/", HTTP_ACCEPT_LANGUAGE="zh-hans"
    ).content.decode()
    assert "尚未抽取" in page  # "not drawn yet"

    draw_jury(claim, now=late)
    assert attention.juries_not_drawn(now=late) == []
    page = client.get(f"/admin/claims/claim/{claim.pk}/change/").content.decode()
    assert "not drawn yet" not in page and "3 of 10 eligible members" in page


@pytest.mark.worker
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_real_worker_draws_once_though_the_draw_is_delivered_three_times(
    celery_worker, investigator
):
    """The closer's commit sends the draw; two more deliveries race it on a worker of two
    processes. Whichever writes first, one jury is drawn, and the others write nothing."""
    plan = PlanFactory(dispute_review=DisputeReview.JURY, jury_size=3, jury_quorum=3)
    pool = MembershipFactory.create_batch(12, plan=plan)
    claim = to_publicized(ClaimFactory(membership=pool[0]), investigator=investigator, now=NOW)
    dispute_raise(claim_id=claim.pk, member_id=pool[1].member_id, reason="doubt", now=NOW)
    moment = after_window(claim).isoformat()
    assert tasks.close_publicity_windows.delay(moment).get(timeout=60)["disputed"] == 1
    again = [tasks.draw_jury.delay(claim.pk, moment) for _ in range(2)]
    assert sum(result.get(timeout=60) for result in again) in (0, 3)
    draw = JuryDraw.objects.get(claim=claim)
    assert JurySeat.objects.filter(claim=claim).count() == 3 and draw.eligible_count == 10
    eligible = _values(_eligible(draw))
    assert rule.verify({**jury.public_draw(draw), "seed": draw.seed}, eligible) == draw.jurors
