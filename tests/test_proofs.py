"""A posted period's bills in a signed RFC 9162 tree: every bill's proof verifies with the
standalone verifier, and a changed amount, a changed path or a wrong key is refused by name."""

import datetime
import json
import subprocess
import sys
from datetime import UTC
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from billing import apportion, merkle, steps, tree
from billing.models import ApportionmentPeriod, Bill, Posting
from billing.proofs import PeriodTree
from mutual import verify
from tests.billing_data import active, bulk_approved_claims, bulk_memberships
from tests.factories import PlanFactory

pytestmark = pytest.mark.django_db
CUTOFF = datetime.datetime(2019, 3, 16, tzinfo=UTC)
ROOT = Path(__file__).resolve().parent.parent


def _posted_period(plan, members: int, *, cutoff=CUTOFF, people=None):
    if people is None:
        early = [active(cutoff - datetime.timedelta(days=100))] * (members * 3 // 4)
        late = [active(cutoff - datetime.timedelta(days=4, hours=12))] * (members - len(early))
        people = bulk_memberships(plan, early + late)
    day = datetime.timedelta(days=1)
    bulk_approved_claims(
        plan,
        people[0],
        [(cutoff - 5 * day, 1_234_567), (cutoff - 4 * day, 9)],
        decided_at=cutoff - datetime.timedelta(days=1),
    )  # fmt: skip
    period = ApportionmentPeriod.objects.create(
        plan=plan, starts_at=cutoff - datetime.timedelta(days=15), cutoff_at=cutoff
    )
    return steps.period_run_inline(period_id=period.pk, now=cutoff), people


def _posted_unsealed(plan, claimant, amount_fen: int, *, cutoff):
    """One case, billed chunk by chunk and posted, its tree not yet built (as a worker leaves
    it between the posting and the seal)."""

    day = datetime.timedelta(days=1)
    bulk_approved_claims(plan, claimant, [(cutoff - 5 * day, amount_fen)], decided_at=cutoff - day)
    period = ApportionmentPeriod.objects.create(
        plan=plan, starts_at=cutoff - 15 * day, cutoff_at=cutoff
    )
    for chunk_id in apportion.period_pending_chunks(period_id=period.pk):
        apportion.chunk_apportion(chunk_id=chunk_id, now=cutoff)
    return steps.period_post(period_id=period.pk, now=cutoff)


def _public_key():
    return verify.load_public_key(tree.public_key_hex())


def test_every_bill_of_a_10000_member_period_verifies(settings):
    settings.APPORTION_CHUNK_IDS = 3_000  # four chunks, none a power of two: joined ranges
    plan = PlanFactory(management_fee_bp=800)
    period, _people = _posted_period(plan, 10_000)
    bills = list(Bill.objects.filter(period=period).order_by("membership_id"))
    assert len(bills) == period.merkle_size == period.members_count == 10_000
    assert len({b.charged_fen for b in bills}) > 1  # late joiners share one case, not two
    # The root, recomputed from scratch from the bills, is the signed one; the period's money
    # was posted before it (the tree does not hold the posting up).
    names = tree.Pseudonyms(period.pk)
    leaves = [
        merkle.leaf_hash(tree.leaf_bytes(
            period.pk, names.of(b.membership_id), b.gross_fen, b.waived_fen, b.capped_fen,
            b.charged_fen,
        ))
        for b in bills
    ]  # fmt: skip
    assert merkle.root_of(leaves).hex() == period.merkle_root == period.merkle_head["head"]["root"]
    assert Posting.objects.filter(idempotency_key=f"period:{period.pk}:cases").exists()
    key, proofs = _public_key(), PeriodTree(period)
    for position, bill in enumerate(bills):
        proof = json.loads(json.dumps(proofs.proof(bill)))  # as the API sends it
        assert proof["leaf_index"] == position
        assert verify.verify(proof, key).startswith("OK: ")


def _one_proof(settings):
    settings.APPORTION_CHUNK_IDS = 40
    period, people = _posted_period(PlanFactory(), 300)
    bill = Bill.objects.get(period=period, membership=people[217])
    return PeriodTree(period).proof(bill)


def _refused(proof, key=None) -> str:
    with pytest.raises(verify.Invalid) as refusal:
        verify.verify(proof, key or _public_key())
    return str(refusal.value)


def test_a_changed_amount_a_changed_path_or_a_wrong_key_fails_with_its_reason(settings):
    proof = _one_proof(settings)
    assert verify.verify(proof, _public_key()).startswith("OK: ")

    # The amount changed in the bill shown only: the leaf says otherwise.
    shown = {**proof, "bill": {**proof["bill"], "charged_fen": proof["bill"]["charged_fen"] - 1}}
    assert "the bill says charged_fen" in _refused(shown)
    # The amount changed in the leaf too (moved from charged to waived, still adding up).
    leaf = bytearray.fromhex(proof["leaf"])
    version, period, pseudonym, gross, waived, capped, charged = tree.LEAF.unpack(leaf)
    forged = tree.LEAF.pack(version, period, pseudonym, gross, waived + 1, capped, charged - 1)
    bill = {**proof["bill"], "waived_fen": waived + 1, "charged_fen": charged - 1}
    reason = _refused({**proof, "leaf": forged.hex(), "bill": bill})
    assert "does not lead to the signed root" in reason
    # A hash of the path changed, or one dropped.
    path = list(proof["audit_path"])
    path[1] = ("0" if path[1][0] != "0" else "1") + path[1][1:]
    assert "does not lead to the signed root" in _refused({**proof, "audit_path": path})
    reason = _refused({**proof, "audit_path": proof["audit_path"][:-1]})
    assert "cannot belong to leaf" in reason
    # Another leaf index with the same path.
    reason = _refused({**proof, "leaf_index": proof["leaf_index"] + 1})
    assert "signed root" in reason or "cannot belong" in reason
    # A wrong key; a head changed after signing (a larger tree claimed).
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    stranger = Ed25519PrivateKey.generate().public_key()
    assert "signature does not verify" in _refused(proof, stranger)
    head = {**proof["signed_head"]["head"], "timestamp": "2030-01-01T00:00:00+00:00"}
    assert "signature does not verify" in _refused(
        {**proof, "signed_head": {**proof["signed_head"], "head": head}}
    )


def _run_verifier(args, *, stdin=None):
    # Django and Celery cannot be imported: the verifier must not need them.
    blocker = (
        "import sys, importlib.abc\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        if name.split('.')[0] in ('django', 'celery', 'billing', 'members', 'claims'):\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import runpy; sys.argv = ['verify', *sys.argv[1:]]\n"
        "runpy.run_module('mutual.verify', run_name='__main__')\n"
    )
    return subprocess.run(
        [sys.executable, "-c", blocker, *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_command_line_verifier_needs_only_the_standard_library_and_cryptography(
    settings, tmp_path
):
    proof = _one_proof(settings)
    good = tmp_path / "proof.json"
    good.write_text(json.dumps(proof))
    key = tree.public_key_hex()
    done = _run_verifier([str(good), "--public-key", key])
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("OK: ") and proof["signed_head"]["head"]["root"] in done.stdout
    (tmp_path / "key.txt").write_text(key + "\n")
    assert _run_verifier([str(good), "--public-key", str(tmp_path / "key.txt")]).returncode == 0

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**proof, "audit_path": list(reversed(proof["audit_path"]))}))
    done = _run_verifier([str(bad), "--public-key", key])
    assert done.returncode == 1 and "FAILED: the audit path does not lead" in done.stderr
    done = _run_verifier([str(good), "--public-key", "00" * 32])
    assert done.returncode == 1 and "FAILED: " in done.stderr
    done = _run_verifier(["-", "--public-key", key], stdin="not json")
    assert done.returncode == 1 and "not JSON" in done.stderr


