"""Issue 25, in the browser: the main lists and pages fit 1400 px without a horizontal scroll,
in English and in Chinese, with long values (hashes, names, amounts) in them; every time on
them says its zone; a period not run shows no ✓."""

import datetime

import pytest
import time_machine

from billing import steps
from billing.models import ApportionmentPeriod
from claims import evidence, services
from tests.browser_operator import CHROMIUM, Operator
from tests.claim_steps import pdf
from tests.factories import ClaimFactory, MembershipFactory, PlanFactory, UserFactory
from tests.test_times_labelled import unzoned

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on this machine")
NOW = datetime.datetime(2030, 12, 2, 2, 0, tzinfo=datetime.UTC)
WIDTH = 1400


def _wide(operator) -> int:
    """How far the page reaches to the right, in CSS pixels."""
    return operator.page.evaluate("document.documentElement.scrollWidth")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_main_pages_fit_1400_px(browser, live_server):
    from django.contrib.auth.models import Group

    plan = PlanFactory(code="mutual-treasure-with-a-long-code")
    MembershipFactory.create_batch(3, plan=plan)
    admin = UserFactory(username="boss", is_staff=True, is_superuser=True)
    investigator = UserFactory(username="ivan", is_staff=True)
    investigator.groups.add(Group.objects.get(name="investigator"))
    with time_machine.travel(NOW, tick=False):
        claim = ClaimFactory(
            membership__plan=plan,
            hospital="Shanghai Jiao Tong University School of Medicine Ruijin Hospital",
            diagnosis="Acute lymphoblastic leukaemia, B-cell, with central nervous system relapse",
        )
        services.claim_start_investigation(
            claim_id=claim.pk, investigator_id=investigator.pk, by=investigator, now=NOW
        )
        for kind in ("discharge_summary", "pathology_report", "invoice"):
            evidence.evidence_append(
                claim_id=claim.pk, kind=kind, upload=pdf(), by=investigator, now=NOW
            )
        period = ApportionmentPeriod.objects.create(
            plan=plan, starts_at=NOW - datetime.timedelta(days=15), cutoff_at=NOW
        )
        steps.period_run_inline(period_id=period.pk, now=NOW)
        unrun = ApportionmentPeriod.objects.create(
            plan=plan, starts_at=NOW, cutoff_at=NOW + datetime.timedelta(days=15)
        )
    pages = [
        "/admin/claims/claim/",
        f"/admin/claims/claim/{claim.pk}/change/",
        "/admin/billing/apportionmentperiod/",
        f"/admin/billing/apportionmentperiod/{period.pk}/change/",
        "/admin/members/membership/",
        "/admin/",
        f"/admin/billing/apportionmentperiod/{unrun.pk}/change/",
    ]
    boss = Operator(browser, live_server, admin.username, "layout", width=WIDTH)
    too_wide, unzoned_times = {}, {}
    for language in ("en", "zh-hans"):
        boss.page.context.add_cookies(
            [{"name": "django_language", "value": language, "url": live_server.url}]
        )
        for path in pages:
            boss.open(path)
            if (wide := _wide(boss)) > WIDTH:
                too_wide[f"{language} {path}"] = wide
            # Every time as the browser shows it says its zone (issue 25).
            if bare := unzoned(boss.page.content()):
                unzoned_times[f"{language} {path}"] = bare
        # A period not run yet claims no check it has not made: no ✓ on its panel.
        boss.open(f"/admin/billing/apportionmentperiod/{unrun.pk}/change/")
        assert "✓" not in boss.page.locator("#period-panel").inner_text()
    boss.shot("claim-page")
    assert not too_wide, too_wide
    assert not unzoned_times, unzoned_times
