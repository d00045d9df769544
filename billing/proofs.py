"""A member's proof that their bill is a leaf of the period's signed Merkle tree.

The audit path is RFC 9162's: the hashes of the subtrees beside the leaf's path to the root.
Subtrees of 256 leaves and more are stored (billing/tree.py); smaller ones are rehashed from
at most two blocks of 256 bills, read through the bills' unique index, so a proof costs a few
milliseconds whatever the period's size. `python -m mutual.verify` checks one."""

from __future__ import annotations

from billing import merkle, tree
from billing.errors import ErrorCode
from billing.models import ApportionmentPeriod, Bill, TreeBlock, TreeNode
from mutual.core.errors import ServiceError

_LAST_ID = 2**63 - 1
_AMOUNTS = ("gross_fen", "waived_fen", "capped_fen", "charged_fen")


class PeriodTree:
    """A posted period's tree as `inclusion_path` reads it: stored levels, rehashed blocks
    (kept once read, so that one instance proves many bills cheaply)."""

    def __init__(self, period: ApportionmentPeriod):
        if not period.merkle_head:
            raise ServiceError(
                "this period was posted before bills were hashed into a tree",
                code=ErrorCode.NO_TREE,
            )
        self.period, self.size = period, period.merkle_size
        self.blocks: dict[int, list[tuple[int, bytes]]] = {}
        self.nodes: dict[tuple[int, int], bytes] = {}

    def block(self, index: int) -> list[tuple[int, bytes]]:
        """(membership id, leaf hash) of the block's bills, in leaf order."""
        if index not in self.blocks:
            first = TreeBlock.objects.get(period=self.period, index=index).first_membership_id
            count = min(tree.BLOCK, self.size - index * tree.BLOCK)
            rows = tree.bills_in_order(self.period.pk, first, _LAST_ID, limit=count)
            self.blocks[index] = tree.leaf_hashes(self.period.pk, rows)
        return self.blocks[index]

    def range_hash(self, start: int, end: int) -> bytes:
        size = end - start
        if size >= tree.BLOCK and size & (size - 1) == 0:
            key = (size.bit_length() - 1, start >> (size.bit_length() - 1))
            if key not in self.nodes:
                node = TreeNode.objects.get(period=self.period, level=key[0], index=key[1])
                self.nodes[key] = bytes(node.digest)
            return self.nodes[key]
        if size <= tree.BLOCK:  # always inside one block: subtrees start at their size's multiple
            index = start // tree.BLOCK
            hashes = [h for _, h in self.block(index)]
            offset = index * tree.BLOCK
            return merkle.root_of(hashes[start - offset : end - offset])
        k = merkle.split_point(size)
        return merkle.node_hash(self.range_hash(start, start + k), self.range_hash(start + k, end))

    def proof(self, bill: Bill) -> dict:
        """The bill's leaf, pseudonym, index, audit path and the period's signed head."""
        period = self.period
        block = (
            TreeBlock.objects.filter(period=period, first_membership_id__lte=bill.membership_id)
            .order_by("-first_membership_id")
            .first()
        )
        members = [membership_id for membership_id, _ in self.block(block.index)]
        index = block.index * tree.BLOCK + members.index(bill.membership_id)
        pseudonym = tree.Pseudonyms(period.pk).of(bill.membership_id)
        amounts = (bill.gross_fen, bill.waived_fen, bill.capped_fen, bill.charged_fen)
        leaf = tree.leaf_bytes(period.pk, pseudonym, *amounts)
        path = merkle.inclusion_path(index, self.size, self.range_hash)
        return {
            "period": period.pk,
            "pseudonym": pseudonym.hex(),
            "bill": dict(zip(_AMOUNTS, amounts, strict=True)),
            "leaf": leaf.hex(),
            "leaf_index": index,
            "tree_size": self.size,
            "audit_path": [digest.hex() for digest in path],
            "signed_head": period.merkle_head,
        }


def bill_proof(*, bill: Bill) -> dict:
    """The bill's inclusion proof in its period's signed Merkle tree."""
    return PeriodTree(bill.period).proof(bill)
