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


def _english_words(html: str) -> set[str]:
    """The English a person reads on a page: text outside tags, scripts and styles, entities
    decoded; not identifiers (codes with _ or -, hashes, numbers) nor the brand."""
    import html as entities
    import re

    from claims.models import Reason

    text = re.sub(r"<script.*?</script>|<style.*?</style>|<code.*?</code>", " ", html, flags=re.S)
    text = entities.unescape(re.sub(r"<[^>]+>", " ", text))
    words = set()
    codes = set(Reason.objects.values_list("code", flat=True))  # shown beside their text
    for token in re.findall(r"[\w\-@.#/]+", text):
        if re.fullmatch(r"[A-Za-z]{3,}", token) and token not in {"mutual", "API", "CSV", "SHA"}:
            words.add(token)
    return words - codes


def test_the_main_pages_read_in_chinese(client):
    """Issue 25: with zh-hans, field labels, the third-party apps' names, Django's own new
    strings and "Claim 8" stayed English. The data here is Chinese, so any English left is
    the product's."""
    from claims import evidence, services
    from tests.claim_steps import pdf
    from tests.factories import MembershipFactory, PlanFactory, UserFactory

    plan = PlanFactory(name="相互宝", code="xhb-1")
    holder = MembershipFactory(plan=plan, member__full_name="王芳")
    investigator = UserFactory(username="inv-7", is_staff=True)
    from django.contrib.auth.models import Group

    investigator.groups.add(Group.objects.get(name="investigator"))
    claim = ClaimFactory(membership=holder, hospital="瑞金医院", diagnosis="急性白血病")
    services.claim_start_investigation(
        claim_id=claim.pk, investigator_id=investigator.pk, by=investigator, now=claim.submitted_at
    )
    evidence.evidence_append(
        claim_id=claim.pk, kind="invoice", upload=pdf(), by=investigator, now=claim.submitted_at
    )
    boss = UserFactory(username="boss-1", is_staff=True, is_superuser=True)
    client.force_login(boss)
    from django.core.cache import cache

    # The dashboard keeps its figures a minute in the shared cache: counted for this page (an
    # English reader's figures must read in Chinese too: claims.kpis keeps both texts).
    cache.delete_many(["dashboard", "desk-kpis"])
    pages = [
        "/admin/",
        reverse("admin:claims_claim_changelist"),
        reverse("admin:claims_claim_change", args=[claim.pk]),
        reverse("admin:billing_apportionmentperiod_changelist"),
        reverse("admin:members_membership_changelist"),
        reverse("admin:members_member_changelist"),
        reverse("admin:billing_recovery_changelist"),
        "/public/",
        "/public/cases/",
    ]
    found = {}
    for path in pages:
        answer = client.get(path, HTTP_ACCEPT_LANGUAGE="zh-hans")
        assert answer.status_code == 200, path
        if words := _english_words(answer.content.decode()):
            found[path] = sorted(words)
    assert not found, repr(found)[:3000]


def test_the_desk_panel_counted_for_an_english_reader_reads_in_chinese(client, reviewer):
    """The panel is kept a minute for everyone: what an English reader counted must not
    reach a Chinese reader in English (the refusals' texts were evaluated when counted)."""
    from django.core.cache import cache

    from claims import services
    from tests.claim_steps import to_investigating

    claim = ClaimFactory()
    to_investigating(claim, investigator=reviewer, now=claim.submitted_at)
    services.claim_reject(
        claim_id=claim.pk, by=reviewer, now=claim.submitted_at, code="pre_existing", reason="x"
    )
    cache.delete_many(["dashboard", "desk-kpis"])
    client.force_login(reviewer)
    import time_machine

    with time_machine.travel(claim.submitted_at, tick=False):
        english = client.get("/admin/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
        chinese = client.get("/admin/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "The condition existed before the patient joined." in english
    assert "疾病在加入计划前已存在。" in chinese
    assert "The condition existed before the patient joined." not in chinese


OUR_APPS = {"members", "claims", "billing", "notifications"}


def test_every_list_and_form_of_our_apps_reads_in_chinese(client):
    """Every changelist and add form of our own apps, in zh-hans, with Chinese data: no English
    word (the apps we did not write keep their own pages; their names are ours)."""
    from django.contrib import admin
    from django.core.cache import cache
    from django.urls import NoReverseMatch

    from tests.factories import MembershipFactory, PlanFactory, UserFactory

    plan = PlanFactory(name="相互宝", code="xhb-1")
    ClaimFactory(
        membership=MembershipFactory(plan=plan, member__full_name="王芳"),
        hospital="瑞金医院", diagnosis="急性白血病",
    )  # fmt: skip
    cache.delete_many(["dashboard", "desk-kpis"])
    client.force_login(UserFactory(username="boss-2", is_staff=True, is_superuser=True))
    found = {}
    for model in admin.site._registry:
        meta = model._meta
        if meta.app_label not in OUR_APPS:
            continue
        for view in ("changelist", "add"):
            try:
                url = reverse(f"admin:{meta.app_label}_{meta.model_name}_{view}")
            except NoReverseMatch:
                continue
            answer = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans")
            if answer.status_code != 200:
                continue  # a read-only model has no add form (403)
            if url == reverse("admin:claims_reason_changelist"):
                continue  # the catalogue lists each reason's English text beside its Chinese
            if words := _english_words(answer.content.decode()):
                found[url] = sorted(words)
    assert not found, repr(found)[:3000]


def test_makemessages_leaves_nothing_untranslated_and_the_catalogue_is_compiled(tmp_path):
    """Issue 25: every msgid our code and templates use has a Chinese translation, none fuzzy,
    and the committed .mo is the .po compiled. makemessages runs on a copy of the tree (it
    rewrites the catalogue in place), as a developer would run it before committing."""
    import os
    import re
    import shutil
    import subprocess
    import sys

    from tests.conftest import ROOT

    if not (shutil.which("xgettext") and shutil.which("msgfmt")):
        pytest.skip("GNU gettext (xgettext, msgfmt) is not installed")
    copy = tmp_path / "tree"
    shutil.copytree(
        ROOT, copy, symlinks=True,
        ignore=shutil.ignore_patterns(".git", ".venv", "var", "test-artifacts", "*.pyc", "docs"),
    )  # fmt: skip
    env = {**os.environ, "DJANGO_DEBUG": "1", "PYTHONPATH": str(copy)}
    done = subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "zh_Hans", "--no-obsolete"],
        cwd=copy, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    po = (copy / "mutual/locale/zh_Hans/LC_MESSAGES/django.po").read_text()
    entries = po.split("\n\n")[1:]  # the header first
    empty = [e for e in entries if re.search(r'^msgstr(\[0\])? ""\n(?!")', e + "\n", re.M)]
    fuzzy = [e for e in entries if re.search(r"^#, .*fuzzy", e, re.M)]
    assert not empty and not fuzzy, (empty + fuzzy)[:5]
    committed = ROOT / "mutual/locale/zh_Hans/LC_MESSAGES"
    compiled = tmp_path / "django.mo"
    subprocess.run(["msgfmt", "-o", str(compiled), str(committed / "django.po")], check=True)
    assert compiled.read_bytes() == (committed / "django.mo").read_bytes(), "run msgfmt"
