"""The functions cli.py calls for `report`, `export` and `verify`."""

from __future__ import annotations

import json
from pathlib import Path

from auditor.report.commands import export_command, report_command, rule_files_for, verify_command
from auditor.store import open_store

from .report_support import build_store


def test_report_export_and_verify_commands_round_trip(tmp_path: Path) -> None:
    store = open_store(tmp_path / "db" / "auditor.db")
    build_store(store, tmp_path / "calls" / "audio")
    pack = tmp_path / "myrules" / "cn"
    (pack / "threat").mkdir(parents=True)
    (pack / "pack.yaml").write_text("name: cn\n", "utf-8")
    (pack / "threat" / "CN-THREAT-004.yaml").write_text("id: CN-THREAT-004\n", "utf-8")

    report = report_command(store, tmp_path / "out", week="2026-W47", lang="en")
    assert report.weekly_path == tmp_path / "out" / "reports" / "2026-W47" / "weekly.html"
    assert "Collection compliance weekly report" in report.weekly_path.read_text("utf-8")
    assert "18 contacts, 7 counted findings" in report.describe()

    bundle = tmp_path / "out" / "export-w47"
    exported = export_command(store, bundle, "2026-11-16", "2026-11-22", zip=True, rules=pack)
    manifest = json.loads((bundle / "MANIFEST.json").read_text("utf-8"))
    assert "rules/cn/threat/CN-THREAT-004.yaml" in manifest["files"]
    assert manifest["settings"]["rules"] == str(pack)
    assert exported.zip_path == tmp_path / "out" / "export-w47.zip"

    assert verify_command(exported.zip_path).ok
    (bundle / "contacts.csv").write_bytes(b"tampered")
    result = verify_command(bundle)
    assert not result.ok and "changed: contacts.csv" in result.describe()


def test_no_rules_option_means_the_shipped_packs(tmp_path: Path) -> None:
    assert rule_files_for(None) is None
    (tmp_path / "a.yaml").write_text("id: X\n", "utf-8")
    assert rule_files_for(tmp_path) == [tmp_path / "a.yaml"]
