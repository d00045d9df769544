"""Plans (separate pools with their own rules), members (people with a login) and memberships."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import OpClass
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper
from django.dispatch import receiver
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition
from django_fsm_log.decorators import fsm_log_by, fsm_log_description
from simple_history.models import HistoricalRecords
from simple_history.signals import pre_create_historical_record

from mutual.core.money import format_yuan


def years_before(day: datetime.date, years: int) -> datetime.date:
    """The same calendar day `years` earlier; 29 February becomes 28 February."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def default_cutoff_days() -> list[int]:
    return [1, 16]


class DisputeReview(models.TextChoices):
    REVIEWER = "reviewer", _("A reviewer decides")
    JURY = "jury", _("A jury of members votes")


class RulesInForceFrom(models.Model):
    """The extra column of a plan's history rows: from when the rules it records are in force.
    `history_date` says when the change was made; `effective_at` is never later (a change may
    be entered after the moment it took effect), and never earlier than the plan's previous
    change (members.services.plan_save checks both)."""

    effective_at = models.DateTimeField(_("in force from"))

    class Meta:
        abstract = True


class Plan(models.Model):
    """A pool: its members share only its own cases. All rules are data, editable in the admin.
    Every change is kept in `history` (who, when, old and new values, in force from when):
    members.selectors.plan_rules_at reads the rules in force at a given moment."""

    code = models.SlugField(_("code"), unique=True)
    name = models.CharField(_("name"), max_length=120)
    accepting_members = models.BooleanField(_("accepting new members"), default=True)
    min_credit_score = models.PositiveSmallIntegerField(_("minimum credit score"), default=650)
    min_age_days = models.PositiveIntegerField(_("minimum age (days)"), default=30)
    min_age_years = models.PositiveSmallIntegerField(
        _("minimum age (years)"),
        default=0,
        help_text=_("0 for none; 60 for a plan of 60 to 70 year olds."),
    )
    max_age_years = models.PositiveSmallIntegerField(
        _("maximum age (years)"),
        default=59,
        help_text=_("Cover ends on the day a member turns one year older than this."),
    )
    age_successor = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("plan after the maximum age"),
        help_text=_(
            "Members who reach the maximum age move to this plan, with no new waiting period, "
            "unless they chose not to."
        ),
    )
    illness_waiting_days = models.PositiveIntegerField(
        _("illness waiting period (days)"), default=90
    )
    accident_waiting_days = models.PositiveIntegerField(
        _("accident waiting period (days)"), default=0
    )
    management_fee_bp = models.PositiveIntegerField(
        _("management fee (basis points)"),
        default=800,
        help_text=_("800 = 8 per cent of each payout"),
    )
    per_case_cap_fen = models.BigIntegerField(
        _("per-case share cap (fen)"), default=10, validators=[MinValueValidator(0)]
    )
    yearly_cap_fen = models.BigIntegerField(
        _("yearly share cap (fen)"), default=18_800, validators=[MinValueValidator(0)]
    )
    publicity_days = models.PositiveSmallIntegerField(_("publicity window (days)"), default=3)
    dispute_review = models.CharField(
        _("dispute review"), max_length=16, choices=DisputeReview, default=DisputeReview.REVIEWER
    )
    jury_size = models.PositiveSmallIntegerField(_("jury size"), default=7)
    jury_quorum = models.PositiveSmallIntegerField(_("jury quorum"), default=5)
    payment_grace_days = models.PositiveSmallIntegerField(_("payment grace (days)"), default=15)
    cutoff_days = ArrayField(
        models.PositiveSmallIntegerField(),
        verbose_name=_("period cutoff days"),
        default=default_cutoff_days,
        help_text=_(
            "Days of the month (1-28) on which a period closes at midnight, Shanghai time: "
            "1,16 is twice a month; the mutual treasure closed on the 14th and 28th."
        ),
    )
    payout_delay_days = models.PositiveSmallIntegerField(
        _("payout delay (days)"),
        default=0,
        help_text=_("Days after the cutoff when the period is billed and its claims are paid."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    # The cutoff of the plan's latest period whose sharers billing has counted (set by
    # billing.apportion.period_prepare): a membership change dated up to it takes effect just
    # after it (members.services), so the counted sharers stay the ones billed.
    billed_through = models.DateTimeField(_("billed through"), null=True, blank=True)

    history = HistoricalRecords(bases=[RulesInForceFrom], excluded_fields=["billed_through"])

    class Meta:
        verbose_name = _("plan")
        verbose_name_plural = _("plans")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(jury_quorum__lte=models.F("jury_size")), name="plan_quorum_within_jury"
            ),
            models.CheckConstraint(
                condition=Q(management_fee_bp__lte=10_000), name="plan_fee_at_most_100_percent"
            ),
            models.CheckConstraint(
                condition=Q(per_case_cap_fen__gte=0) & Q(yearly_cap_fen__gte=0),
                name="plan_caps_not_negative",
            ),
            # Days that every month has (so 1..28); Plan.clean() sorts them and refuses repeats.
            models.CheckConstraint(
                condition=Q(cutoff_days__len__gte=1)
                & Q(cutoff_days__contained_by=list(range(1, 29))),
                name="plan_cutoff_days_in_every_month",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """Cutoff days: at least one, each a day every month has (1..28), no repeats; stored
        sorted (the admin form calls this; the database constraint is the last line)."""
        super().clean()
        days = list(self.cutoff_days or [])
        if not days:
            raise ValidationError({"cutoff_days": _("Give at least one cutoff day.")})
        outside = sorted({day for day in days if not 1 <= day <= 28})
        if outside:
            raise ValidationError(
                {
                    "cutoff_days": _(
                        "Cutoff days must be between 1 and 28 (every month has them): %(days)s."
                    )
                    % {"days": ", ".join(map(str, outside))}
                }
            )
        if len(set(days)) != len(days):
            raise ValidationError({"cutoff_days": _("Each cutoff day may be given only once.")})
        self.cutoff_days = sorted(days)

    def cover_for_age(self, age_years: int) -> int | None:
        """Cover in fen for a member of this age, or None when no band covers it."""
        band = (
            self.cover_bands.filter(max_age_years__gte=age_years).order_by("max_age_years").first()
        )
        return band.cover_fen if band else None


# Plumbing, not a rule: the rule (when a change may take effect) is
# members.services.plan_effective_at_check, and plan_save hands its input over as
# `_rules_effective_at`. simple-history builds the history row inside Plan.save() and fills an
# extra column through this signal; it also gives the NOT NULL column its default for every
# other save (factories, demo, the billing bench), which go through no service.
@receiver(pre_create_historical_record, sender=Plan.history.model)
def _rules_in_force_from(sender, instance, history_instance, history_date, **kwargs) -> None:
    """A change is in force from when it is made unless plan_save was given an earlier moment."""
    history_instance.effective_at = getattr(instance, "_rules_effective_at", None) or history_date


class CoverBand(models.Model):
    """Cover by age: the band with the smallest `max_age_years` at or above the member's age."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="cover_bands")
    max_age_years = models.PositiveSmallIntegerField(_("up to age (years)"))
    cover_fen = models.BigIntegerField(_("cover (fen)"))
    # A money rule like the plan's own (new members' cover comes from it): who changed what.
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("cover band")
        verbose_name_plural = _("cover bands")
        ordering = ["plan", "max_age_years"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "max_age_years"], name="one_band_per_age"),
            models.CheckConstraint(condition=Q(cover_fen__gt=0), name="band_cover_positive"),
        ]

    def __str__(self) -> str:
        return f"≤{self.max_age_years}: {format_yuan(self.cover_fen)}"


def mask_national_id(national_id: str) -> str:
    """The first and last four characters (fewer for a short id), the rest starred:
    `1101**********1234`. Lists and API output show only this."""
    keep = min(4, len(national_id) // 4)
    hidden = len(national_id) - 2 * keep
    return national_id[:keep] + "*" * hidden + national_id[len(national_id) - keep :]


class Relationship(models.TextChoices):
    SELF = "self", _("account holder")
    SPOUSE = "spouse", _("spouse")
    CHILD = "child", _("child")
    PARENT = "parent", _("parent")


class Member(models.Model):
    """A person. An account holder (the *payer*) has a login, is credit-scored, and covers a
    household: their spouse, children and parents, who have no login of their own (`payer`
    is the account holder; members.households). The national id is shown masked; seeing it
    in full is a deliberate act that is logged (members.services.member_national_id_reveal)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="member",
    )
    payer = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="dependants",
        verbose_name=_("covered and paid for by"),
    )
    relationship = models.CharField(
        _("relationship to the account holder"),
        max_length=8,
        choices=Relationship,
        default=Relationship.SELF,
        db_default=Relationship.SELF,  # set-based inserts (the demo, the benchmarks) of holders
    )
    full_name = models.CharField(_("full name"), max_length=120)
    national_id = models.CharField(_("national id"), max_length=32, unique=True)
    birth_date = models.DateField(_("birth date"), db_index=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    # A child under 14 is added only with the account holder's consent as guardian (PIPL
    # Art. 31): when it was given, and by whom.
    guardian_consent_at = models.DateTimeField(_("guardian's consent at"), null=True, blank=True)
    guardian_consent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("guardian's consent by"),
    )
    # Taken out of the household by the account holder (their memberships ended then); kept
    # for their claims and bills.
    removed_at = models.DateTimeField(_("removed from the household at"), null=True, blank=True)

    class Meta:
        verbose_name = _("member")
        verbose_name_plural = _("members")
        permissions = [("view_national_id", _("Can see a member's full national id"))]
        # The admin searches with UPPER(...) = and UPPER(...) LIKE 'x%': index exactly that.
        indexes = [
            models.Index(Upper("national_id"), name="member_national_id_upper"),
            models.Index(
                OpClass(Upper("full_name"), name="varchar_pattern_ops"),
                name="member_name_upper_prefix",
            ),
        ]
        constraints = [
            # An account holder has a login and no payer; a dependant has a payer, a
            # relationship to them, and no login.
            models.CheckConstraint(
                condition=Q(payer__isnull=True, relationship="self", user__isnull=False)
                | (Q(payer__isnull=False, user__isnull=True) & ~Q(relationship="self")),
                name="member_holder_or_dependant",
            ),
        ]

    def __str__(self) -> str:
        return self.full_name

    @property
    def national_id_masked(self) -> str:
        return mask_national_id(self.national_id)

    def age_on(self, day: datetime.date) -> int:
        had_birthday = (day.month, day.day) >= (self.birth_date.month, self.birth_date.day)
        return day.year - self.birth_date.year - (0 if had_birthday else 1)

    @property
    def account_holder_id(self) -> int:
        """Whose account pays for this person: their own, or their payer's."""
        return self.payer_id or self.pk


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

    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="memberships")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="memberships")
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
    def withdraw(self, *, now, by=None, description=None, reason=EndReason.LEFT) -> None:
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
    def lapse(self, *, now, by=None, description=None, reason=EndReason.UNPAID) -> None:
        self.ended_at = now
        self.end_reason = reason


class AccessKind(models.TextChoices):
    EVIDENCE_DOCUMENT = "evidence_document", _("evidence document opened")
    NATIONAL_ID = "national_id", _("national id shown in full")


class AccessLog(models.Model):
    """Who saw what, and when: one row each time staff open an evidence document or show a
    member's full national id, written in the same request (members.services.access_record).
    Append-only: a database trigger refuses UPDATE and DELETE."""

    at = models.DateTimeField(_("when"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("who"),
    )
    kind = models.CharField(_("what"), max_length=32, choices=AccessKind)
    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="+", verbose_name=_("whose data")
    )
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    object_id = models.PositiveBigIntegerField(_("object id"))

    class Meta:
        verbose_name = _("access log entry")
        verbose_name_plural = _("access log")
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["member", "at"], name="accesslog_member_at"),
            models.Index(fields=["user", "at"], name="accesslog_user_at"),
            models.Index(fields=["at"], name="accesslog_at"),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_kind_display()} · {self.at:%Y-%m-%d %H:%M}"


# Notices to members live in their own module (members/notifications/models.py).
from members.notifications.models import (  # noqa: E402, F401
    Notice,
    NoticeRun,
    NotificationPreference,
)
