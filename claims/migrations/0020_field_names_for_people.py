"""Field names for people (issue 25): labels only, no change to the database."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('claims', '0019_publicity_rounds'),
        ('members', '0016_field_names_for_people'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name='appeal',
            name='claim',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='appeals', to='claims.claim', verbose_name='claim'),
        ),
        migrations.AlterField(
            model_name='appeal',
            name='decided_by',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='decided by'),
        ),
        migrations.AlterField(
            model_name='claim',
            name='investigation_recorded_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='investigation recorded at'),
        ),
        migrations.AlterField(
            model_name='claim',
            name='investigation_recorded_by',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='investigation recorded by'),
        ),
        migrations.AlterField(
            model_name='claim',
            name='membership',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='claims', to='members.membership', verbose_name='membership'),
        ),
        migrations.AlterField(
            model_name='claim',
            name='plan',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='claims', to='members.plan', verbose_name='plan'),
        ),
        migrations.AlterField(
            model_name='claimassignment',
            name='assigned_from',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='assigned from'),
        ),
        migrations.AlterField(
            model_name='claimassignment',
            name='assigned_to',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='assigned to'),
        ),
        migrations.AlterField(
            model_name='claimassignment',
            name='claim',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='assignments', to='claims.claim', verbose_name='claim'),
        ),
        migrations.AlterField(
            model_name='claimassignment',
            name='reason',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='claims.reason', verbose_name='reason'),
        ),
        migrations.AlterField(
            model_name='claimaudit',
            name='claim',
            field=models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='audit', to='claims.claim', verbose_name='claim'),
        ),
        migrations.AlterField(
            model_name='claimaudit',
            name='decided_by',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='decided by'),
        ),
        migrations.AlterField(
            model_name='claimsignal',
            name='claim',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='signals', to='claims.claim', verbose_name='claim'),
        ),
        migrations.AlterField(
            model_name='clocktarget',
            name='plan',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='clock_targets', to='members.plan', verbose_name='plan'),
        ),
        migrations.AlterField(
            model_name='deskpolicy',
            name='plan',
            field=models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='desk_policy', to='members.plan', verbose_name='plan'),
        ),
        migrations.AlterField(
            model_name='dispute',
            name='claim',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='disputes', to='claims.claim', verbose_name='claim'),
        ),
        migrations.AlterField(
            model_name='dispute',
            name='created_at',
            field=models.DateTimeField(verbose_name='raised at'),
        ),
        migrations.AlterField(
            model_name='dispute',
            name='member',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='disputes', to='members.member', verbose_name='member'),
        ),
        migrations.AlterField(
            model_name='evidencedocument',
            name='claim',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='evidence', to='claims.claim', verbose_name='claim'),
        ),
        migrations.AlterField(
            model_name='evidencedocument',
            name='size',
            field=models.PositiveBigIntegerField(verbose_name='size (bytes)'),
        ),
        migrations.AlterField(
            model_name='evidencedocument',
            name='uploaded_at',
            field=models.DateTimeField(verbose_name='uploaded at'),
        ),
        migrations.AlterField(
            model_name='inforequest',
            name='claim',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='info_requests', to='claims.claim', verbose_name='claim'),
        ),
        migrations.AlterField(
            model_name='inforequest',
            name='made_by',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='asked by'),
        ),
        migrations.AlterField(
            model_name='investigator',
            name='user',
            field=models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='investigator_profile', to=settings.AUTH_USER_MODEL, verbose_name='login'),
        ),
        migrations.AlterField(
            model_name='jurydraw',
            name='claim',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='jury_draws', to='claims.claim', verbose_name='claim'),
        ),
        migrations.AlterField(
            model_name='juryseat',
            name='claim',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='jury', to='claims.claim', verbose_name='claim'),
        ),
        migrations.AlterField(
            model_name='juryseat',
            name='member',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='jury_seats', to='members.member', verbose_name='member'),
        ),
        migrations.AlterField(
            model_name='statespan',
            name='claim',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='spans', to='claims.claim', verbose_name='claim'),
        ),
    ]
