"""所属点検: the self-inspection report of one node for one fiscal year.

Seed 004 describes a three-layer audit whose first layer is each office
inspecting itself; seeds 000/002 list what audits found — searches not
logged, gaps in terminal-use logs, maintenance not logged. This report puts
side by side what the node's two logs say: operator actions per operator,
provisions per client and terminal (clerk), per task and recipient,
refusals by reason (provision log and audit log), and the gaps an inspector
looks for: days with provisions but no operator on duty, and operator
actions outside working hours (weekdays 08:30–17:15 in Japan). Counts and
identities of operators, organs and clients only — no personal data.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import Connection, func, select

from jukinet.core.clock import JST
from jukinet.provision.log import PROVIDED, REFUSED
from jukinet.storage import as_utc
from jukinet.storage.schema import audit_log, provision_log

WORK_STARTS, WORK_ENDS = dt.time(8, 30), dt.time(17, 15)
_OPERATOR = "%/operator/%"


@dataclass
class Inspection:
    """The report's counts, each keyed by what it counts."""

    fiscal_year: int
    operator_actions: Counter[str] = field(default_factory=Counter)
    provisions_by_client: Counter[tuple[str, str]] = field(default_factory=Counter)
    provisions_by_task: Counter[tuple[str, str]] = field(default_factory=Counter)
    refusals: Counter[tuple[str, str]] = field(default_factory=Counter)  # (log, reason)
    unattended_days: list[dt.date] = field(default_factory=list)
    after_hours: Counter[str] = field(default_factory=Counter)  # operator -> actions


def _year_bounds(year: int) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime(year, 4, 1, tzinfo=JST)
    return start.astimezone(dt.UTC), start.replace(year=year + 1).astimezone(dt.UTC)


def _working(at: dt.datetime) -> bool:
    local = as_utc(at).astimezone(JST)
    return local.weekday() < 5 and WORK_STARTS <= local.time() < WORK_ENDS


def _days(stamps: Iterable[dt.datetime]) -> set[dt.date]:
    return {as_utc(at).astimezone(JST).date() for at in stamps}


def inspect(conn: Connection, year: int) -> Inspection:
    """The self-inspection of fiscal year `year` (April–March) from the node's logs."""
    report = Inspection(year)
    start, end = _year_bounds(year)
    in_year = (audit_log.c.at >= start, audit_log.c.at < end)
    operator_rows = conn.execute(
        select(audit_log.c.actor, audit_log.c.at).where(*in_year, audit_log.c.actor.like(_OPERATOR))
    ).all()
    for actor, at in operator_rows:
        report.operator_actions[actor] += 1
        if not _working(at):
            report.after_hours[actor] += 1
    of_year = provision_log.c.fiscal_year == year
    count = func.count()
    for caller, clerk, n in conn.execute(
        select(provision_log.c.caller, provision_log.c.operator_id, count)
        .where(of_year)
        .group_by(provision_log.c.caller, provision_log.c.operator_id)
    ):
        report.provisions_by_client[(caller, clerk)] = n
    for task, recipient, n in conn.execute(
        select(provision_log.c.task_id, provision_log.c.recipient, count)
        .where(of_year, provision_log.c.outcome == PROVIDED)
        .group_by(provision_log.c.task_id, provision_log.c.recipient)
    ):
        report.provisions_by_task[(task, recipient)] = n
    for reason, n in conn.execute(
        select(provision_log.c.reason, count)
        .where(of_year, provision_log.c.outcome == REFUSED)
        .group_by(provision_log.c.reason)
    ):
        report.refusals[("provision", reason)] = n
    for reason, n in conn.execute(
        select(audit_log.c.reason, count)
        .where(*in_year, audit_log.c.outcome == "refused")
        .group_by(audit_log.c.reason)
    ):
        report.refusals[("audit", reason)] = n
    provided_at = conn.execute(
        select(provision_log.c.at).where(of_year, provision_log.c.outcome == PROVIDED)
    ).scalars()
    on_duty = _days(at for _, at in operator_rows)
    report.unattended_days = sorted(_days(provided_at) - on_duty)
    return report


def rows(report: Inspection) -> list[tuple[str, str, str, int]]:
    """(section, what, detail, count) for every line of the report."""
    out: list[tuple[str, str, str, int]] = []
    out += [("operator actions", a, "", n) for a, n in sorted(report.operator_actions.items())]
    out += [("actions outside hours", a, "", n) for a, n in sorted(report.after_hours.items())]
    out += [
        ("provisions by client", c, t, n)
        for (c, t), n in sorted(report.provisions_by_client.items())
    ]
    out += [
        ("provisions by task", t, r, n) for (t, r), n in sorted(report.provisions_by_task.items())
    ]
    out += [("refusals", log, reason, n) for (log, reason), n in sorted(report.refusals.items())]
    out += [("days without an operator", d.isoformat(), "", 1) for d in report.unattended_days]
    return out


def as_csv(report: Inspection) -> str:
    """The report as CSV: fiscal_year,section,what,detail,count."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["fiscal_year", "section", "what", "detail", "count"])
    for line in rows(report):
        writer.writerow([report.fiscal_year, *line])
    return out.getvalue()


def as_table(report: Inspection) -> str:
    """The report as a table for people, one section after another."""
    lines = [f"所属点検 (self-inspection), fiscal year {report.fiscal_year}"]
    section = ""
    for name, what, detail, n in rows(report):
        if name != section:
            lines.append(f"\n{name}:")
            section = name
        lines.append(f"  {what:<52} {detail:<28} {n:>8}")
    if len(lines) == 1:
        lines.append("  nothing logged in that year")
    return "\n".join(lines) + "\n"
