"""所属点検: the self-inspection report counts what the two logs hold, finds the gaps an inspector
looks for, and holds no personal data."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from jukinet.core.clock import JST, ManualClock
from jukinet.provision import inspection
from jukinet.provision.log import PROVIDED, REFUSED, Entry, ProvisionLog
from jukinet.storage import open_database
from jukinet.trust.audit import AuditLog

OPERATOR = "spiffe://juki.example/operator/14/admin-a"
ORGAN = "spiffe://juki.example/organ/14/passport-centre"


def _entry(outcome: str, clerk: str, reason: str = "") -> Entry:
    return Entry(
        caller=ORGAN,
        recipient=ORGAN,
        operator_id=clerk,
        task_id="pref5-passport",
        request_id="00000000-0000-4000-8000-000000000001",
        key_kind="juminhyo_code",
        key_hash="a" * 64,
        outcome=outcome,
        subject_hash="b" * 64 if outcome == PROVIDED else "",
        reason=reason,
    )


def test_the_report_counts_each_log_and_finds_the_gaps(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'node.db'}")
    monday = dt.datetime(2026, 6, 1, 10, 0, tzinfo=JST)  # a Monday, working hours
    clock = ManualClock(monday.astimezone(dt.UTC))
    audit = AuditLog(db, clock)
    audit.append(actor=OPERATOR, action="/juki.v1.NodeAdminService/GetNodeStatus", outcome="ok")
    clock.advance(dt.timedelta(hours=10))  # 20:00 the same day: outside working hours
    audit.append(
        actor=OPERATOR, action="/juki.v1.ProvisionAdminService/DiscloseRecord", outcome="ok"
    )
    audit.append(actor=ORGAN, action="/m", outcome="refused", reason="CALLER_NOT_ADMITTED")
    with db.transaction() as conn:
        ProvisionLog.write(conn, [_entry(PROVIDED, "clerk-1"), _entry(PROVIDED, "clerk-2")], monday)
        tuesday = monday + dt.timedelta(days=1)  # provisions, and no operator on duty
        ProvisionLog.write(
            conn, [_entry(PROVIDED, "clerk-1"), _entry(REFUSED, "clerk-1", "TASK_UNKNOWN")], tuesday
        )
        ProvisionLog.write(conn, [_entry(PROVIDED, "clerk-1")], monday.replace(year=2027))
    with db.reading() as conn:
        report = inspection.inspect(conn, 2026)
    assert report.operator_actions == {OPERATOR: 2}
    assert report.after_hours == {OPERATOR: 1}
    assert report.provisions_by_client == {(ORGAN, "clerk-1"): 3, (ORGAN, "clerk-2"): 1}
    assert report.provisions_by_task == {("pref5-passport", ORGAN): 3}
    assert report.refusals == {
        ("provision", "TASK_UNKNOWN"): 1,
        ("audit", "CALLER_NOT_ADMITTED"): 1,
    }
    assert report.unattended_days == [dt.date(2026, 6, 2)]
    csv_text = inspection.as_csv(report)
    assert csv_text.splitlines()[0] == "fiscal_year,section,what,detail,count"
    assert "2026,days without an operator,2026-06-02,,1" in csv_text
    table = inspection.as_table(report)
    assert "actions outside hours" in table and "clerk-2" in table
    # Only identities, codes and counts: none of the keyed hashes, let alone a person.
    assert "a" * 64 not in csv_text + table and "b" * 64 not in csv_text + table
    with db.reading() as conn:
        assert "nothing logged" in inspection.as_table(inspection.inspect(conn, 2030))
