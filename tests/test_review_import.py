from __future__ import annotations

import csv
import io
import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from auditor.errors import ManifestError, ReviewError
from auditor.models import Decision
from auditor.review import latest_decisions
from auditor.review.commands import review_export_queue, review_import
from auditor.review.spreadsheet import export_queue, import_decisions
from auditor.store import Store

from .conftest import REPO
from .test_review_fixtures import ID_NUMBER, fake_mask, masked, sample_store, sqlite_store

__all__ = ["masked", "sqlite_store"]


def write_csv(path: Path, rows: list[list[str]], encoding: str = "utf-8") -> Path:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def test_exported_queue_filled_in_comes_back_as_decisions(store: Store, tmp_path: Path) -> None:
    sample = sample_store(store, tmp_path)
    sheet = tmp_path / "queue.csv"
    assert export_queue(store, sheet, mask=fake_mask) == 5
    data = sheet.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")  # BOM: Excel and WPS read the Chinese correctly
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert [r["rule_id"] for r in rows][:2] == ["US-THREAT-002", "CN-THREAT-004"]
    assert ID_NUMBER not in data.decode("utf-8-sig")
    assert "【发到你所有联系人】" in rows[1]["context"]

    # The reviewer fills in two rows, as a spreadsheet program would save them.
    rows[0].update(decision="confirmed", reviewer="王芳")
    rows[1].update(decision="dismissed", reason="催收员在复述客户的话", reviewer="")
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    sheet.write_bytes(out.getvalue().encode("utf-8-sig"))

    summary = import_decisions(store, sheet, reviewer="kim")
    assert (summary.imported, summary.undecided, summary.errors) == (2, 3, [])
    assert latest_decisions(store) == {
        sample.findings["US-THREAT-002"]: Decision.CONFIRMED,
        sample.findings["CN-THREAT-004"]: Decision.DISMISSED,
    }
    by_finding = {h["finding_id"]: h for h in store.review_history()}
    assert by_finding[sample.findings["US-THREAT-002"]]["reviewer"] == "王芳"
    assert by_finding[sample.findings["CN-THREAT-004"]]["reviewer"] == "kim"  # blank → default
    assert by_finding[sample.findings["CN-THREAT-004"]]["reason"] == "催收员在复述客户的话"
    # decided findings leave the open queue
    assert export_queue(store, sheet, mask=fake_mask) == 3


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_decisions_are_read_in_each_spreadsheet_encoding(
    store: Store, tmp_path: Path, encoding: str
) -> None:
    sample = sample_store(store, tmp_path)
    fid = sample.findings["CN-THREAT-004"]
    sheet = write_csv(
        tmp_path / "d.csv",
        [
            ["Finding_ID", "Decision", "Reason", "Reviewer"],
            [str(fid), "驳回", "复述客户原话", "李娜"],
        ],
        encoding,
    )
    summary = import_decisions(store, sheet)
    assert summary.errors == [] and summary.imported == 1
    (row,) = store.review_history(fid)
    assert (row["decision"], row["reason"], row["reviewer"]) == (
        "dismissed",
        "复述客户原话",
        "李娜",
    )


def test_each_bad_row_is_reported_by_line_and_the_rest_imported(
    store: Store, tmp_path: Path
) -> None:
    sample = sample_store(store, tmp_path)
    threat, insult = sample.findings["CN-THREAT-004"], sample.findings["CN-INSULT-001"]
    sheet = write_csv(
        tmp_path / "d.csv",
        [
            ["finding_id", "decision", "reason", "reviewer"],
            [str(threat), "confirmed", "", "kim"],  # line 2: good
            ["9999", "confirmed", "", "kim"],  # line 3: unknown finding
            [str(insult), "maybe", "", "kim"],  # line 4: not a decision
            [str(insult), "dismissed", "  ", "kim"],  # line 5: dismissal without a reason
            ["abc", "confirmed", "", "kim"],  # line 6: not a number
            [str(insult), "", "", ""],  # line 7: left blank: undecided, not an error
            [str(insult), "dismiss", "客户本人", "kim"],  # line 8: good
            [str(threat), "confirmed", "", "kim", "extra"],  # line 9: too many cells
        ],
    )
    summary = import_decisions(store, sheet, reviewer="kim")
    assert summary.errors == [
        f"{sheet}:3: no finding with id 9999 in the store",
        f"{sheet}:4: decision 'maybe' is neither confirmed nor dismissed",
        f"{sheet}:5: finding {insult}: a dismissal needs a reason (why is it not a violation?)",
        f"{sheet}:6: finding_id 'abc' is not a finding number",
        f"{sheet}:9: 5 cells but the header has 4 columns",
    ]
    assert (summary.imported, summary.undecided) == (2, 1)
    assert latest_decisions(store) == {threat: Decision.CONFIRMED, insult: Decision.DISMISSED}
    lines = summary.describe()
    assert (
        lines[-1]
        == f"{sheet}: 2 decision(s) imported, 1 row(s) left undecided, 5 bad row(s) skipped"
    )


def test_a_file_without_the_decision_columns_is_refused_whole(store: Store, tmp_path: Path) -> None:
    sample_store(store, tmp_path)
    sheet = write_csv(tmp_path / "d.csv", [["id", "verdict"], ["1", "confirmed"]])
    with pytest.raises(ReviewError, match=r"d\.csv:1: missing column\(s\) finding_id, decision"):
        import_decisions(store, sheet)
    with pytest.raises(ManifestError, match="cannot read"):
        import_decisions(store, tmp_path / "absent.csv")
    assert store.review_history() == []


