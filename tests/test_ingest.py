from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from auditor.ingest import ingest_folder
from auditor.models import Channel, Party, Speaker
from auditor.store import Store

from .conftest import MANIFEST_HEADER, write_silence_wav


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_manifest_in_each_export_encoding_is_read_with_its_chinese_intact(
    store: Store, call_folder, encoding: str
) -> None:
    folder = call_folder(n=2, encoding=encoding)
    summary = ingest_folder(store, folder, run_id=None)
    assert summary.failures == []
    contacts = store.contacts()
    assert [c.collector_id for c in contacts] == ["张伟1", "张伟0"]
    assert contacts[0].started_at == datetime(2026, 11, 16, 1, 1, tzinfo=UTC)
    assert contacts[0].timezone == "Asia/Shanghai"
    assert contacts[0].party_reached is Party.DEBTOR


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_message_log_in_each_encoding_becomes_contacts_with_their_text(
    store: Store, tmp_path: Path, encoding: str
) -> None:
    folder = tmp_path / "msgs"
    folder.mkdir()
    text = (
        "time,collector_id,account_id,channel,party,text\n"
        "2026-11-16T09:30:00+08:00,w1,A1,sms,debtor,【某银行】您尾号1234的信用卡已逾期，请尽快还款\n"
        '2026-11-16T23:10:00+08:00,w1,A1,app,third_party,"请转告张伟，他欠我们五万，再不还就起诉"\n'
    )
    (folder / "messages.csv").write_bytes(text.encode(encoding))
    summary = ingest_folder(store, folder, run_id=None)
    assert summary.messages_added == 2 and summary.failures == []
    contacts = store.contacts()
    assert [c.channel for c in contacts] == [Channel.SMS, Channel.APP]
    assert contacts[0].timezone == "Etc/GMT-8"  # derived from the +08:00 offset
    segments = store.segments(contacts[1].id)
    assert segments[0].text == "请转告张伟，他欠我们五万，再不还就起诉"
    assert segments[0].speaker is Speaker.COLLECTOR
    # A message's text is its transcript: it is marked transcribed at ingest.
    assert store.stage_version(contacts[1].id, "transcribe") == "text"


