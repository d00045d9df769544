"""Build a posted period's Merkle tree again and serve proofs from it; print one JSON line.

Everything runs in one transaction that is rolled back: the period is left as it was. The
chunks' subtrees are built one after another in this process (`chunks_seconds`; a run spreads
them over the workers), then joined and signed (`seal_seconds`); then `--proofs` random bills
are proved and verified (`proof_ms` median and max). Peak RSS is this process's, in MB.
Run it on a bench plan's period (`bench_apportion` builds them), never while tests run."""

import json
import random
import resource
import statistics
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from billing import tree
from billing.models import FINISHED, ApportionmentPeriod, Bill, PeriodChunk, TreeBlock, TreeNode
from billing.proofs import PeriodTree
from mutual import verify


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("--period", type=int, help="default: the posted period with most bills")
        parser.add_argument("--proofs", type=int, default=200)

    def handle(self, *args, period=None, proofs=200, **options):
        # Billed here, in chunks: bench_apportion's earlier period is history written directly.
        periods = ApportionmentPeriod.objects.filter(status__in=FINISHED, chunks_total__gt=0)
        period = (
            periods.filter(pk=period).first()
            if period
            else periods.order_by("-members_count", "-pk").first()
        )
        if period is None:
            raise CommandError("no posted period: run bench_apportion first")
        now = timezone.now()
        with transaction.atomic():
            PeriodChunk.objects.filter(period=period).update(tree_done_at=None, tree_range=None)
            TreeNode.objects.filter(period=period).delete()  # a sealed period: built again
            TreeBlock.objects.filter(period=period).delete()
            started = time.perf_counter()
            chunk_seconds = []
            for chunk_id in tree.chunks_without_tree(period_id=period.pk):
                begun = time.perf_counter()
                tree.chunk_tree_build(chunk_id=chunk_id, now=now)
                chunk_seconds.append(time.perf_counter() - begun)
            built = time.perf_counter()
            tree.tree_sign(period, now=now)
            sealed = time.perf_counter()
            key = verify.load_public_key(tree.public_key_hex())
            ids = list(
                Bill.objects.filter(period=period).values_list("membership_id", flat=True)[
                    : 10 * proofs
                ]
            )
            timings = []
            for membership_id in random.Random(1).sample(ids, min(proofs, len(ids))):
                begun = time.perf_counter()
                bill = Bill.objects.get(period=period, membership_id=membership_id)
                proof = PeriodTree(period).proof(bill)
                timings.append((time.perf_counter() - begun) * 1000)
                verify.verify(json.loads(json.dumps(proof)), key)
            transaction.set_rollback(True)
        figures = {
            "period": period.pk,
            "bills": period.merkle_size,
            "chunks": len(chunk_seconds),
            "chunks_seconds": round(built - started, 2),
            "slowest_chunk_seconds": round(max(chunk_seconds, default=0), 2),
            "seal_seconds": round(sealed - built, 3),
            "bills_per_second": round(period.merkle_size / max(built - started, 1e-9)),
            "proofs": len(timings),
            "proof_ms_median": round(statistics.median(timings), 2) if timings else None,
            "proof_ms_max": round(max(timings), 2) if timings else None,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        }
        self.stdout.write(json.dumps(figures))
