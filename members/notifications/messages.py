"""A notice's subject and text, from its kind and details (rendered when it is sent and when
the API shows it, so a wording fix reaches notices already written)."""

from __future__ import annotations

from members.notifications.models import NoticeKind
from mutual.core.money import format_yuan


def render(kind: str, payload: dict) -> tuple[str, str]:
    p = payload
    if kind == NoticeKind.CLAIM:
        subject = f"Your claim #{p['claim_id']} is now {p['state']}"
        body = subject + "."
        if p.get("reason"):
            body += f"\nReason: {p['reason']}"
        return subject, body
    if kind == NoticeKind.JURY:
        return (
            f"You have been drawn for the jury of claim #{p['claim_id']}",
            f"Please read the case and vote before {p['deadline']} (Shanghai time).",
        )
    if kind == NoticeKind.DIGEST:
        cases = ", ".join(f"#{claim_id}" for claim_id in p["claim_ids"])
        return (
            f"{p['cases']} new case(s) in publicity in {p['plan']}",
            f"New in publicity on {p['date']}: {cases}. You may dispute a case while its "
            "window is open.",
        )
    if kind == NoticeKind.BILL:
        return (
            f"Your bill for {p['period']}: {format_yuan(p['charged_fen'])} yuan",
            f"Your share of the cases of {p['period']} is {format_yuan(p['charged_fen'])} yuan.",
        )
    if kind == NoticeKind.DEBIT_FAILED:
        return (
            f"We could not collect {format_yuan(p['charged_fen'])} yuan for {p['period']}",
            f"The debit failed; we will try again. If the bill is still unpaid on "
            f"{p['lapse_on']}, your membership will lapse.",
        )
    if kind == NoticeKind.LAPSE:
        return (
            f"Your membership of {p['plan']} has lapsed",
            f"Your membership of {p['plan']} lapsed: {p['reason']}.",
        )
    if kind == NoticeKind.COVER:
        whose = p.get("person") or "Your"
        whose = "Your" if whose == "Your" else f"{whose}'s"
        if p.get("moved_to"):
            return (
                f"{whose} cover moved to {p['moved_to']}",
                f"{whose} cover in {p['plan']} ended: {p['reason']}. It continues in "
                f"{p['moved_to']}, with no new waiting period.",
            )
        return (
            f"{whose} cover in {p['plan']} has ended",
            f"{whose} cover in {p['plan']} ended: {p['reason']}.",
        )
    raise ValueError(f"unknown notice kind {kind!r}")
