"""The notices' models, taken over from the members app with their tables (members_notice,
members_noticerun, members_notificationpreference): state only, no row is touched."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("members", "0015_notices_move_to_their_app"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name="NoticeRun",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("event", models.CharField(max_length=80, unique=True)),
                        (
                            "kind",
                            models.CharField(
                                choices=[
                                    ("claim", "claim state changed"),
                                    ("jury", "drawn for a jury"),
                                    ("digest", "new cases in publicity"),
                                    ("bill", "bill posted"),
                                    ("debit_failed", "debit failed"),
                                    ("lapse", "membership lapsed"),
                                    ("cover", "cover ended or moved"),
                                ],
                                max_length=16,
                            ),
                        ),
                        ("params", models.JSONField(default=dict)),
                        ("created_at", models.DateTimeField()),
                        ("started_at", models.DateTimeField(blank=True, null=True)),
                        ("finished_at", models.DateTimeField(blank=True, null=True)),
                    ],
                    options={
                        "verbose_name": "notice run",
                        "verbose_name_plural": "notice runs",
                        "db_table": "members_noticerun",
                    },
                ),
                migrations.CreateModel(
                    name="NotificationPreference",
                    fields=[
                        (
                            "member",
                            models.OneToOneField(
                                on_delete=django.db.models.deletion.CASCADE,
                                primary_key=True,
                                related_name="notification_preference",
                                serialize=False,
                                to="members.member",
                            ),
                        ),
                        ("claim", models.BooleanField(default=True, verbose_name="my claims")),
                        ("jury", models.BooleanField(default=True, verbose_name="jury duty")),
                        (
                            "digest",
                            models.BooleanField(
                                default=True, verbose_name="daily digest of new cases"
                            ),
                        ),
                        ("bill", models.BooleanField(default=True, verbose_name="bills")),
                        (
                            "debit_failed",
                            models.BooleanField(default=True, verbose_name="failed debits"),
                        ),
                        ("lapse", models.BooleanField(default=True, verbose_name="lapse")),
                        (
                            "cover",
                            models.BooleanField(default=True, verbose_name="cover ended or moved"),
                        ),
                    ],
                    options={
                        "verbose_name": "notification preference",
                        "verbose_name_plural": "notification preferences",
                        "db_table": "members_notificationpreference",
                    },
                ),
                migrations.CreateModel(
                    name="Notice",
                    fields=[
                        ("id", models.BigAutoField(primary_key=True, serialize=False)),
                        (
                            "kind",
                            models.CharField(
                                choices=[
                                    ("claim", "claim state changed"),
                                    ("jury", "drawn for a jury"),
                                    ("digest", "new cases in publicity"),
                                    ("bill", "bill posted"),
                                    ("debit_failed", "debit failed"),
                                    ("lapse", "membership lapsed"),
                                    ("cover", "cover ended or moved"),
                                ],
                                max_length=16,
                                verbose_name="kind",
                            ),
                        ),
                        ("event", models.CharField(max_length=80, verbose_name="event")),
                        ("payload", models.JSONField(default=dict, verbose_name="details")),
                        ("created_at", models.DateTimeField(verbose_name="created")),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("pending", "pending"),
                                    ("sending", "sending"),
                                    ("sent", "sent"),
                                    ("failed", "failed"),
                                    ("skipped", "skipped"),
                                ],
                                default="pending",
                                max_length=8,
                                verbose_name="status",
                            ),
                        ),
                        ("attempts", models.PositiveSmallIntegerField(default=0)),
                        ("claimed_at", models.DateTimeField(blank=True, null=True)),
                        ("sent_at", models.DateTimeField(blank=True, null=True)),
                        ("last_error", models.CharField(blank=True, max_length=200)),
                        (
                            "member",
                            models.ForeignKey(
                                db_constraint=False,
                                on_delete=django.db.models.deletion.DO_NOTHING,
                                related_name="+",
                                to="members.member",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "notice",
                        "verbose_name_plural": "notices",
                        "db_table": "members_notice",
                        "indexes": [
                            models.Index(fields=["member", "-id"], name="notice_member_newest"),
                            models.Index(
                                condition=models.Q(("status", "pending")),
                                fields=["event", "id"],
                                name="notice_pending_by_event",
                            ),
                            models.Index(
                                condition=models.Q(
                                    ("status__in", ["pending", "sending", "failed"])
                                ),
                                fields=["created_at"],
                                name="notice_undelivered_by_age",
                            ),
                        ],
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("member", "event"), name="notice_once_per_event"
                            )
                        ],
                    },
                ),
            ],
        ),
    ]
