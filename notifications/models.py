"""The outbox (Notice), the set-based runs that fill it for a whole plan (NoticeRun), and each
member's choices (NotificationPreference). The tables keep the names the members app gave them
(migrations notifications 0001 and members 0015 moved the models, not the rows)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class NoticeKind(models.TextChoices):
    CLAIM = "claim", _("claim state changed")
    JURY = "jury", _("drawn for a jury")
    DIGEST = "digest", _("new cases in publicity")
    BILL = "bill", _("bill posted")
    DEBIT_FAILED = "debit_failed", _("debit failed")
    LAPSE = "lapse", _("membership lapsed")
    COVER = "cover", _("cover ended or moved")
    DATA_EXPORT = "data_export", _("a copy of your data is ready")


class NoticeStatus(models.TextChoices):
    PENDING = "pending", _("pending")
    SENDING = "sending", _("sending")  # claimed by a worker; left here only by a crash
    SENT = "sent", _("sent")
    FAILED = "failed", _("failed")  # the gateway refused it every attempt
    SKIPPED = "skipped", _("skipped")  # no address to send to


UNDELIVERED = (NoticeStatus.PENDING, NoticeStatus.SENDING, NoticeStatus.FAILED)


class Notice(models.Model):
    """One message to one member about one event. (member, event) is unique: the event is the
    idempotency key, so writing it twice writes one row, and delivery claims the row with a
    conditional UPDATE (pending → sending), so it goes out at most once."""

    id = models.BigAutoField(primary_key=True)
    # No database FK: ten million bill notices are inserted per period (like billing.Bill).
    member = models.ForeignKey(
        "members.Member", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=NoticeKind)
    event = models.CharField(_("event"), max_length=80)
    payload = models.JSONField(_("details"), default=dict)
    created_at = models.DateTimeField(_("created"))
    status = models.CharField(
        _("status"), max_length=8, choices=NoticeStatus, default=NoticeStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=200, blank=True)

    class Meta:
        db_table = "members_notice"  # created by the members app, before this app existed
        verbose_name = _("notice")
        verbose_name_plural = _("notices")
        constraints = [
            models.UniqueConstraint(fields=["member", "event"], name="notice_once_per_event"),
        ]
        indexes = [
            # A member's notices, newest first (/api/me/notifications/).
            models.Index(fields=["member", "-id"], name="notice_member_newest"),
            # The undelivered, by event (chunked dispatch) and by age (dashboard, sweeper).
            models.Index(
                fields=["event", "id"],
                name="notice_pending_by_event",
                condition=Q(status="pending"),
            ),
            models.Index(
                fields=["created_at"],
                name="notice_undelivered_by_age",
                condition=Q(status__in=["pending", "sending", "failed"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} to member {self.member_id} ({self.event})"


class NoticeRun(models.Model):
    """A plan-wide event (a period's bills posted, a day's digest): written in the event's
    transaction, then filled chunk by chunk (INSERT ... SELECT) by Celery. finished_at marks
    every chunk written; an unfinished run is started again by the sweeper."""

    event = models.CharField(max_length=80, unique=True)
    kind = models.CharField(max_length=16, choices=NoticeKind)
    params = models.JSONField(default=dict)
    created_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "members_noticerun"
        verbose_name = _("notice run")
        verbose_name_plural = _("notice runs")

    def __str__(self) -> str:
        return self.event


class NotificationPreference(models.Model):
    """What a member wants to be told. No row: everything."""

    member = models.OneToOneField(
        "members.Member",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="notification_preference",
    )
    claim = models.BooleanField(_("my claims"), default=True)
    jury = models.BooleanField(_("jury duty"), default=True)
    digest = models.BooleanField(_("daily digest of new cases"), default=True)
    bill = models.BooleanField(_("bills"), default=True)
    debit_failed = models.BooleanField(_("failed debits"), default=True)
    lapse = models.BooleanField(_("lapse"), default=True)
    cover = models.BooleanField(_("cover ended or moved"), default=True)
    # Not offered to turn off (members/notice_api.py): the member asked for it.
    data_export = models.BooleanField(_("a copy of my data"), default=True)

    class Meta:
        db_table = "members_notificationpreference"
        verbose_name = _("notification preference")
        verbose_name_plural = _("notification preferences")

    def __str__(self) -> str:
        return f"Preferences of member {self.member_id}"