def test_jsonl_manifest_is_read_like_csv(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "calls"
    write_silence_wav(folder / "a.wav")
    (folder / "manifest.jsonl").write_text(
        '{"file": "a.wav", "call_id": "c1", "collector_id": "w1", "account_id": "A1", '
        '"start_time": "2026-11-16T21:30:00", "timezone": "America/Chicago", "language": "en"}\n'
        "{not json\n",
        encoding="utf-8",
    )
    summary = ingest_folder(store, folder, run_id=None)
    (contact,) = store.contacts()
    assert contact.started_at == datetime(2026, 11, 17, 3, 30, tzinfo=UTC)
    assert contact.language == "en"
    assert len(summary.failures) == 1 and "manifest.jsonl:2: not valid JSON" in summary.failures[0]


def test_ingesting_the_same_folder_twice_adds_nothing(store: Store, call_folder) -> None:
    folder = call_folder(n=3)
    first = ingest_folder(store, folder, run_id=None)
    second = ingest_folder(store, folder, run_id=None)
    assert (first.contacts_added, second.contacts_added, second.contacts_known) == (3, 0, 3)
    assert store.count("contact") == 3
    assert store.count("source_file") == 3


def test_a_changed_recording_becomes_a_new_current_version(store: Store, call_folder) -> None:
    folder = call_folder(n=2)
    ingest_folder(store, folder, run_id=None)
    write_silence_wav(folder / "audio" / "c001.wav", seconds=2.0)
    summary = ingest_folder(store, folder, run_id=None)
    assert (summary.contacts_added, summary.contacts_known) == (1, 1)
    assert store.count("contact") == 3  # the old version stays for the audit trail
    current = {c.external_id: c.version for c in store.contacts()}
    assert current == {"c001": 2, "c002": 1}


def test_each_bad_row_is_reported_by_line_and_the_rest_is_ingested(
    store: Store, call_folder
) -> None:
    bad = (
        "audio/missing.wav,c101,w1,team_a,A1,2026-11-16T09:00:00+08:00,Asia/Shanghai,debtor\n"
        "audio/c001.wav,c102,w1,team_a,A1,yesterday,Asia/Shanghai,debtor\n"
        "../outside.wav,c103,w1,team_a,A1,2026-11-16T09:00:00+08:00,Asia/Shanghai,debtor\n"
        "audio/c001.wav,c104,w1,team_a,A1,2026-11-16T09:00:00,Mars/Olympus,debtor\n"
        "audio/c001.wav,c105,w1,team_a,A1,2026-11-16T09:00:00,,debtor\n"
        "audio/c001.wav,c001,w1,team_a,A1,2026-11-16T09:00:00+08:00,Asia/Shanghai,debtor\n"
    )
    folder = call_folder(n=2, extra_rows=bad)
    (folder.parent / "outside.wav").write_bytes(b"RIFF")
    run_id = store.begin_run("ingest")
    summary = ingest_folder(store, folder, run_id=run_id)
    assert summary.contacts_added == 2
    messages = "\n".join(summary.failures)
    assert "manifest.csv:4: recording 'audio/missing.wav' not found" in messages
    assert "manifest.csv:5: time 'yesterday' is not ISO 8601" in messages
    assert "manifest.csv:6: '../outside.wav' is outside the folder" in messages
    assert "manifest.csv:7: unknown time zone 'Mars/Olympus'" in messages
    assert "manifest.csv:8: time '2026-11-16T09:00:00' has no UTC offset" in messages
    assert "manifest.csv:9: call_id 'c001' repeats line 2" in messages
    stored = store.failures(run_id=run_id)
    assert [f.line for f in stored] == [4, 5, 6, 7, 8, 9]
    assert {f.stage for f in stored} == {"ingest"}


def test_unknown_column_is_reported_and_the_rows_still_ingested(store: Store, call_folder) -> None:
    folder = call_folder(n=1)
    manifest = folder / "manifest.csv"
    lines = manifest.read_text(encoding="utf-8").splitlines()
    lines[0] += ",colour"
    lines[1] += ",blue"
    manifest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    summary = ingest_folder(store, folder, run_id=None)
    assert summary.contacts_added == 1
    assert "unknown column 'colour' ignored" in summary.failures[0]


def test_missing_required_column_names_it(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "calls"
    write_silence_wav(folder / "a.wav")
    (folder / "manifest.csv").write_text(
        "file,call_id,collecter_id,account_id,start_time\n"
        "a.wav,c1,w1,A1,2026-11-16T09:00:00+08:00\n",
        encoding="utf-8",
    )
    summary = ingest_folder(store, folder, run_id=None)
    assert store.count("contact") == 0
    joined = "\n".join(summary.failures)
    assert "unknown column 'collecter_id'" in joined
    assert "missing required column(s): collector_id" in joined


def test_undecodable_manifest_names_file_and_line(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "calls"
    folder.mkdir()
    # Valid UTF-8 header, then bytes that are neither UTF-8 nor GB18030 on line 2.
    (folder / "manifest.csv").write_bytes(
        MANIFEST_HEADER.encode() + b"a.wav,c1,\x80\x80\xff\xff\xfe\x81,t,A1,x,y,z\n"
    )
    summary = ingest_folder(store, folder, run_id=None)
    assert len(summary.failures) == 1
    assert "manifest.csv:2: not valid UTF-8 or GB18030" in summary.failures[0]


def test_empty_folder_is_a_recorded_failure(store: Store, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    run_id = store.begin_run("ingest")
    summary = ingest_folder(store, tmp_path / "empty", run_id=run_id)
    assert "nothing to audit" in summary.failures[0]
    assert store.failures(run_id=run_id)[0].stage == "ingest"


def test_recordings_without_manifest_are_ingested_with_unknown_metadata(
    store: Store, tmp_path: Path
) -> None:
    write_silence_wav(tmp_path / "calls" / "x" / "one.wav")
    summary = ingest_folder(store, tmp_path / "calls", run_id=None)
    (contact,) = store.contacts()
    assert summary.contacts_added == 1
    assert (contact.external_id, contact.collector_id, contact.timezone) == ("x/one", "unknown", "")


def test_spreadsheet_binary_saved_as_csv_is_refused_clearly(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "calls"
    folder.mkdir()
    (folder / "manifest.csv").write_bytes(b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00")
    summary = ingest_folder(store, folder, run_id=None)
    assert "manifest.csv: a binary file, not text" in summary.failures[0]


def test_windows_1252_export_is_decoded(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "calls"
    write_silence_wav(folder / "a.wav")
    text = (
        MANIFEST_HEADER
        + "a.wav,c1,Renée Müller,team_us,A1,2026-11-16T09:00:00-05:00,America/New_York,debtor\n"
    )
    (folder / "manifest.csv").write_bytes(text.encode("cp1252"))
    summary = ingest_folder(store, folder, run_id=None)
    assert summary.failures == []
    assert store.contacts()[0].collector_id == "Renée Müller"


def test_a_missing_folder_is_a_recorded_failure_naming_it(store: Store, tmp_path: Path) -> None:
    summary = ingest_folder(store, tmp_path / "nope", run_id=None)
    assert summary.failures == [f"{tmp_path / 'nope'}: no such folder"]
