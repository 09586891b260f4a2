"""Every rule's own examples, as `auditor rules test` runs them: one test per rule."""

from __future__ import annotations

import pytest

from auditor.engine import load_pack
from auditor.engine.examples import run_examples

PACK = load_pack("all")


@pytest.mark.parametrize("rule_id", sorted(PACK.by_id))
def test_rule_examples_hold(rule_id: str) -> None:
    results = run_examples(PACK, {rule_id})
    assert results, f"{rule_id} has no examples"
    failures = [r.describe() for r in results if not r.ok]
    assert not failures, "\n".join(failures)


def test_every_rule_has_three_matches_and_three_hard_negatives() -> None:
    thin = [
        r.id
        for r in PACK.rules
        if len(r.rule.examples.match) < 3 or len(r.rule.examples.no_match) < 3
    ]
    assert not thin, f"rules with fewer than 3 match / 3 no_match examples: {thin}"


def test_speaker_specific_rules_have_a_no_match_by_the_other_party() -> None:
    missing = []
    for r in PACK.rules:
        if r.rule.match is None or r.rule.speaker != "collector":
            continue
        others = [
            ex
            for ex in r.rule.examples.no_match
            if not isinstance(ex, str) and ex.speaker == "customer"
        ]
        if not others:
            missing.append(r.id)
    assert not missing, f"collector rules without a customer no_match example: {missing}"