def test_each_head_chains_to_the_previous_period_and_the_api_serves_my_proof(settings):
    settings.APPORTION_CHUNK_IDS = 40
    plan = PlanFactory()
    first, people = _posted_period(plan, 100)
    second, _ = _posted_period(plan, 0, cutoff=CUTOFF + datetime.timedelta(days=15), people=people)
    head = second.merkle_head["head"]
    assert head["previous_period"] == first.pk
    assert head["previous_root"] == first.merkle_root != second.merkle_root
    assert first.merkle_head["head"]["previous_root"] is None

    client = APIClient()
    member = people[42].member
    client.force_authenticate(member.user)
    answer = client.get(f"/api/me/bills/{second.pk}/proof/")
    assert answer.status_code == 200, answer.content
    assert verify.verify(answer.json(), _public_key()).startswith("OK: ")
    assert (
        answer.json()["bill"]["charged_fen"]
        == Bill.objects.get(period=second, membership=people[42]).charged_fen
    )
    # Another member's bill is not mine; no login, no proof.
    assert client.get("/api/me/bills/999999/proof/").status_code == 404
    assert APIClient().get(f"/api/me/bills/{second.pk}/proof/").status_code == 401


def test_a_period_posts_before_its_tree_and_beat_resends_a_lost_seal():
    """The tree is built after the posting (the money does not wait for it); a seal lost with
    its worker is found by beat 15 minutes after the posting, and sealing is idempotent."""
    from billing import selectors

    plan = PlanFactory(management_fee_bp=800)
    people = bulk_memberships(plan, [active(CUTOFF - datetime.timedelta(days=100))] * 40)
    posted = _posted_unsealed(plan, people[0], 50_000, cutoff=CUTOFF)
    period = posted
    assert posted.status == "posted" and posted.merkle_root == ""  # posted, not yet sealed
    later = CUTOFF + datetime.timedelta(minutes=16)
    assert list(selectors.periods_unsealed(now=CUTOFF)) == []  # the seal is still on its way
    assert [p.pk for p in selectors.periods_unsealed(now=later)] == [period.pk]
    assert steps.period_trees_to_build(period_id=period.pk, now=later)
    sealed = steps.period_seal(period_id=period.pk, now=later)
    assert len(sealed.merkle_root) == 64
    assert steps.period_seal(period_id=period.pk, now=later).merkle_root == sealed.merkle_root
    assert list(selectors.periods_unsealed(now=later)) == []