def test_a_failure_in_the_middle_of_an_import_leaves_nothing_written(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sample = sample_store(store, tmp_path)
    sheet = write_csv(
        tmp_path / "d.csv",
        [["finding_id", "decision", "reason", "reviewer"]]
        + [[str(fid), "confirmed", "", "kim"] for fid in sample.findings.values()],
    )
    import auditor.review.spreadsheet as spreadsheet

    real = spreadsheet.insert_decision
    written = []

    def failing_fourth(conn, request, decided_at):
        if len(written) == 3:
            raise OSError("disk I/O error")
        written.append(real(conn, request, decided_at))
        return written[-1]

    monkeypatch.setattr(spreadsheet, "insert_decision", failing_fourth)
    with pytest.raises(OSError):
        import_decisions(store, sheet)
    assert len(written) == 3  # three rows were inserted inside the transaction...
    assert store.review_history() == []  # ...and rolled back with it


KILLED_IMPORT = """
import sys, time
from pathlib import Path
import auditor.review.spreadsheet as spreadsheet
from auditor.store import open_store

db, sheet, signal_file = sys.argv[1:4]
real = spreadsheet.insert_decision
count = 0

def slow(conn, request, decided_at):
    global count
    count += 1
    review_id = real(conn, request, decided_at)
    if count == 50:
        Path(signal_file).write_text(str(review_id))  # 50 rows written, not committed
        time.sleep(120)
    return review_id

spreadsheet.insert_decision = slow
spreadsheet.import_decisions(open_store(db), Path(sheet), reviewer="kim")
"""


def test_an_import_killed_midway_leaves_nothing_written(
    sqlite_store: Store, tmp_path: Path
) -> None:
    store = sqlite_store
    sample = sample_store(store, tmp_path)
    ids = list(sample.findings.values())
    rows = [[str(ids[i % len(ids)]), "confirmed", "", "kim"] for i in range(200)]
    sheet = write_csv(tmp_path / "d.csv", [["finding_id", "decision", "reason", "reviewer"], *rows])
    signal_file = tmp_path / "inside-transaction"
    db = str(store.engine.url.database)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_IMPORT, db, str(sheet), str(signal_file)], env=env
    )
    try:
        deadline = time.monotonic() + 60
        while not signal_file.exists():
            assert child.poll() is None, "the import process ended before it was killed"
            assert time.monotonic() < deadline, "the import never reached its 50th row"
            time.sleep(0.05)
        assert int(signal_file.read_text()) >= 1
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL

    assert store.review_history() == []
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # The lock died with the process: the same import, run again, goes through whole.
    summary = import_decisions(store, sheet)
    assert summary.imported == 200 and summary.errors == []


def test_export_guards_cells_that_spreadsheets_would_run_as_formulas(
    store: Store, tmp_path: Path
) -> None:
    sample = sample_store(store, tmp_path)
    c1 = sample.contacts["c001"]
    segments = store.segments(c1)
    text = '=HYPERLINK("http://x")你就是个骗子'
    segments[4].text = text
    store.save_segments(c1, segments, "t2", None)
    at = text.index("骗子")
    findings = [
        replace(s.finding, span=(at, at + 2)) if s.finding.rule_id == "CN-INSULT-001" else s.finding
        for s in store.findings(contact_id=c1)
    ]
    store.save_findings(c1, findings, "scan", "rs2", None)
    sheet = tmp_path / "q.csv"
    export_queue(store, sheet, category="insult", mask=fake_mask)
    (row,) = csv.DictReader(io.StringIO(sheet.read_text(encoding="utf-8-sig")))
    assert row["context"].startswith("'=HYPERLINK")
    assert "【骗子】" in row["context"]


def test_export_and_import_commands_say_what_they_did(
    store: Store, tmp_path: Path, masked: None
) -> None:
    sample = sample_store(store, tmp_path)
    sheet = tmp_path / "out" / "queue.csv"
    (line,) = review_export_queue(store, sheet, min_severity="high")
    assert line.startswith(f"{sheet}: 3 open finding(s).")
    rows = list(csv.DictReader(io.StringIO(sheet.read_text(encoding="utf-8-sig"))))
    assert {r["finding_id"] for r in rows} == {
        str(sample.findings[r]) for r in ("US-THREAT-002", "CN-THREAT-004", "CN-PRIVACY-002")
    }
    summary = review_import(store, sheet, reviewer="kim")
    assert summary.describe() == [
        f"{sheet}: 0 decision(s) imported, 3 row(s) left undecided, 0 bad row(s) skipped"
    ]
    assert store.runs()[-1]["command"] == "review import" and store.runs()[-1]["status"] == "ok"


def test_import_command_records_each_bad_row_as_a_failure_of_its_run(
    store: Store, tmp_path: Path
) -> None:
    sample = sample_store(store, tmp_path)
    sheet = write_csv(
        tmp_path / "d.csv",
        [
            ["finding_id", "decision", "reason", "reviewer"],
            ["4242", "confirmed", "", "kim"],
            [str(sample.findings["CN-THREAT-004"]), "confirmed", "", "kim"],
            [str(sample.findings["CN-INSULT-001"]), "dismissed", "", "kim"],
        ],
    )
    summary = review_import(store, sheet)
    assert summary.imported == 1
    run = store.runs()[-1]
    assert (run["command"], run["status"]) == ("review import", "partial")
    failures = store.failures(run["id"])
    assert [(f.path, f.line, f.stage) for f in failures] == [
        (str(sheet), 2, "review"),
        (str(sheet), 4, "review"),
    ]
    assert failures[0].error == summary.errors[0]
