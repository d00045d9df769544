"""The claims app's models, one module per kind: the illness lists (conditions.py), claims
(claims.py), their evidence chain (evidence.py), disputes and juries (disputes.py), and the
desk (desk.py): reasons, firms, clock targets, assignments and requests for information, and
second looks (review.py): appeals, fraud signals and the audit sample."""

from claims.models.claims import Claim, ClaimState, IncidentKind
from claims.models.conditions import Condition, ConditionCategory
from claims.models.desk import (
    ClaimAssignment,
    ClockTarget,
    InfoRequest,
    InvestigationFirm,
    Investigator,
    Reason,
    ReasonKind,
    RequestStatus,
    StateSpan,
)
from claims.models.disputes import Dispute, JuryDraw, JurySeat, Vote
from claims.models.evidence import (
    GENESIS_LINK,
    EvidenceDocument,
    EvidenceKind,
    evidence_upload_to,
)
from claims.models.review import (
    Appeal,
    AppealStatus,
    AuditOutcome,
    ClaimAudit,
    ClaimSignal,
    DeskPolicy,
    SignalCode,
)
from claims.models.stored_files import EvidenceErasure, StoredChunk, StoredFile

__all__ = [
    "GENESIS_LINK",
    "Appeal",
    "AppealStatus",
    "AuditOutcome",
    "Claim",
    "ClaimAssignment",
    "ClaimAudit",
    "ClaimSignal",
    "ClaimState",
    "ClockTarget",
    "Condition",
    "ConditionCategory",
    "DeskPolicy",
    "Dispute",
    "EvidenceDocument",
    "EvidenceErasure",
    "EvidenceKind",
    "IncidentKind",
    "InfoRequest",
    "InvestigationFirm",
    "Investigator",
    "JuryDraw",
    "JurySeat",
    "Reason",
    "ReasonKind",
    "RequestStatus",
    "SignalCode",
    "StateSpan",
    "StoredChunk",
    "StoredFile",
    "Vote",
    "evidence_upload_to",
]
