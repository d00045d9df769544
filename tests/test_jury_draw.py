"""A verifiable jury draw (issue 12, item 4): the seed's SHA-256 is public from the first
dispute, the jury is drawn by mutual/jury.py's rule, and once the claim is decided the seed
is revealed and anyone recomputes the jury from it and the published eligible list."""

import datetime
import hashlib
import json

import pytest
from rest_framework.test import APIClient

from claims import jury, services
from claims.disputes import dispute_raise, jury_vote
from claims.models import ClaimState, JuryDraw
from members.models import DisputeReview
from mutual import jury as rule
from mutual.core.errors import InvariantError
from tests.claim_steps import after_window, to_publicized
from tests.factories import ClaimFactory, MembershipFactory, PlanFactory

pytestmark = pytest.mark.django_db
NOW = datetime.datetime(2018, 12, 7, 10, 0, tzinfo=datetime.UTC)


def _public(path: str):
    answer = APIClient().get(path)
    assert answer.status_code == 200, answer.content
    return answer


@pytest.fixture
def disputed(investigator):
    plan = PlanFactory(dispute_review=DisputeReview.JURY, jury_size=3, jury_quorum=3)
    pool = MembershipFactory.create_batch(12, plan=plan)
    claim = to_publicized(ClaimFactory(membership=pool[0]), investigator=investigator, now=NOW)
    dispute_raise(claim_id=claim.pk, member_id=pool[1].member_id, reason="doubt", now=NOW)
    late = MembershipFactory(plan=plan, in_pool_since=NOW + datetime.timedelta(hours=1))
    return claim, pool, late


def test_the_seed_is_committed_when_the_dispute_opens_and_revealed_after_the_vote(
    disputed, tmp_path
):
    claim, pool, late = disputed
    draw = JuryDraw.objects.get(claim=claim)
    case = _public("/api/public/cases/").json()["results"][0]
    assert case["jury"]["commitment"] == draw.commitment
    assert case["jury"]["seed"] is None and case["jury"]["drawn_at"] is None
    page = _public("/public/cases/").content.decode()
    assert f'class="jury-commitment">{draw.commitment}<' in page and "jury-seed" not in page

    services.claims_close_due_windows(now=after_window(claim))
    url = f"/api/public/juries/{draw.commitment}/"
    published = _public(url).json()
    assert published["seed"] is None and len(published["jurors"]) == 3  # drawn, still secret
    eligible = _public(url + "eligible.txt").getvalue().decode()
    assert published["eligible_count"] == 10 == len(eligible.split())  # 12 - claimant - disputer

    jurors = list(claim.jury.values_list("member_id", flat=True))
    for member_id in jurors:
        jury_vote(claim_id=claim.pk, member_id=member_id, vote="approve", now=after_window(claim))
    claim.refresh_from_db()
    assert claim.state == ClaimState.APPROVED
    published = _public(url).json()

    # Recomputed from the revealed seed with hashlib alone: the rule, not the server's code.
    seed = bytes.fromhex(published["seed"])
    assert hashlib.sha256(seed).hexdigest() == published["commitment"] == draw.commitment
    listed = [bytes.fromhex(line) for line in eligible.split()]
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
    (tmp_path / "eligible.txt").write_text(eligible)
    assert rule.main([str(tmp_path / "jury.json"), str(tmp_path / "eligible.txt")]) == 0


def test_a_seed_that_does_not_match_its_commitment_is_refused(disputed, tmp_path, capsys):
    claim, _pool, _late = disputed
    services.claims_close_due_windows(now=after_window(claim))
    for member_id in claim.jury.values_list("member_id", flat=True):
        jury_vote(claim_id=claim.pk, member_id=member_id, vote="reject", now=after_window(claim))
    draw = JuryDraw.objects.get(claim=claim)
    published = jury.public_draw(draw)
    eligible = "".join(jury.eligible_lines(draw))

    other = "00" * 32
    with pytest.raises(rule.Invalid, match="does not match its commitment"):
        rule.verify({**published, "seed": other}, rule.read_eligible(eligible))
    (tmp_path / "jury.json").write_text(json.dumps({**published, "seed": other}))
    (tmp_path / "eligible.txt").write_text(eligible)
    assert rule.main([str(tmp_path / "jury.json"), str(tmp_path / "eligible.txt")]) == 1
    assert "FAILED: the seed does not match its commitment" in capsys.readouterr().out
    # A juror left out of the list, or another jury, fails too.
    with pytest.raises(rule.Invalid, match="not the one published"):
        rule.verify(published, rule.read_eligible(eligible)[1:])
    with pytest.raises(rule.Invalid, match="not the ones the seed draws"):
        rule.verify(
            {**published, "jurors": published["jurors"][::-1]}, rule.read_eligible(eligible)
        )

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


def test_the_eligible_list_is_read_in_slices_and_reads_the_same_as_whole(disputed, client):
    """Found in review: the public eligible.txt loaded the whole list (320 MB at ten million
    members) on every anonymous request."""
    claim, _pool, _late = disputed
    services.claims_close_due_windows(now=after_window(claim))
    draw = JuryDraw.objects.get(claim=claim)
    whole = bytes(draw.eligible)
    assert draw.eligible_count > 3
    expected = "".join(whole[i : i + 32].hex() + "\n" for i in range(0, len(whole), 32))
    assert "".join(jury.eligible_lines(draw, per_read=3)) == expected
    page = client.get(f"/api/public/juries/{draw.commitment}/eligible.txt")
    assert page.status_code == 200 and b"".join(page.streaming_content).decode() == expected
