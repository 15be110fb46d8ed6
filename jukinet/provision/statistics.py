"""Provision statistics: records provided and queries refused per task, recipient and fiscal year.

The tables prefectures publish (seeds 000, 004: 事務ごとの利用件数) count
records provided per task in a fiscal year (年度, April to March); we add the
receiving organ and the refusals. Output as CSV and as a readable table.
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
from jukinet.provision.log import PROVIDED, REFUSED
from jukinet.storage.schema import provision_log

CSV_HEADER = ("fiscal_year", "task_id", "task_title", "recipient", "provided", "refused")

# Fiscal years a report may name.
FIRST_YEAR, LAST_YEAR = 1999, 2200


def check_fiscal_year(year: int) -> None:
    """INVALID_FIELD unless `year` is a fiscal year a report may name."""
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise invalid_field("fiscal_year", f"must be {FIRST_YEAR}..{LAST_YEAR}")


def counts(conn: Connection, catalogue: Catalogue, year: int) -> list[pb.ProvisionCount]:
    """One ProvisionCount per task and recipient with any entry in fiscal year `year`."""
    provided = func.sum(case((provision_log.c.outcome == PROVIDED, 1), else_=0))
    refused = func.sum(case((provision_log.c.outcome == REFUSED, 1), else_=0))
    rows = conn.execute(
        select(provision_log.c.task_id, provision_log.c.recipient, provided, refused)
        .where(provision_log.c.fiscal_year == year)
        .group_by(provision_log.c.task_id, provision_log.c.recipient)
        .order_by(provision_log.c.task_id, provision_log.c.recipient)
    ).all()
    return [
        pb.ProvisionCount(
            task_id=task_id,
            task_title=catalogue.tasks[task_id].title if task_id in catalogue.tasks else "",
            recipient=recipient,
            provided=int(n_provided or 0),
            refused=int(n_refused or 0),
        )
        for task_id, recipient, n_provided, n_refused in rows
    ]


def as_csv(year: int, lines: Sequence[pb.ProvisionCount]) -> str:
    """The counts as CSV (RFC 4180, header line first)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for c in lines:
        writer.writerow((year, c.task_id, c.task_title, c.recipient, c.provided, c.refused))
    return out.getvalue()


def _width(text: str) -> int:
    """Display width: East Asian wide characters take two columns."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def as_table(year: int, lines: Sequence[pb.ProvisionCount]) -> str:
    """The counts as an aligned text table with totals."""
    heading = f"{year}年度 本人確認情報の提供件数 (April {year} - March {year + 1})"
    header = ("task", "recipient", "provided", "refused", "title")
    body = [(c.task_id, c.recipient, str(c.provided), str(c.refused), c.task_title) for c in lines]
    total = (
        "total",
        "",
        str(sum(c.provided for c in lines)),
        str(sum(c.refused for c in lines)),
        "",
    )
    widths = [max(_width(r[i]) for r in (header, *body, total)) for i in range(4)]

    def render(row: tuple[str, ...]) -> str:
        cells = [_pad(row[0], widths[0]), _pad(row[1], widths[1])]
        cells += [row[2].rjust(widths[2]), row[3].rjust(widths[3]), row[4]]
        return "  ".join(cells).rstrip()

    rule = "-" * (sum(widths) + 8)
    return (
        "\n".join([heading, render(header), rule, *map(render, body), rule, render(total)]) + "\n"
    )
