import datetime

import pytest
from django_celery_beat.models import PeriodicTask

from claims.models import Claim, ClaimState
from claims.tasks import close_publicity_windows
from tests.claim_steps import after_window, to_publicized
from tests.factories import ClaimFactory

NOW = datetime.datetime(2018, 12, 7, 10, 0, tzinfo=datetime.UTC)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_beat_task_closes_windows_in_a_real_worker(celery_worker, investigator):
    claim = to_publicized(ClaimFactory(), investigator=investigator, now=NOW)
    moment = after_window(claim).isoformat()
    first = close_publicity_windows.delay(moment)
    second = close_publicity_windows.delay(moment)  # a duplicate delivery changes nothing
    results = [first.get(timeout=60), second.get(timeout=60)]
    assert sorted(r["approved"] for r in results) == [0, 1]
    assert Claim.objects.get(pk=claim.pk).state == ClaimState.APPROVED


@pytest.mark.django_db
def test_the_beat_schedule_is_data_editable_in_admin():
    entry = PeriodicTask.objects.get(task="claims.tasks.close_publicity_windows")
    assert entry.enabled and entry.interval.every == 1 and entry.interval.period == "minutes"
