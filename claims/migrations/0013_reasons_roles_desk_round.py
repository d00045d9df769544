"""The claims desk's starting data: the reasons catalogue (codes with the member's text in
English and Chinese), the supervisor role, reopening for reviewers, the desk's beat round, and
each open claim's clock from its current state."""

from django.db import migrations

from mutual.core.roles import beat_entry, grant

REASONS = [
    # (code, kind, English, Chinese)
    ("not_covered_condition", "refusal", "The illness is not on the plan's list of covered conditions.", "所患疾病不在计划的保障疾病范围内。"),
    ("does_not_meet_definition", "refusal", "The diagnosis does not meet the covered condition's definition.", "诊断不符合该保障疾病的定义。"),
    ("waiting_period", "refusal", "The illness was first diagnosed in the waiting period.", "疾病在等待期内首次确诊。"),
    ("pre_existing", "refusal", "The condition existed before the patient joined.", "疾病在加入计划前已存在。"),
    ("not_covered_person", "refusal", "The patient was not covered on the day of the event.", "事件发生当日患者不在保障范围内。"),
    ("documents_not_supplied", "refusal", "The documents asked for were not supplied by the deadline.", "未在期限内提交所需材料。"),
    ("misstatement", "refusal", "The claim or the health declaration contains a misstatement.", "申请材料或健康告知存在不实陈述。"),
    ("jury_decision", "refusal", "The members' jury decided against the claim.", "会员评审团裁定不予互助。"),
    ("member_request", "withdrawal", "Withdrawn at the claimant's request.", "应申请人要求撤回。"),
    ("duplicate_claim", "withdrawal", "A duplicate of another claim.", "与其他申请重复。"),
    ("awaiting_documents", "pend", "Waiting for documents from the claimant.", "等待申请人补充材料。"),
    ("new_evidence", "reopen", "New evidence was received.", "收到新的证据。"),
    ("documents_received", "reopen", "The documents asked for arrived after the deadline.", "所需材料在期限后送达。"),
    ("decision_error", "reopen", "The earlier decision is being corrected.", "更正原决定。"),
    ("appeal_upheld", "reopen", "The claimant's appeal was upheld.", "申请人的申诉获得支持。"),
    ("workload", "reassign", "Balancing the investigators' workload.", "平衡调查员的工作量。"),
    ("overdue", "reassign", "The claim is late.", "申请已逾期。"),
    ("absence", "reassign", "The investigator is away.", "调查员不在岗。"),
    ("conflict_of_interest", "reassign", "A conflict of interest.", "存在利益冲突。"),
]  # fmt: skip

STAFF_VIEW = [
    "claims.view_claim",
    "claims.view_evidencedocument",
    "claims.view_dispute",
    "claims.view_juryseat",
    "claims.view_condition",
    "claims.view_reason",
    "claims.view_inforequest",
    "claims.view_claimassignment",
    "members.view_member",
    "members.view_membership",
    "members.view_plan",
]
GRANTS = {
    "supervisor": STAFF_VIEW
    + ["claims.assign_claim", "claims.reopen_claim", "claims.view_investigationfirm",
       "claims.view_investigator", "claims.view_clocktarget"],
    "reviewer": ["claims.reopen_claim", "claims.view_reason", "claims.view_inforequest",
                 "claims.view_claimassignment"],
    "investigator": ["claims.view_reason", "claims.view_inforequest",
                     "claims.view_claimassignment"],
    "finance": ["claims.view_investigationfirm", "claims.view_investigator"],
}  # fmt: skip

CLOCKED = {"submitted": (2, True), "investigating": (30, False), "disputed": (3, True)}


def forwards(apps, schema_editor):
    reason_model = apps.get_model("claims", "Reason")
    for code, kind, text_en, text_zh in REASONS:
        reason_model.objects.get_or_create(
            code=code, defaults={"kind": kind, "text_en": text_en, "text_zh": text_zh}
        )
    grant(apps, schema_editor, GRANTS)
    beat_entry(
        apps, name="Claims desk round", task="claims.tasks.desk_round", every=15, period="minutes"
    )
    # Every claim's clock starts from its last known move; open claims get the default due
    # time from there (a plan's own targets apply from the claim's next move).
    from claims.clock import due_after

    claim_model = apps.get_model("claims", "Claim")
    for claim in claim_model.objects.filter(state_since__isnull=True).iterator(chunk_size=2000):
        claim.state_since = (
            claim.paid_at or claim.decided_at or claim.publicity_starts_at or claim.submitted_at
        )
        if claim.state in CLOCKED:
            days, working = CLOCKED[claim.state]
            claim.due_at = due_after(claim.state_since, days=days, working=working)
        claim.save(update_fields=["state_since", "due_at"])


class Migration(migrations.Migration):
    dependencies = [
        ("claims", "0012_claims_desk"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
