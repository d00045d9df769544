"""Lists of covered conditions to load into a plan: the industry's standard definitions, and the
real plan's changes to its list.

- STANDARD_2020: the 28 severe and 3 mild conditions of the Insurance Association of China and
  the Chinese Medical Doctor Association's standard definitions (November 2020), by name and
  category. Conditions that only an accident causes here (severe brain injury, severe
  third-degree burns) are listed in the accident category; the demo's mild conditions pay a
  fixed 50,000 yuan (the real plan's amount for a mild thyroid cancer).
- XIANG_HU_BAO_2019_2020: the real plan's rule changes. From May 2019 a mild thyroid cancer paid
  50,000 yuan, not the full cover (and a mild prostate cancer likewise: the issue names both
  leaving the list in 2020); from 1 January 2020 both left the list and five rare diseases
  joined it. The five are named here from China's first national list of rare diseases (2018):
  which five the plan added is not recorded in this project's sources.
- SENIOR_CANCER: the plan for 60 to 70 year olds covers cancer only."""

from __future__ import annotations

import datetime

from django.db import transaction

from claims.models import Condition, ConditionCategory
from members.models import Plan

SEVERE, MILD, ACCIDENT = (
    ConditionCategory.SEVERE,
    ConditionCategory.MILD,
    ConditionCategory.ACCIDENT,
)
MILD_PAYS_FEN = 50_000_00

# (code, English, Chinese, category, pays_fen or None for the full cover)
STANDARD_2020 = [
    ("malignant-tumour-severe", "Malignant tumour, severe", "恶性肿瘤——重度", SEVERE, None),
    ("acute-myocardial-infarction-severe", "Severe acute myocardial infarction", "较重急性心肌梗死", SEVERE, None),
    ("stroke-sequelae-severe", "Sequelae of severe stroke", "严重脑中风后遗症", SEVERE, None),
    ("major-organ-or-stem-cell-transplant", "Major organ or haematopoietic stem cell transplant", "重大器官移植术或造血干细胞移植术", SEVERE, None),
    ("coronary-artery-bypass", "Coronary artery bypass surgery", "冠状动脉搭桥术", SEVERE, None),
    ("chronic-renal-failure-severe", "Severe chronic renal failure", "严重慢性肾衰竭", SEVERE, None),
    ("loss-of-multiple-limbs", "Loss of multiple limbs", "多个肢体缺失", SEVERE, None),
    ("fulminant-hepatitis", "Acute or subacute severe hepatitis", "急性重症肝炎或亚急性重症肝炎", SEVERE, None),
    ("benign-intracranial-tumour-severe", "Severe benign intracranial tumour", "严重非恶性颅内肿瘤", SEVERE, None),
    ("chronic-liver-failure-severe", "Severe chronic liver failure", "严重慢性肝衰竭", SEVERE, None),
    ("encephalitis-or-meningitis-sequelae", "Sequelae of severe encephalitis or meningitis", "严重脑炎后遗症或严重脑膜炎后遗症", SEVERE, None),
    ("deep-coma", "Deep coma", "深度昏迷", SEVERE, None),
    ("deafness-both-ears", "Deafness in both ears", "双耳失聪", SEVERE, None),
    ("blindness-both-eyes", "Blindness in both eyes", "双目失明", SEVERE, None),
    ("paralysis", "Paralysis", "瘫痪", SEVERE, None),
    ("heart-valve-surgery", "Heart valve surgery", "心脏瓣膜手术", SEVERE, None),
    ("alzheimers-disease-severe", "Severe Alzheimer's disease", "严重阿尔茨海默病", SEVERE, None),
    ("brain-injury-severe", "Severe brain injury", "严重脑损伤", ACCIDENT, None),
    ("parkinsons-disease-severe", "Severe primary Parkinson's disease", "严重原发性帕金森病", SEVERE, None),
    ("third-degree-burns-severe", "Severe third-degree burns", "严重Ⅲ度烧伤", ACCIDENT, None),
    ("pulmonary-arterial-hypertension-severe", "Severe idiopathic pulmonary arterial hypertension", "严重特发性肺动脉高压", SEVERE, None),
    ("motor-neurone-disease-severe", "Severe motor neurone disease", "严重运动神经元病", SEVERE, None),
    ("loss-of-speech", "Loss of speech", "语言能力丧失", SEVERE, None),
    ("aplastic-anaemia-severe", "Severe aplastic anaemia", "重型再生障碍性贫血", SEVERE, None),
    ("aortic-surgery", "Aortic surgery", "主动脉手术", SEVERE, None),
    ("chronic-respiratory-failure-severe", "Severe chronic respiratory failure", "严重慢性呼吸衰竭", SEVERE, None),
    ("crohns-disease-severe", "Severe Crohn's disease", "严重克罗恩病", SEVERE, None),
    ("ulcerative-colitis-severe", "Severe ulcerative colitis", "严重溃疡性结肠炎", SEVERE, None),
    ("malignant-tumour-mild", "Malignant tumour, mild", "恶性肿瘤——轻度", MILD, MILD_PAYS_FEN),
    ("acute-myocardial-infarction-mild", "Mild acute myocardial infarction", "较轻急性心肌梗死", MILD, MILD_PAYS_FEN),
    ("stroke-sequelae-mild", "Sequelae of mild stroke", "轻度脑中风后遗症", MILD, MILD_PAYS_FEN),
]  # fmt: skip

