"""The claims app's models, one module per kind: the illness lists (conditions.py), claims
(claims.py), their evidence chain (evidence.py), disputes and juries (disputes.py)."""

from claims.models.claims import Claim, ClaimState, IncidentKind
from claims.models.conditions import Condition, ConditionCategory
from claims.models.disputes import Dispute, JuryDraw, JurySeat, Vote
from claims.models.evidence import (
    GENESIS_LINK,
    EvidenceDocument,
    EvidenceKind,
    evidence_upload_to,
)

__all__ = [
    "GENESIS_LINK",
    "Claim",
    "ClaimState",
    "Condition",
    "ConditionCategory",
    "Dispute",
    "EvidenceDocument",
    "EvidenceKind",
    "IncidentKind",
    "JuryDraw",
    "JurySeat",
    "Vote",
    "evidence_upload_to",
]
