"""Memberships: a person in a plan, their waiting period and cover, and why it ended."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition
from django_fsm_log.decorators import fsm_log_by, fsm_log_description

if TYPE_CHECKING:
    from django.contrib.auth.models import User


from members.models.people import Member
from members.models.plans import Plan


class MembershipStatus(models.TextChoices):
    ACTIVE = "active", _("active")
    LAPSED = "lapsed", _("lapsed")
    WITHDRAWN = "withdrawn", _("withdrawn")


class EndReason(models.TextChoices):
    """Why a membership's cover ended (the status says only withdrawn or lapsed)."""

    LEFT = "left", _("left")
    UNPAID = "unpaid", _("not paid")
    HOUSEHOLD = "household", _("the account holder left or removed them")
    AGE_LIMIT = "age_limit", _("reached the plan's maximum age")
    MIGRATED = "migrated", _("moved to a successor plan")


def _is_owner_or_staff(membership: Membership, user) -> bool:
    """The member, their account holder (who covers and pays for them), or staff."""
    member = membership.member
    if member.user_id == user.pk and user.pk is not None:
        return True
    if member.payer_id is not None and member.payer.user_id == user.pk:
        return True
    return user.has_perm("members.change_membership")


def _is_finance(membership: Membership, user) -> bool:
    return user.has_perm("members.change_membership")


class Membership(ConcurrentTransitionMixin, models.Model):
    """A member in a plan. `joined_at` survives a plan migration; `in_pool_since` does not."""

    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="memberships", verbose_name=_("person")
    )
    plan = models.ForeignKey(
        Plan, on_delete=models.PROTECT, related_name="memberships", verbose_name=_("plan")
    )
    status = FSMField(
        _("status"),
        max_length=16,
        choices=MembershipStatus,
        default=MembershipStatus.ACTIVE,
        protected=True,
    )
    joined_at = models.DateTimeField(_("joined at"))
    in_pool_since = models.DateTimeField(
        _("in this pool since"), help_text=_("Shares only cases publicized after this moment.")
    )
    waiting_until = models.DateTimeField(_("illness waiting period ends"))
    cover_fen = models.BigIntegerField(_("cover (fen)"))
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    end_reason = models.CharField(
        _("why it ended"), max_length=16, choices=EndReason, blank=True, default="", db_default=""
    )
    migrated_from = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="migrated_to"
    )
    # At the plan's maximum age, move to its successor plan (Plan.age_successor), with no new
    # waiting period; the member may turn it off (PATCH /api/memberships/{id}/).
    move_at_age_limit = models.BooleanField(
        _("move on at the maximum age"), default=True, db_default=True
    )

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(
                fields=["member", "plan"],
                condition=Q(status="active"),
                name="one_live_membership_per_plan",
            ),
            models.CheckConstraint(
                condition=Q(status="active", ended_at__isnull=True)
                | (~Q(status="active") & Q(ended_at__isnull=False)),
                name="membership_ended_iff_not_active",
            ),
            models.CheckConstraint(condition=Q(cover_fen__gt=0), name="membership_cover_positive"),
        ]
        # (plan, status, id): a plan's active members, newest first, without a backwards scan
        # through every other plan's rows.
        indexes = [models.Index(fields=["plan", "status", "id"], name="membership_plan_status_id")]

    def __str__(self) -> str:
        return f"{self.member} in {self.plan}"

    @property
    def is_live(self) -> bool:
        return self.status == MembershipStatus.ACTIVE

    # Transitions only change fields; the services in members/services.py run them.
    @fsm_log_by
    @fsm_log_description
    @transition(
        field=status,
        source=MembershipStatus.ACTIVE,
        target=MembershipStatus.WITHDRAWN,
        permission=_is_owner_or_staff,
    )
    def withdraw(
        self, *, now, by: User | None = None, description=None, reason=EndReason.LEFT
    ) -> None:
        self.ended_at = now
        self.end_reason = reason

    @fsm_log_by
    @fsm_log_description
    @transition(
        field=status,
        source=MembershipStatus.ACTIVE,
        target=MembershipStatus.LAPSED,
        permission=_is_finance,
    )
    def lapse(
        self, *, now, by: User | None = None, description=None, reason=EndReason.UNPAID
    ) -> None:
        self.ended_at = now
        self.end_reason = reason