THYROID_RULE_FROM = datetime.date(2019, 5, 1)
LIST_CHANGE_2020 = datetime.date(2020, 1, 1)
# In force from THYROID_RULE_FROM until LIST_CHANGE_2020.
MILD_CANCERS_2019 = [
    ("thyroid-cancer-mild", "Thyroid cancer, mild (TNM stage I)", "轻度甲状腺癌", MILD, MILD_PAYS_FEN),
    ("prostate-cancer-mild", "Prostate cancer, mild", "轻度前列腺癌", MILD, MILD_PAYS_FEN),
]  # fmt: skip
# In force from LIST_CHANGE_2020.
RARE_DISEASES_2020 = [
    ("amyotrophic-lateral-sclerosis", "Amyotrophic lateral sclerosis", "肌萎缩侧索硬化", SEVERE, None),
    ("spinal-muscular-atrophy", "Spinal muscular atrophy", "脊髓性肌萎缩症", SEVERE, None),
    ("gaucher-disease", "Gaucher disease", "戈谢病", SEVERE, None),
    ("fabry-disease", "Fabry disease", "法布雷病", SEVERE, None),
    ("pompe-disease", "Pompe disease", "糖原累积病Ⅱ型（庞贝病）", SEVERE, None),
]  # fmt: skip
SENIOR_CANCER = [STANDARD_2020[0]]


def _add(plan, rows, *, since, until=None) -> int:
    added = 0
    for code, name_en, name_zh, category, pays_fen in rows:
        _, created = Condition.objects.get_or_create(
            plan=plan,
            code=code,
            in_force_from=since,
            defaults={
                "name_en": name_en,
                "name_zh": name_zh,
                "category": category,
                "pays_fen": pays_fen,
                "in_force_until": until,
            },
        )
        added += created
    return added


@transaction.atomic
def catalogue_load_standard(*, plan: Plan, since: datetime.date, real_plan_changes: bool) -> int:
    """The standard list in force from `since`, and, for the real plan, its 2019 and 2020
    changes. Idempotent; returns how many conditions were added."""
    added = _add(plan, STANDARD_2020, since=since)
    if real_plan_changes:
        added += _add(plan, MILD_CANCERS_2019, since=THYROID_RULE_FROM, until=LIST_CHANGE_2020)
        added += _add(plan, RARE_DISEASES_2020, since=LIST_CHANGE_2020)
    return added


@transaction.atomic
def catalogue_load_senior(*, plan: Plan, since: datetime.date) -> int:
    """Cancer only: the plan for 60 to 70 year olds."""
    return _add(plan, SENIOR_CANCER, since=since)
