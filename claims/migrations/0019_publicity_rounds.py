"""A reopened claim is publicized afresh: disputes, jury draws and seats belong to a round."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("claims", "0018_reason_kind_recovery"),
        ("members", "0015_notices_move_to_their_app"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="dispute",
            name="one_dispute_per_member",
        ),
        migrations.RemoveConstraint(
            model_name="juryseat",
            name="one_seat_per_member",
        ),
        migrations.AddField(
            model_name="dispute",
            name="round",
            field=models.PositiveSmallIntegerField(default=0, verbose_name="publicity round"),
        ),
        migrations.AddField(
            model_name="jurydraw",
            name="round",
            field=models.PositiveSmallIntegerField(default=0, verbose_name="publicity round"),
        ),
        migrations.AddField(
            model_name="juryseat",
            name="round",
            field=models.PositiveSmallIntegerField(default=0, verbose_name="publicity round"),
        ),
        migrations.AlterField(
            model_name="jurydraw",
            name="claim",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="jury_draws",
                to="claims.claim",
            ),
        ),
        migrations.AddConstraint(
            model_name="dispute",
            constraint=models.UniqueConstraint(
                fields=("claim", "round", "member"), name="one_dispute_per_member_and_round"
            ),
        ),
        migrations.AddConstraint(
            model_name="jurydraw",
            constraint=models.UniqueConstraint(
                fields=("claim", "round"), name="one_draw_per_round"
            ),
        ),
        migrations.AddConstraint(
            model_name="juryseat",
            constraint=models.UniqueConstraint(
                fields=("claim", "round", "member"), name="one_seat_per_member_and_round"
            ),
        ),
    ]
