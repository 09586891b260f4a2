"""The regulator's export bundle: content, masking, determinism and tamper detection."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from pathlib import Path

import pytest

from auditor.errors import ExportError
from auditor.export import export_bundle, verify_bundle
from auditor.store import open_store

from .report_support import CARD_NUMBER, ID_NUMBER, MOBILE, SCRIPT_TEXT, build_store

ID_RE = re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)")
CARD_RE = re.compile(r"(?<!\d)\d{16,19}(?!\d)")
MOBILE_RE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
HEX_RE = re.compile(r"[0-9a-f]{64}")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("export")
    store = open_store(root / "db" / "auditor.db")
    result = build_store(store, root / "calls" / "audio")
    rules = root / "rules" / "cn"
    (rules / "threat").mkdir(parents=True)
    (rules / "pack.yaml").write_text("name: cn\nlanguage: zh\ntimezone: Asia/Shanghai\n", "utf-8")
    (rules / "threat" / "CN-THREAT-004.yaml").write_text(
        "id: CN-THREAT-004\ntitle: 以曝光通讯录相威胁\n", "utf-8"
    )
    return store, result, root, sorted(rules.rglob("*.yaml"))


def _export(built, out: Path, **options):
    store, _, _, rule_files = built
    return export_bundle(
        store,
        out,
        "2026-11-16",
        "2026-11-22",
        ruleset_files=rule_files,
        settings={"rules": "cn", "weekly_cap": None},
        **options,
    )


def _csv(path: Path) -> list[dict[str, str]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), f"{path.name} has no UTF-8 BOM"
    return list(csv.DictReader(io.StringIO(raw[3:].decode("utf-8"))))


def test_bundle_holds_the_ranges_contacts_findings_and_review_history(
    built, tmp_path: Path
) -> None:
    result = _export(built, tmp_path / "bundle")
    contacts = _csv(tmp_path / "bundle" / "contacts.csv")
    ids = [c["contact_id"] for c in contacts]
    # local dates Nov 16-22: the Chicago call late on Sunday is in, Shanghai Monday 01:00 is out
    assert "w47-us-late" in ids and "w48-sh-early" not in ids and "w46-bad-0" not in ids
    assert len(ids) == 18 == result.contacts
    findings = _csv(tmp_path / "bundle" / "findings.csv")
    assert len(findings) == 10 == result.findings
    threat = next(f for f in findings if f["rule_id"] == "CN-THREAT-004")
    assert threat["quote"] == "打给你所有联系人" and threat["decision"] == "confirmed"
    assert threat["severity"] == "critical" and threat["counted"] == "true"
    dismissed = [f for f in findings if f["decision"] == "dismissed"]
    assert len(dismissed) == 2 and all(f["counted"] == "false" for f in dismissed)
    preview = next(f for f in findings if f["rule_id"] == "CN-PREVIEW-001")
    assert preview["rule_status"] == "preview" and preview["counted"] == "false"
    reviews = _csv(tmp_path / "bundle" / "reviews.csv")
    history = [
        r
        for r in reviews
        if r["finding_id"]
        == next(f["finding_id"] for f in findings if f["rule_id"] == "CN-FALSE-001")
    ]
    assert [r["decision"] for r in history] == ["dismissed", "confirmed"]
    assert [r["reviewer"] for r in history] == ["reviewer_b", "reviewer_c"]
    jsonl = [
        json.loads(line)
        for line in (tmp_path / "bundle" / "findings.jsonl").read_text("utf-8").splitlines()
    ]
    assert [j["finding_id"] for j in jsonl] == [int(f["finding_id"]) for f in findings]
    assert jsonl[0] == {k: jsonl[0][k] for k in sorted(jsonl[0])}


def test_bundle_records_rules_runs_settings_and_recording_hashes(built, tmp_path: Path) -> None:
    _, result_store, _, rule_files = built
    _export(built, tmp_path / "b")
    manifest = json.loads((tmp_path / "b" / "MANIFEST.json").read_text("utf-8"))
    assert manifest["unmasked"] is False and manifest["settings"] == {
        "rules": "cn",
        "weekly_cap": None,
    }
    assert "rules/cn/threat/CN-THREAT-004.yaml" in manifest["files"]
    assert (
        tmp_path / "b" / "rules" / "cn" / "threat" / "CN-THREAT-004.yaml"
    ).read_bytes() == rule_files[1].read_bytes()
    ruleset = json.loads((tmp_path / "b" / "ruleset.json").read_text("utf-8"))
    assert ruleset["versions_in_findings"] == ["rs-test-1"] and HEX_RE.fullmatch(
        ruleset["ruleset_sha256"]
    )
    runs = json.loads((tmp_path / "b" / "runs.json").read_text("utf-8"))
    scan = next(r for r in runs if r["command"] == "scan")
    assert scan["model"] == "whisper-base" and scan["model_hash"] == "abc123"
    assert scan["options"] == {"rules": "cn"} and scan["tool_version"]
    import hashlib

    recording = result_store.recordings["w47-bad-0"]
    sha = hashlib.sha256(recording.read_bytes()).hexdigest()
    assert manifest["recordings"][sha]["contacts"] == ["w47-bad-0"]
    for name, entry in manifest["files"].items():
        assert hashlib.sha256((tmp_path / "b" / name).read_bytes()).hexdigest() == entry["sha256"]
    assert verify_bundle(tmp_path / "b", check_recordings=True).ok


def test_same_inputs_give_a_byte_identical_bundle_zip_and_workbook(built, tmp_path: Path) -> None:
    first = _export(built, tmp_path / "one", xlsx=True, zip=True)
    second = _export(built, tmp_path / "two", xlsx=True, zip=True)
    names = sorted(
        p.relative_to(tmp_path / "one").as_posix()
        for p in (tmp_path / "one").rglob("*")
        if p.is_file()
    )
    assert "audit.xlsx" in names and "MANIFEST.json" in names
    for name in names:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), (
            name
        )
    assert first.zip_path.read_bytes() == second.zip_path.read_bytes()


def test_verify_names_each_changed_missing_and_added_file(built, tmp_path: Path) -> None:
    bundle = tmp_path / "b"
    _export(built, bundle)
    assert verify_bundle(bundle).ok
    findings = bundle / "findings.csv"
    findings.write_bytes(findings.read_bytes().replace(b"confirmed", b"dismissed", 1))
    (bundle / "reviews.jsonl").unlink()
    (bundle / "extra.txt").write_text("slipped in", "utf-8")
    result = verify_bundle(bundle)
    assert not result.ok
    assert result.changed == ["findings.csv"]
    assert result.missing == ["reviews.jsonl"]
    assert result.added == ["extra.txt"]
    text = result.describe()
    assert (
        "changed: findings.csv" in text and "missing: reviews.jsonl" in text and "extra.txt" in text
    )


def test_verify_catches_a_tampered_zip(built, tmp_path: Path) -> None:
    result = _export(built, tmp_path / "b", zip=True)
    assert verify_bundle(result.zip_path).ok
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(result.zip_path) as src, zipfile.ZipFile(tampered, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            if name == "contacts.jsonl":
                data = data.replace(b"bad_wang", b"good_li")
            dst.writestr(name, data)
    check = verify_bundle(tampered)
    assert not check.ok and check.changed == ["contacts.jsonl"]


def test_verify_refuses_a_folder_without_manifest(tmp_path: Path) -> None:
    (tmp_path / "x.csv").write_text("a\n", "utf-8")
    with pytest.raises(ExportError, match=r"MANIFEST\.json"):
        verify_bundle(tmp_path)


def _all_text(bundle: Path) -> dict[str, str]:
    texts = {}
    for path in bundle.rglob("*"):
        if not path.is_file():
            continue
        if path.suffix == ".xlsx":
            with zipfile.ZipFile(path) as book:
                texts[path.name] = "".join(
                    book.read(n).decode("utf-8", "replace") for n in book.namelist()
                )
        else:
            texts[path.name] = path.read_bytes().decode("utf-8", "replace")
    return texts


def test_personal_numbers_are_masked_in_every_file_by_default(built, tmp_path: Path) -> None:
    _export(built, tmp_path / "b", xlsx=True)
    texts = _all_text(tmp_path / "b")
    assert "transcripts.jsonl" in texts and "audit.xlsx" in texts
    for name, text in texts.items():
        scrubbed = HEX_RE.sub("", text)  # hashes are hex digests, not numbers to mask
        for pattern in (ID_RE, CARD_RE, MOBILE_RE):
            found = pattern.search(scrubbed)
            assert not found, f"{name}: {found.group(0) if found else ''}"
    assert "4578" in texts["transcripts.jsonl"]  # masked, not dropped
    assert SCRIPT_TEXT in texts["transcripts.jsonl"].replace('\\"', '"')  # data, stored verbatim


def test_unmasked_export_keeps_numbers_and_says_so_in_the_manifest(built, tmp_path: Path) -> None:
    _export(built, tmp_path / "b", unmasked=True)
    manifest = json.loads((tmp_path / "b" / "MANIFEST.json").read_text("utf-8"))
    assert manifest["unmasked"] is True and "unmasked" in manifest["masking"]
    transcripts = (tmp_path / "b" / "transcripts.jsonl").read_text("utf-8")
    assert ID_NUMBER in transcripts and CARD_NUMBER in transcripts and MOBILE in transcripts


def test_export_refuses_a_non_empty_folder_that_is_not_a_bundle(built, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine", "utf-8")
    with pytest.raises(ExportError, match="not empty"):
        _export(built, tmp_path)
    assert (tmp_path / "notes.txt").read_text("utf-8") == "mine"


def test_export_rejects_a_reversed_date_range(built, tmp_path: Path) -> None:
    store = built[0]
    with pytest.raises(ExportError, match="before the start"):
        export_bundle(store, tmp_path / "b", "2026-11-22", "2026-11-16")


def test_the_shipped_packs_export_with_their_models_and_the_version_findings_carry() -> None:
    from auditor.engine import load_pack
    from auditor.export.bundle import _ruleset_version
    from auditor.report.commands import rule_files_for

    for name in ("cn", "us", "all"):
        files = rule_files_for(name)
        assert files is not None
        # a regulator gets the model files that made the findings, with their cards
        assert any(f.suffix == ".npz" for f in files) and any(f.suffix == ".md" for f in files)
        assert _ruleset_version(files) == load_pack(name).version