def test_a_period_sealed_before_the_one_before_it_waits_so_the_chain_holds():
    """Found in review: with beat catching up, period 2 could seal while period 1's seal was
    still running, and sign `previous_root: null` for good."""

    plan = PlanFactory(management_fee_bp=800)
    people = bulk_memberships(plan, [active(CUTOFF - datetime.timedelta(days=100))] * 30)
    periods = []
    for number, cutoff in enumerate([CUTOFF, CUTOFF + datetime.timedelta(days=15)]):
        periods.append(_posted_unsealed(plan, people[number], 40_000, cutoff=cutoff))
    first, second = periods
    later = second.cutoff_at + datetime.timedelta(hours=1)
    assert steps.period_seal(period_id=second.pk, now=later).merkle_root == ""  # waits
    first = steps.period_seal(period_id=first.pk, now=later)
    second = steps.period_seal(period_id=second.pk, now=later)
    assert second.merkle_head["head"]["previous_root"] == first.merkle_root != ""


def test_the_signed_root_is_recorded_in_the_append_only_ledger(settings):
    """A memo posting (no money lines) holds the root beside the period's money; the ledger
    still verifies, and sealing again records nothing new."""
    from billing.ledger import ledger_record, ledger_verify
    from mutual.core.errors import InvariantError

    settings.APPORTION_CHUNK_IDS = 40
    period, _ = _posted_period(PlanFactory(), 100)
    memo = Posting.objects.get(idempotency_key=f"period:{period.pk}:merkle-root")
    assert memo.memo and not memo.lines.exists()
    assert memo.description.endswith(f"100 bills: {period.merkle_root}")
    assert ledger_verify() == []
    # Recorded again (a redelivered seal): the same record; something else under its key: no.
    again = ledger_record(key=memo.idempotency_key, description=memo.description, now=CUTOFF)
    assert again.pk == memo.pk
    assert Posting.objects.filter(idempotency_key__endswith=":merkle-root").count() == 1
    with pytest.raises(InvariantError, match="records something else"):
        ledger_record(key=memo.idempotency_key, description="another root", now=CUTOFF)
