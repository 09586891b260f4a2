"""`auditor rules list/show/test/lint` and the generated rule docs."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from auditor.engine import load_pack
from auditor.engine.commands import (
    DOCS_DIR,
    format_rules_list,
    rule_doc,
    rules_lint,
    rules_list,
    rules_show,
    rules_test,
    stale_rule_docs,
)
from auditor.engine.packs import rules_root
from auditor.errors import RuleError


def test_shipped_packs_hold_at_least_sixty_rules_in_every_category() -> None:
    pack = load_pack("all")
    assert len(pack.rules) >= 60
    for prefix in ("CN-", "US-"):
        cats = {r.rule.category.value for r in pack.rules if r.id.startswith(prefix)}
        assert cats == {
            "threat",
            "false_claim",
            "insult",
            "privacy",
            "pressure",
            "contact_time",
            "contact_frequency",
            "procedure",
        }


def test_rules_list_rows_name_every_rule_once() -> None:
    rows = rules_list(load_pack("all"))
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids)) and "CN-THREAT-001" in ids and "US-FREQ-001" in ids
    assert "CN-THREAT-001" in format_rules_list(rows)


def test_rules_show_renders_what_why_source_instead_and_examples() -> None:
    doc = rules_show(load_pack("cn"), "CN-THREAT-001")
    for heading in (
        "## What it detects",
        "## Why it matters",
        "## Source",
        "## What to say instead",
        "## Known problems",
        "## Examples",
    ):
        assert heading in doc
    assert "第六十八条" in doc and "打给你所有联系人" in doc


def test_rules_show_masks_personal_numbers_in_examples() -> None:
    doc = rules_show(load_pack("cn"), "CN-PRIVACY-001")
    assert "110105199003071239" not in doc
    assert "110105********1239" in doc


def test_rules_show_unknown_id_is_a_rule_error() -> None:
    with pytest.raises(RuleError, match="no such rule"):
        rules_show(load_pack("cn"), "CN-THREAT-999")


def test_generated_rule_docs_are_up_to_date() -> None:
    stale = stale_rule_docs(load_pack("all"), DOCS_DIR)
    assert not stale, (
        f"docs/rules is stale for {stale}: regenerate them with auditor.engine.commands.write_rule_docs"
    )


def test_rule_doc_is_deterministic() -> None:
    rule = load_pack("us").by_id["US-FREQ-001"].rule
    assert rule_doc(rule) == rule_doc(rule)


def test_shipped_packs_lint_clean() -> None:
    assert rules_lint("all") == []


def test_rules_test_passes_and_reports_known_misses_apart() -> None:
    report = rules_test("all")
    assert report.ok, report.describe()
    assert report.known_misses
    assert "known misses" in report.describe()


def _copy_pack(tmp_path: Path) -> Path:
    target = tmp_path / "rules"
    shutil.copytree(rules_root(), target)
    return target


def test_known_miss_that_starts_matching_fails(tmp_path: Path) -> None:
    root = _copy_pack(tmp_path)
    path = root / "cn" / "insult" / "CN-INSULT-001.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("    - 你这个人真是二皮脸", "    - 你就是个老赖"), "utf-8")
    report = rules_test(root / "cn", {"CN-INSULT-001"})
    assert not report.ok
    assert any("now matches" in f.message for f in report.failures)


def test_lint_flags_unknown_citation_and_phrase_in_match_and_unless(tmp_path: Path) -> None:
    root = _copy_pack(tmp_path)
    path = root / "cn" / "threat" / "CN-THREAT-001.yaml"
    text = path.read_text(encoding="utf-8")
    text = text.replace(
        "  - law: 中国银行业协会《金融机构个人消费类贷款催收工作指引（试行）》",
        "  - law: 《某某不存在的办法》",
        1,
    )
    text = text.replace("phrase: [不会, 绝不会,", "phrase: [爆通讯录, 不会, 绝不会,", 1)
    path.write_text(text, "utf-8")
    problems = rules_lint(root / "cn")
    assert any("unknown source" in p and "CN-THREAT-001" in p for p in problems)
    assert any("both in match and in unless" in p and "爆通讯录" in p for p in problems)


def test_lint_collects_every_broken_file_instead_of_stopping(tmp_path: Path) -> None:
    root = _copy_pack(tmp_path)
    (root / "cn" / "threat" / "CN-THREAT-002.yaml").write_text("id: [", "utf-8")
    bad_regex = root / "cn" / "false_claim" / "CN-FALSE-002.yaml"
    bad_regex.write_text(
        bad_regex.read_text("utf-8").replace("regex: ['(我是|", "regex: ['((a|aa)+b)|(我是|"),
        "utf-8",
    )
    problems = rules_lint(root / "cn")
    assert any(re.search(r"CN-THREAT-002\.yaml:\d+: invalid YAML", p) for p in problems)
    assert any("CN-FALSE-002" in p and "backtracks" in p for p in problems)
