import pytest
from django.core.cache import cache
from django.urls import reverse

from office.dashboard import bar_chart
from tests.claim_steps import to_publicized
from tests.factories import ClaimFactory, MembershipFactory
from tests.test_billing import DEC_7, approved_claim, members, period_for, run

pytestmark = pytest.mark.django_db


def test_the_admin_index_shows_the_dashboard_with_svg_charts(admin_client, plan, investigator):
    members(plan, 3)
    to_publicized(
        ClaimFactory(membership=MembershipFactory(plan=plan)), investigator=investigator, now=DEC_7
    )
    approved_claim(plan, investigator, amount_fen=10_000)
    run(period_for(plan))
    cache.delete("dashboard")
    page = admin_client.get(reverse("admin:index")).content.decode()
    assert 'id="dashboard"' in page and page.count('class="dash-chart"') == 3
    assert f"{plan.code} · active" in page
    assert "publicized" in page and "No period posted yet." not in page
    assert "cdn" not in page.lower()


def test_bar_chart_scales_to_the_largest_value_and_escapes_labels():
    svg = str(bar_chart([("<b>a</b>", 10), ("b", 5)], width=420))
    assert "&lt;b&gt;" in svg and "<b>" not in svg
    widths = [int(w) for w in __import__("re").findall(r'<rect [^>]*width="(\d+)"', svg)]
    assert widths[0] == 2 * widths[1]


def test_the_admin_names_the_product_not_django(client):
    page = client.get("/admin/login/")
    assert "mutual · mutual-aid back office" in page.content.decode()
    assert "Django administration" not in page.content.decode()


def test_a_posted_period_left_unsealed_needs_a_person(admin_client, plan, investigator):
    """Its bills are not told until sealed: after 15 minutes it is listed, and gone once
    sealed."""
    import datetime

    import time_machine

    from billing import sealing
    from billing.models import ApportionmentPeriod

    members(plan, 3)
    approved_claim(plan, investigator, amount_fen=10_000)
    period = run(period_for(plan))
    ApportionmentPeriod.objects.filter(pk=period.pk).update(
        merkle_root="", merkle_head=None, merkle_size=None
    )  # as if its seal had failed
    posted = ApportionmentPeriod.objects.get(pk=period.pk).posted_at
    with time_machine.travel(posted + datetime.timedelta(minutes=10)):
        assert (
            "period posted, not sealed"
            not in admin_client.get(reverse("admin:index")).content.decode()
        )
    with time_machine.travel(posted + datetime.timedelta(minutes=16)):
        page = admin_client.get(reverse("admin:index")).content.decode()
        assert "period posted, not sealed" in page and str(period) in page
        sealing.period_sign(period_id=period.pk, now=posted)
        assert (
            "period posted, not sealed"
            not in admin_client.get(reverse("admin:index")).content.decode()
        )


def test_the_dashboard_says_when_its_figures_were_counted_and_links_the_what_if(client, finance):
    """Issue 25: the counts stayed stale for a minute with no time beside them, and the
    what-if page was linked from nowhere."""
    import datetime

    import time_machine
    from django.core.cache import cache

    cache.delete("dashboard")
    client.force_login(finance)
    moment = datetime.datetime(2026, 12, 3, 23, 30, tzinfo=datetime.UTC)
    with time_machine.travel(moment, tick=False):
        page = client.get("/admin/").content.decode()
    assert "Figures counted at 2026-12-04 07:30:00 (Shanghai time)" in page
    periods = client.get("/admin/billing/apportionmentperiod/").content.decode()
    assert 'id="what-if-link"' in periods
