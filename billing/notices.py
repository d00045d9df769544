"""What billing tells members, through the notifications app: a sealed period's bill (a
plan-wide run, written per chunk of the period as it was billed) and a failed debit with the
day the membership lapses if the bill stays unpaid."""

from __future__ import annotations

import datetime

from django.utils.translation import gettext as _

from billing.models import Bill, PeriodChunk
from members.models import Membership
from mutual.core.money import format_yuan
from notifications.messages import renders
from notifications.models import NoticeKind
from notifications.services import notify, run_start, run_writer


def notify_bills_posted(*, period, now: datetime.datetime) -> None:
    """A sealed period's bills, told to each member with a charge by chunked tasks after
    commit (a plan-wide run: the event is unique, so sealing twice tells once). `now` is the
    seal's: a run stamped with an older time would look lost to sweep_notices at once."""
    run_start(
        kind=NoticeKind.BILL,
        event=f"bill:{period.pk}",
        params={"period_id": period.pk, "period": str(period)},
        now=now,
    )


def notify_debits_failed(*, period, bills, now: datetime.datetime, lapse_on: datetime.date) -> int:
    """One notice per failed attempt (the attempt number is part of the event), with the date
    the membership lapses if the bill is still unpaid (billing.debits.lapse_due_at)."""
    members = dict(
        Membership.objects.filter(pk__in=[b.membership_id for b in bills]).values_list(
            "pk", "member_id"
        )
    )
    written = 0
    for bill in bills:
        written += notify(
            member_ids=[members[bill.membership_id]],
            kind=NoticeKind.DEBIT_FAILED,
            event=f"debit:{bill.period_id}:{bill.membership_id}:{bill.debit_attempts}",
            payload={
                "period": str(period),
                "charged_fen": bill.charged_fen,
                "lapse_on": lapse_on.isoformat(),
            },
            now=now,
        )
    return written


def _bill_chunks(params: dict) -> list[tuple[int, int]]:
    """A bill run follows its period's billing chunks."""
    return list(
        PeriodChunk.objects.filter(period_id=params["period_id"])
        .order_by("index")
        .values_list("first_id", "last_id")
    )


def _bill_rows(params: dict) -> tuple[str, dict]:
    sql = (
        "SELECT ms.member_id, jsonb_build_object('period_id', %(period_id)s, "
        "'period', %(period)s::text, 'charged_fen', b.charged_fen) "
        f"FROM {Bill._meta.db_table} b JOIN members_membership ms ON ms.id = b.membership_id "
        "WHERE b.period_id = %(period_id)s AND b.membership_id BETWEEN %(lo)s AND %(hi)s "
        "AND b.charged_fen > 0"
    )
    return sql, {key: params[key] for key in ("period_id", "period", "lo", "hi")}


run_writer(NoticeKind.BILL, chunks=_bill_chunks, rows=_bill_rows)


@renders(NoticeKind.BILL)
def _bill(p: dict) -> tuple[str, str]:
    facts = {"period": p["period"], "yuan": format_yuan(p["charged_fen"])}
    return (
        _("Your bill for %(period)s: %(yuan)s yuan") % facts,
        _("Your share of the cases of %(period)s is %(yuan)s yuan.") % facts,
    )


@renders(NoticeKind.DEBIT_FAILED)
def _debit_failed(p: dict) -> tuple[str, str]:
    facts = {"period": p["period"], "yuan": format_yuan(p["charged_fen"]), "on": p["lapse_on"]}
    return (
        _("We could not collect %(yuan)s yuan for %(period)s") % facts,
        _(
            "The debit failed; we will try again. If the bill is still unpaid on %(on)s, your "
            "membership will lapse."
        )
        % facts,
    )


@renders(NoticeKind.DATA_EXPORT)
def _data_export_ready(p: dict) -> tuple[str, str]:
    return (
        _("Your data is ready"),
        _(
            "The copy of your household's data you asked for is ready. Download it in the app "
            "within %(days)s days; it is deleted after that."
        )
        % {"days": p["days"]},
    )
