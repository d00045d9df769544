"""The random audit sample: of the claims whose publicity window closes without dispute, a set
share (the plan's DeskPolicy: none without one, 50 per thousand once made) is held for a second
review before it is approved. The pick is a hash of the plan's recorded seed and the claim's id,
so anyone with the seed can recompute which claims were picked, and no one can choose them."""

from __future__ import annotations

import datetime
import hashlib

from claims.models import Claim, ClaimAudit, DeskPolicy


def audit_picked(*, seed: str, claim_id: int, permille: int) -> bool:
    """The rule, stated once: the first 8 hex digits of SHA-256("seed:claim id"), mod 1000,
    below the share."""
    digest = hashlib.sha256(f"{seed}:{claim_id}".encode()).hexdigest()
    return int(digest[:8], 16) % 1000 < permille


def audit_hold_if_picked(*, claim: Claim, now: datetime.datetime) -> bool:
    """In the window closer's transaction (the claim locked): hold the claim for its audit if
    the sample picks it. Returns whether it was held."""
    policy = DeskPolicy.objects.filter(plan_id=claim.plan_id).first()
    if policy is None or not audit_picked(
        seed=policy.audit_seed, claim_id=claim.pk, permille=policy.audit_permille
    ):
        return False
    ClaimAudit.objects.create(
        claim=claim, seed=policy.audit_seed, permille=policy.audit_permille, picked_at=now
    )
    claim.audit_held = True
    claim.save(update_fields=["audit_held"])
    return True
