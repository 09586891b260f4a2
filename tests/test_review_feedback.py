from __future__ import annotations

from pathlib import Path

import yaml

from auditor.models import Decision
from auditor.review import decide
from auditor.review.commands import rules_feedback, rules_feedback_write_examples
from auditor.review.feedback import rule_feedback, write_no_match_candidates
from auditor.store import Store

from .test_review_fixtures import CALL1_SEGMENTS, ID_NUMBER, fake_mask, masked, sample_store

__all__ = ["masked"]


def test_feedback_counts_latest_decisions_and_dismissal_reasons_per_rule(
    store: Store, tmp_path: Path
) -> None:
    sample = sample_store(store, tmp_path)
    threat, insult = sample.findings["CN-THREAT-004"], sample.findings["CN-INSULT-001"]
    decide(store, [threat], Decision.CONFIRMED, "kim")
    decide(store, [threat], Decision.DISMISSED, "lee", "Quoting the debtor ")
    decide(store, [insult], Decision.DISMISSED, "lee", "quoting  the debtor")
    decide(store, [sample.findings["US-THREAT-002"]], Decision.CONFIRMED, "kim")

    by_rule = {f.rule_id: f for f in rule_feedback(store)}
    assert sorted(by_rule) == sorted(sample.findings)
    t = by_rule["CN-THREAT-004"]
    assert (t.confirmed, t.dismissed, t.open) == (0, 1, 0)  # the later dismissal counts
    assert dict(t.reasons) == {"Quoting the debtor": 1}
    assert dict(by_rule["CN-INSULT-001"].reasons) == {"quoting the debtor": 1}
    us = by_rule["US-THREAT-002"]
    assert (us.confirmed, us.dismissed, us.open, us.precision) == (1, 0, 0, 1.0)
    assert by_rule["CN-PRIVACY-002"].precision is None

    lines = rules_feedback(store)
    at = lines.index("CN-THREAT-004: 0 confirmed, 1 dismissed, 0 open  (0% confirmed)")
    assert lines[at + 1] == "    1 × Quoting the debtor"
    assert "US-THREAT-002: 1 confirmed, 0 dismissed, 0 open  (100% confirmed)" in lines


RULE_FILE = """\
# hand-written comment that must survive
id: CN-INSULT-001
title: 辱骂
category: insult
examples:
  match:
    - 你就是个骗子
  no_match:
    - 我们不是骗子
"""


def test_dismissed_findings_become_no_match_candidates_beside_the_rule(
    store: Store, tmp_path: Path
) -> None:
    sample = sample_store(store, tmp_path)
    rules = tmp_path / "rules"
    rule_path = rules / "cn" / "insult" / "CN-INSULT-001.yaml"
    rule_path.parent.mkdir(parents=True)
    rule_path.write_text(RULE_FILE, encoding="utf-8")
    decide(store, [sample.findings["CN-THREAT-004"]], Decision.DISMISSED, "lee", "复述客户的话")
    decide(store, [sample.findings["CN-INSULT-001"]], Decision.DISMISSED, "lee", "客户自称")
    decide(store, [sample.findings["US-THREAT-002"]], Decision.CONFIRMED, "kim")
    # a contact-level finding has no text to make an example of
    decide(store, [sample.findings["CN-HOURS-001"]], Decision.DISMISSED, "lee", "holiday hours")

    out = tmp_path / "feedback"
    written = write_no_match_candidates(store, out, rules, mask=fake_mask)
    assert written == [out / "CN-INSULT-001.yaml", out / "CN-THREAT-004.yaml"]
    assert rule_path.read_text(encoding="utf-8") == RULE_FILE  # the rule file is not touched

    threat = yaml.safe_load((out / "CN-THREAT-004.yaml").read_text(encoding="utf-8"))
    assert threat["rule_id"] == "CN-THREAT-004"
    (example,) = threat["no_match"]
    assert example == {"text": fake_mask(CALL1_SEGMENTS[2].text), "speaker": "collector"}
    assert ID_NUMBER not in (out / "CN-THREAT-004.yaml").read_text(encoding="utf-8")
    raw = (out / "CN-THREAT-004.yaml").read_text(encoding="utf-8")
    assert f"# finding {sample.findings['CN-THREAT-004']}, contact c001" in raw
    assert "dismissed by lee: 复述客户的话" in raw
    insult = yaml.safe_load((out / "CN-INSULT-001.yaml").read_text(encoding="utf-8"))
    assert insult["no_match"] == [{"text": "你就是个骗子，老赖", "speaker": "collector"}]
    assert str(rule_path) in (out / "CN-INSULT-001.yaml").read_text(encoding="utf-8")


def test_candidates_already_in_the_rule_are_not_proposed_again(
    store: Store, tmp_path: Path
) -> None:
    sample = sample_store(store, tmp_path)
    rules = tmp_path / "rules"
    rule_path = rules / "cn" / "insult" / "CN-INSULT-001.yaml"
    rule_path.parent.mkdir(parents=True)
    rule_path.write_text(
        RULE_FILE.replace("- 我们不是骗子", "- {text: 你就是个骗子，老赖, speaker: collector}"),
        encoding="utf-8",
    )
    decide(store, [sample.findings["CN-INSULT-001"]], Decision.DISMISSED, "lee", "客户自称")
    assert write_no_match_candidates(store, tmp_path / "feedback", rules, mask=fake_mask) == []


def test_write_examples_command_lists_the_files(store: Store, tmp_path: Path, masked: None) -> None:
    sample = sample_store(store, tmp_path)
    out = tmp_path / "feedback"
    assert rules_feedback_write_examples(store, out) == [
        "No dismissed findings to propose as no_match examples."
    ]
    decide(store, [sample.findings["CN-PRIVACY-002"]], Decision.DISMISSED, "lee", "本人")
    assert rules_feedback_write_examples(store, out) == [
        f"{out / 'CN-PRIVACY-002.yaml'}: no_match candidates for the rule's owner"
    ]
    # Running it again regenerates the same file.
    first = (out / "CN-PRIVACY-002.yaml").read_bytes()
    rules_feedback_write_examples(store, out)
    assert (out / "CN-PRIVACY-002.yaml").read_bytes() == first


def test_reviewed_segments_become_training_lines_that_know_only_the_decided_category(
    store: Store, tmp_path: Path
) -> None:
    import json

    from auditor.engine.train import read_labelled
    from auditor.review.feedback import write_training_labels

    sample = sample_store(store, tmp_path)
    decide(store, [sample.findings["CN-THREAT-004"]], Decision.DISMISSED, "lee", "复述客户的话")
    decide(store, [sample.findings["CN-INSULT-001"]], Decision.CONFIRMED, "kim")
    decide(store, [sample.findings["CN-HOURS-001"]], Decision.CONFIRMED, "kim")  # no text
    path = tmp_path / "reviewed.jsonl"
    assert write_training_labels(store, path, mask=fake_mask) == (2, 2)
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    by_text = {line["text"]: line for line in lines}
    threat = by_text[fake_mask(CALL1_SEGMENTS[2].text)]
    assert (threat["labels"], threat["reviewed"], threat["speaker"]) == (
        [],
        ["threat"],
        "collector",
    )
    insult = by_text["你就是个骗子，老赖"]
    assert (insult["labels"], insult["reviewed"]) == (["insult"], ["insult"])
    assert ID_NUMBER not in path.read_text(encoding="utf-8")
    samples = {s.text: s for s in read_labelled(path, "zh")}
    assert samples["你就是个骗子，老赖"].known == {"insult"}
    assert samples[threat["text"]].labels == set() and samples[threat["text"]].known == {"threat"}
