"""Cover by age is a money rule: its changes are kept, with who and when (found missing by an
attack on issue 10's fixes: a tenfold cover change left no trace)."""

import pytest
from django.urls import reverse

from members.models import CoverBand
from tests.factories import PlanFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_a_cover_band_change_is_kept_with_who_and_the_old_and_new_cover(admin_client):
    plan = PlanFactory()
    band = CoverBand.objects.create(plan=plan, max_age_years=24, cover_fen=300_000_00)
    changer = UserFactory(username="rules-clerk", is_staff=True)
    band.cover_fen = 3_000_000_00
    band._history_user = changer
    band.save()
    old, new = band.history.order_by("history_date")
    assert (old.cover_fen, new.cover_fen) == (300_000_00, 3_000_000_00)
    assert new.history_user == changer and new.history_type == "~"
    listing = admin_client.get(reverse("admin:members_historicalcoverband_changelist"))
    assert listing.status_code == 200 and "rules-clerk" in listing.content.decode()


def test_staff_who_may_not_view_plans_do_not_see_cover_band_history(client):
    client.force_login(UserFactory(username="nobody", is_staff=True))
    response = client.get(reverse("admin:members_historicalcoverband_changelist"))
    assert response.status_code == 403
