"""Billing's models, one module per kind: the double-entry ledger (ledger.py), periods and what
they share (periods.py), members' bills and the tree over them (bills.py), payouts recovered
(recoveries.py)."""

from billing.models.bills import Bill, TreeBlock, TreeNode
from billing.models.exports import DataExport, ExportStatus
from billing.models.ledger import (
    ROLE_KINDS,
    Account,
    AccountKind,
    AccountRole,
    Posting,
    PostingLine,
)
from billing.models.periods import (
    FINISHED,
    ApportionmentPeriod,
    PeriodCase,
    PeriodChunk,
    PeriodCohort,
    PeriodStatus,
    Promotion,
)
from billing.models.recoveries import Recovery

__all__ = [
    "FINISHED",
    "ROLE_KINDS",
    "Account",
    "AccountKind",
    "AccountRole",
    "ApportionmentPeriod",
    "Bill",
    "DataExport",
    "ExportStatus",
    "PeriodCase",
    "PeriodChunk",
    "PeriodCohort",
    "PeriodStatus",
    "Posting",
    "PostingLine",
    "Promotion",
    "Recovery",
    "TreeBlock",
    "TreeNode",
]
