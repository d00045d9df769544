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


NOTICE_SAMPLES = [
    # (kind, payload): every renderer's words, with facts that carry no English of their own
    ("claim", {"claim_id": 7, "state": "approved"}),
    ("claim", {"claim_id": 7, "state": "rejected", "reason_code": "waiting_period",
               "reason_en": "The illness was first diagnosed in the waiting period.",
               "reason_zh": "疾病在等待期内首次确诊。"}),
    ("claim", {"claim_id": 7, "request_id": 3, "documents": ["discharge_summary", "invoice"],
               "deadline": "2026-12-10 18:00", "reminder": True}),
    ("claim", {"claim_id": 7, "appeal_id": 1, "status": "upheld", "note": ""}),
    ("claim", {"claim_id": 7, "appeal_id": 1, "status": "dismissed", "note": ""}),
    ("jury", {"claim_id": 7, "deadline": "2026-12-10 18:00"}),
    ("digest", {"cases": 2, "plan": "相互宝", "claim_ids": [1, 2], "date": "2026-12-03"}),
    ("bill", {"period": "相互宝 2026-12-14", "charged_fen": 123}),
    ("debit_failed", {"period": "相互宝 2026-12-14", "charged_fen": 123, "lapse_on": "2026-12-30"}),
    ("lapse", {"plan": "相互宝", "reason": "未按时支付"}),
    ("cover", {"plan": "相互宝", "reason": "已退出", "person": "小红"}),
    ("cover", {"plan": "相互宝", "reason": "达到最高年龄", "moved_to": "老人互助"}),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "payload"), NOTICE_SAMPLES)
def test_every_notice_reads_in_chinese(kind, payload):
    """Issue 25: notices were English only. Rendered in zh-hans (the API renders them in the
    request's language), no English word is left."""
    import re

    from django.utils import translation

    from notifications.messages import render

    with translation.override("zh-hans"):
        subject, body = render(kind, payload)
    english = re.findall(r"[A-Za-z]{3,}", subject + " " + body)
    assert not english, (subject, body)
    with translation.override("en"):
        assert re.search(r"[A-Za-z]{3,}", " ".join(render(kind, payload)))
