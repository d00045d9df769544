"""The members app's models, one module per kind: plans and their rules (plans.py), people and
their households (people.py), memberships (memberships.py), the access log (access.py),
consents (consents.py)."""

from members.models.access import AccessKind, AccessLog
from members.models.consents import Consent, ConsentPurpose
from members.models.memberships import EndReason, Membership, MembershipStatus
from members.models.people import Member, Relationship, mask_national_id
from members.models.plans import (
    CoverBand,
    DisputeReview,
    Plan,
    RulesInForceFrom,
    default_cutoff_days,
    years_before,
)

__all__ = [
    "AccessKind",
    "AccessLog",
    "Consent",
    "ConsentPurpose",
    "CoverBand",
    "DisputeReview",
    "EndReason",
    "Member",
    "Membership",
    "MembershipStatus",
    "Plan",
    "Relationship",
    "RulesInForceFrom",
    "default_cutoff_days",
    "mask_national_id",
    "years_before",
]
