"""Provision statistics: records provided and queries refused per task, recipient and fiscal year.

The tables prefectures publish (seeds 000, 004: 事務ごとの利用件数) count
records provided per task in a fiscal year (年度, April to March); we add the
receiving organ and the refusals. What the national server answered for a query a prefecture
server passed on (別表第3) is counted apart, not as the prefecture's own 別表第5 use, and each
line names its table, so 法令事務 and 条例事務 are told apart. Output as CSV and as a readable
table.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Sequence

from sqlalchemy import Connection, case, func, select

from juki.v1 import provision_service_pb2 as pb
from jukinet.core.errors import invalid_field
from jukinet.provision.catalogue import Catalogue
from jukinet.provision.log import ANSWERED_BY_NATIONAL, PROVIDED, REFUSED
from jukinet.storage.schema import provision_log

CSV_HEADER = (
    "fiscal_year",
    "task_id",
    "task_title",
    "table",
    "recipient",
    "provided",
    "provided_by_national",
    "refused",
)

# Fiscal years a report may name.
FIRST_YEAR, LAST_YEAR = 1999, 2200


def check_fiscal_year(year: int) -> None:
    """INVALID_FIELD unless `year` is a fiscal year a report may name."""
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise invalid_field("fiscal_year", f"must be {FIRST_YEAR}..{LAST_YEAR}")


def counts(conn: Connection, catalogue: Catalogue, year: int) -> list[pb.ProvisionCount]:
    """One ProvisionCount per task and recipient with any entry in fiscal year `year`."""
    log = provision_log.c
    given = log.outcome == PROVIDED
    by_national = log.reason == ANSWERED_BY_NATIONAL
    provided = func.sum(case((given & ~by_national, 1), else_=0))
    from_national = func.sum(case((given & by_national, 1), else_=0))
    refused = func.sum(case((log.outcome == REFUSED, 1), else_=0))
    rows = conn.execute(
        select(log.task_id, log.recipient, provided, from_national, refused)
        .where(log.fiscal_year == year)
        .group_by(log.task_id, log.recipient)
        .order_by(log.task_id, log.recipient)
    ).all()
    lines = []
    for task_id, recipient, n_provided, n_national, n_refused in rows:
        task = catalogue.tasks.get(task_id)
        lines.append(
            pb.ProvisionCount(
                task_id=task_id,
                task_title="" if task is None else task.title,
                table="" if task is None else task.table,
                recipient=recipient,
                provided=int(n_provided or 0),
                provided_by_national=int(n_national or 0),
                refused=int(n_refused or 0),
            )
        )
    return lines


def as_csv(year: int, lines: Sequence[pb.ProvisionCount]) -> str:
    """The counts as CSV (RFC 4180, header line first)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for c in lines:
        writer.writerow(
            (
                year,
                c.task_id,
                c.task_title,
                c.table,
                c.recipient,
                c.provided,
                c.provided_by_national,
                c.refused,
            )
        )
    return out.getvalue()


# How the table column names a task's table: 法令事務 by its 別表, or 条例事務.
_TABLES = {**{t: f"別表第{t}" for t in "123456"}, "ordinance": "条例"}


def _width(text: str) -> int:
    """Display width: East Asian wide characters take two columns."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def as_table(year: int, lines: Sequence[pb.ProvisionCount]) -> str:
    """The counts as an aligned text table with totals."""
    heading = f"{year}年度 本人確認情報の提供件数 (April {year} - March {year + 1})"
    header = ("task", "recipient", "provided", "by national", "refused", "table", "title")

    def numbers(c: pb.ProvisionCount) -> tuple[str, str, str]:
        return str(c.provided), str(c.provided_by_national), str(c.refused)

    body = [
        (c.task_id, c.recipient, *numbers(c), _TABLES.get(c.table, ""), c.task_title) for c in lines
    ]
    total = (
        "total",
        "",
        str(sum(c.provided for c in lines)),
        str(sum(c.provided_by_national for c in lines)),
        str(sum(c.refused for c in lines)),
        "",
        "",
    )
    widths = [max(_width(r[i]) for r in (header, *body, total)) for i in range(6)]

    def render(row: tuple[str, ...]) -> str:
        cells = [_pad(row[0], widths[0]), _pad(row[1], widths[1])]
        cells += [row[i].rjust(widths[i]) for i in (2, 3, 4)]
        cells += [_pad(row[5], widths[5]), row[6]]
        return "  ".join(cells).rstrip()

    rule = "-" * (sum(widths) + 12)
    return (
        "\n".join([heading, render(header), rule, *map(render, body), rule, render(total)]) + "\n"
    )
