"""Disputes raised during publicity, and the jury that may review them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import models
from django.utils.translation import gettext_lazy as _

from members.models import Member

if TYPE_CHECKING:
    pass

from claims.models.claims import Claim


class Dispute(models.Model):
    """A member's objection during the publicity window: one per member per claim and round
    of publicity (`round` is the claim's `reopened` count: a reopened claim is publicized
    afresh, and only its current round's disputes count)."""

    claim = models.ForeignKey(
        Claim, on_delete=models.PROTECT, related_name="disputes", verbose_name=_("claim")
    )
    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="disputes", verbose_name=_("member")
    )
    reason = models.TextField(_("reason"))
    created_at = models.DateTimeField(verbose_name=_("raised at"))
    round = models.PositiveSmallIntegerField(_("publicity round"), default=0)

    class Meta:
        verbose_name = _("dispute")
        verbose_name_plural = _("disputes")
        constraints = [
            models.UniqueConstraint(
                fields=["claim", "round", "member"], name="one_dispute_per_member_and_round"
            ),
        ]

    def __str__(self) -> str:
        return f"Dispute by {self.member} on claim {self.claim_id}"


class Vote(models.TextChoices):
    APPROVE = "approve", _("approve")
    REJECT = "reject", _("reject")


class JurySeat(models.Model):
    """A randomly drawn member asked to vote on a disputed claim."""

    claim = models.ForeignKey(
        Claim, on_delete=models.PROTECT, related_name="jury", verbose_name=_("claim")
    )
    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="jury_seats", verbose_name=_("member")
    )
    drawn_at = models.DateTimeField()
    vote = models.CharField(max_length=8, choices=Vote, blank=True)
    voted_at = models.DateTimeField(null=True, blank=True)
    round = models.PositiveSmallIntegerField(_("publicity round"), default=0)

    class Meta:
        verbose_name = _("jury seat")
        verbose_name_plural = _("jury seats")
        constraints = [
            models.UniqueConstraint(
                fields=["claim", "round", "member"], name="one_seat_per_member_and_round"
            ),
        ]

    def __str__(self) -> str:
        return f"Juror {self.member_id} on claim {self.claim_id}"


class JuryDraw(models.Model):
    """A jury's commit-reveal draw (mutual/jury.py states the rule). The seed is secret until
    the claim is decided; its SHA-256 is public from the first dispute on. The eligible
    pseudonyms are kept, sorted, so that anyone can recompute the jury from the seed. One draw
    per round of publicity: a reopened claim disputed again gets a new seed and a new jury."""

    claim = models.ForeignKey(
        Claim, on_delete=models.PROTECT, related_name="jury_draws", verbose_name=_("claim")
    )
    round = models.PositiveSmallIntegerField(_("publicity round"), default=0)
    seed = models.CharField(max_length=64)  # hex, 32 bytes; shown only once the claim is decided
    commitment = models.CharField(max_length=64, unique=True)
    committed_at = models.DateTimeField()
    # When the draw was last handed to the workers: beat hands out again one still not drawn
    # 15 minutes later (claims.disputes.jury_draws_resend).
    enqueued_at = models.DateTimeField(null=True, blank=True)
    drawn_at = models.DateTimeField(null=True, blank=True)
    size = models.PositiveIntegerField(default=0)
    eligible = models.BinaryField(default=b"")  # 32-byte pseudonyms, sorted
    eligible_count = models.PositiveIntegerField(default=0)
    eligible_sha256 = models.CharField(max_length=64, blank=True)
    jurors = models.JSONField(default=list)  # pseudonyms (hex), lowest rank first

    class Meta:
        verbose_name = _("jury draw")
        verbose_name_plural = _("jury draws")
        constraints = [
            models.UniqueConstraint(fields=["claim", "round"], name="one_draw_per_round")
        ]

    def __str__(self) -> str:
        return f"Jury draw {self.commitment[:12]} of claim {self.claim_id}"
