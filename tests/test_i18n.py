import pytest
from django.urls import reverse

from tests.factories import ClaimFactory

pytestmark = pytest.mark.django_db


def test_the_admin_speaks_simplified_chinese_with_our_own_strings(client, reviewer):
    claim = ClaimFactory()
    client.force_login(reviewer)
    page = client.get(
        reverse("admin:claims_claim_change", args=[claim.pk]), HTTP_ACCEPT_LANGUAGE="zh-hans"
    ).content.decode()
    assert "开始调查" in page  # our button: "Start investigation"
    assert "证据链" in page and "互助案件" in page  # our panel and our app's name
    assert 'id="language-chooser"' in page


def test_the_language_chooser_switches_to_chinese_and_back(client, reviewer):
    client.force_login(reviewer)
    client.post(reverse("set_language"), {"language": "zh-hans", "next": "/admin/"})
    assert "互助案件" in client.get("/admin/").content.decode()
    client.post(reverse("set_language"), {"language": "en", "next": "/admin/"})
    page = client.get("/admin/").content.decode()
    assert "互助案件" not in page and "Claims" in page
