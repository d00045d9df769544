"""What claims tell members, through the notifications app: each state a claim reaches (to its
claimant, or the account holder who filed it), jury duty, and the daily digest of the cases
put in publicity (a plan-wide run, written a chunk of memberships at a time)."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Min
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from claims.models import AppealStatus, Claim, ClaimState, EvidenceKind
from members.models import Membership
from mutual.core.timezones import local_date
from notifications.messages import renders
from notifications.models import NoticeKind
from notifications.services import notify, run_start, run_writer


def notify_claim_moved(*, claim, now: datetime.datetime, reason: str = "") -> int:
    """The claimant is told each state change of their claim, once per state reached (the
    event is the idempotency key); a rejection carries its reason. Call it right after the
    transition, with the transition's `now` and `reason`."""
    state = str(claim.state)
    payload = {"claim_id": claim.pk, "state": state}
    if state == "rejected" and reason:
        payload["reason"] = reason
    if state in ("rejected", "withdrawn", "investigating") and claim.reason_id is not None:
        # The catalogue's words, in both languages: what the member reads about the decision.
        payload["reason_code"] = claim.reason.code
        payload["reason_en"] = claim.reason.text_en
        payload["reason_zh"] = claim.reason.text_zh
    # A reopened claim reaches its states again: each round is told afresh.
    round_tag = f":r{claim.reopened}" if claim.reopened else ""
    return notify(
        member_ids=[claim.membership.member_id],
        kind=NoticeKind.CLAIM,
        event=f"claim:{claim.pk}:{state}{round_tag}",
        payload=payload,
        now=now,
    )


def notify_jury_drawn(*, claim, member_ids: list[int], now: datetime.datetime) -> int:
    """Jurors are told which claim and by when to vote: the plan's publicity window again,
    counted from the draw (the jury has no deadline of its own)."""
    deadline = timezone.localtime(now + datetime.timedelta(days=claim.plan.publicity_days))
    return notify(
        member_ids=member_ids,
        kind=NoticeKind.JURY,
        event=f"jury:{claim.pk}",
        payload={"claim_id": claim.pk, "deadline": f"{deadline:%Y-%m-%d %H:%M}"},
        now=now,
    )


def digest_start(*, now: datetime.datetime) -> list[str]:
    """Once a day: for each plan with cases publicized in the last day, one digest run (a
    notice to every active member of the plan). Idempotent per plan and local date."""
    since = now - datetime.timedelta(days=1)
    by_plan: dict[int, list[int]] = {}
    names: dict[int, str] = {}
    for claim_id, plan_id, plan_name in (
        Claim.objects.filter(publicity_starts_at__gte=since, publicity_starts_at__lt=now)
        .order_by("publicity_starts_at", "pk")
        .values_list("pk", "plan_id", "plan__name")
    ):
        by_plan.setdefault(plan_id, []).append(claim_id)
        names[plan_id] = plan_name
    events = []
    day = local_date(now).isoformat()
    with transaction.atomic():
        for plan_id, claim_ids in by_plan.items():
            event = f"digest:{plan_id}:{day}"
            params = {
                "plan_id": plan_id,
                "plan": names[plan_id],
                "date": day,
                "cases": len(claim_ids),
                "claim_ids": claim_ids[:50],
            }
            run_start(kind=NoticeKind.DIGEST, event=event, params=params, now=now)
            events.append(event)
    return events


def _digest_chunks(params: dict) -> list[tuple[int, int]]:
    """The plan's membership ids, cut every APPORTION_CHUNK_IDS."""
    bounds = Membership.objects.filter(plan_id=params["plan_id"]).aggregate(
        low=Min("pk"), high=Max("pk")
    )
    if bounds["low"] is None:
        return []
    step = settings.APPORTION_CHUNK_IDS
    return [
        (low, min(low + step - 1, bounds["high"]))
        for low in range(bounds["low"], bounds["high"] + 1, step)
    ]


def _digest_rows(params: dict) -> tuple[str, dict]:
    import json

    sql = (
        "SELECT ms.member_id, %(payload)s::jsonb FROM members_membership ms "
        "WHERE ms.plan_id = %(plan_id)s AND ms.status = 'active' "
        "AND ms.id BETWEEN %(lo)s AND %(hi)s"
    )
    payload = {k: v for k, v in params.items() if k not in ("lo", "hi")}
    return sql, {
        "payload": json.dumps(payload),
        "plan_id": params["plan_id"],
        "lo": params["lo"],
        "hi": params["hi"],
    }


