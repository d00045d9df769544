"""The notices' models move to the notifications app (issue 21, item 3): removed from the
members app's state only. Their tables, and every notice in them, stay as they are
(notifications 0001 takes them over by name)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("members", "0014_age_limit_beat"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.RemoveField(
                    model_name="notice",
                    name="member",
                ),
                migrations.DeleteModel(
                    name="NoticeRun",
                ),
                migrations.RemoveField(
                    model_name="notificationpreference",
                    name="member",
                ),
                migrations.DeleteModel(
                    name="Notice",
                ),
                migrations.DeleteModel(
                    name="NotificationPreference",
                ),
            ],
        ),
    ]
