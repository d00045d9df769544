"""Beat's entries are data (editable under Periodic tasks), written by one migration helper."""

import pytest
from django_celery_beat.models import PeriodicTask

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "task, every, period",
    [
        ("claims.tasks.close_publicity_windows", 1, "minutes"),
        ("billing.tasks.run_due_periods", 5, "minutes"),
        ("billing.tasks.collect_due", 1, "hours"),
        ("members.tasks.memberships_at_age_limit", 1, "hours"),
    ],
)
def test_each_beat_entry_is_enabled_at_its_interval(task, every, period):
    entry = PeriodicTask.objects.get(task=task)
    assert entry.enabled and (entry.interval.every, entry.interval.period) == (every, period)