run_writer(NoticeKind.DIGEST, chunks=_digest_chunks, rows=_digest_rows)


def notify_info_request(*, request, event: str, now: datetime.datetime) -> int:
    """The claimant is told of a request for documents when it is made ("made") and again
    before its deadline ("reminder"): a claim notice (the member's "my claims" choice)."""
    deadline = timezone.localtime(request.deadline)
    return notify(
        member_ids=[request.claim.membership.member_id],
        kind=NoticeKind.CLAIM,
        event=f"request:{request.pk}:{event}",
        payload={
            "claim_id": request.claim_id,
            "request_id": request.pk,
            "documents": list(request.documents),
            "deadline": f"{deadline:%Y-%m-%d %H:%M}",
            "reminder": event == "reminder",
        },
        now=now,
    )


def notify_appeal_decided(*, appeal, now: datetime.datetime) -> int:
    """The claimant is told the outcome of their appeal, with the reviewer's note."""
    return notify(
        member_ids=[appeal.claim.membership.member_id],
        kind=NoticeKind.CLAIM,
        event=f"appeal:{appeal.pk}:{appeal.status}",
        payload={
            "claim_id": appeal.claim_id,
            "appeal_id": appeal.pk,
            "status": str(appeal.status),
            "note": appeal.note,
        },
        now=now,
    )


# The renderers speak the active language (the API's request's, or the sender's): the words
# are the catalogue's, the facts the payload's.


def _appeal(p: dict) -> tuple[str, str]:
    upheld = p["status"] == "upheld"
    outcome = (
        _("upheld: the claim is investigated again")
        if upheld
        else _("dismissed: the refusal stands")
    )
    body = _("Your appeal against the refusal of claim #%(claim)s was %(outcome)s.") % {
        "claim": p["claim_id"], "outcome": outcome,
    }  # fmt: skip
    if p.get("note"):
        body += f"\n{p['note']}"
    status = AppealStatus(p["status"]).label if p["status"] in AppealStatus.values else p["status"]
    subject = _("Your appeal on claim #%(claim)s: %(status)s") % {
        "claim": p["claim_id"], "status": status,
    }  # fmt: skip
    return subject, body


def _request(p: dict) -> tuple[str, str]:
    names = dict(EvidenceKind.choices)
    documents = ", ".join(str(names.get(d, d.replace("_", " "))) for d in p["documents"])
    facts = {"claim": p["claim_id"], "deadline": p["deadline"], "request": p["request_id"],
             "documents": documents}  # fmt: skip
    subject = _("Claim #%(claim)s: documents needed by %(deadline)s (Shanghai time)") % facts
    if p.get("reminder"):
        subject = _("Reminder: %(subject)s") % {"subject": subject}
    body = (
        _(
            "To go on with claim #%(claim)s the investigator needs: %(documents)s. Upload them "
            "against request %(request)s before %(deadline)s (Shanghai time); without them the "
            "claim is closed."
        )
        % facts
    )
    return subject, body


@renders(NoticeKind.CLAIM)
def _claim(p: dict) -> tuple[str, str]:
    if "request_id" in p:
        return _request(p)
    if "appeal_id" in p:
        return _appeal(p)
    state = ClaimState(p["state"]).label if p["state"] in ClaimState.values else p["state"]
    subject = _("Your claim #%(claim)s is now %(state)s") % {"claim": p["claim_id"], "state": state}
    body = subject + "."
    if p.get("reason_en"):
        chinese = (get_language() or "").startswith("zh")
        body += f"\n{p['reason_zh'] if chinese else p['reason_en']}"
    if p.get("reason"):
        body += "\n" + _("Reason: %(reason)s") % {"reason": p["reason"]}
    return subject, body


@renders(NoticeKind.JURY)
def _jury(p: dict) -> tuple[str, str]:
    return (
        _("You have been drawn for the jury of claim #%(claim)s") % {"claim": p["claim_id"]},
        _("Please read the case and vote before %(deadline)s (Shanghai time).")
        % {"deadline": p["deadline"]},
    )


@renders(NoticeKind.DIGEST)
def _digest(p: dict) -> tuple[str, str]:
    cases = ", ".join(f"#{claim_id}" for claim_id in p["claim_ids"])
    return (
        _("%(count)s new case(s) in publicity in %(plan)s")
        % {"count": p["cases"], "plan": p["plan"]},
        _(
            "New in publicity on %(date)s: %(cases)s. You may dispute a case while its window "
            "is open."
        )
        % {"date": p["date"], "cases": cases},
    )
