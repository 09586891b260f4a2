"""End-to-end accuracy on sample_calls/: the whole pipeline (Whisper base, offline) against
labels.jsonl. A regression guard: the floors are the figures measured when the corpus, model and
rules were last changed, less one item's worth (these categories hold 3 to 16 labelled
violations, so one call is 0.06 to 0.25), never a target to tune the rules to."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from auditor.cli import cli

from .conftest import REPO

# category: (precision floor, recall floor); measured 2026-11-25 (greedy decoding) in brackets
FLOORS = {
    # with the learned-classifier rules (rules/*/models), measured 2026-11-25
    "threat": (0.84, 0.90),  # 12/13, 12/12
    "false_claim": (0.85, 0.75),  # 13/14, 13/16
    "insult": (0.80, 0.88),  # 9/10, 9/9
    "privacy": (0.83, 0.71),  # 11/12, 11/14
    "pressure": (0.75, 0.75),  # 4/4, 4/4
    "contact_time": (1.0, 1.0),  # 9/9, 9/9: metadata rules, no ASR in the way
    "contact_frequency": (1.0, 1.0),  # 4/4, 4/4
    "procedure": (0.60, 0.66),  # 7/10, 7/9
}
# error-rate ceilings; measured: CER zh collector 0.216, customer 0.194; WER en 0.304, 0.385
CER_CEILING = {"collector": 0.25, "customer": 0.23}
WER_CEILING = {"collector": 0.34, "customer": 0.42}


@pytest.mark.model
@pytest.mark.slow
def test_sample_calls_findings_and_transcripts_stay_at_the_measured_accuracy(
    tmp_path: Path,
) -> None:
    result = CliRunner().invoke(
        cli, ["eval", str(REPO / "sample_calls"), "--out", str(tmp_path), "--json", "-q"]
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["contacts"] == 88  # 90 labelled, 2 broken recordings left out
    below = {
        category: (
            figures["per_category"][category]["precision"],
            figures["per_category"][category]["recall"],
        )
        for category, (precision, recall) in FLOORS.items()
        if figures["per_category"][category]["precision"] < precision
        or figures["per_category"][category]["recall"] < recall
    }
    assert below == {}, f"below the measured floors: {below}"
    for speaker, ceiling in CER_CEILING.items():
        assert figures["cer"][speaker] <= ceiling, (speaker, figures["cer"])
    for speaker, ceiling in WER_CEILING.items():
        assert figures["wer"][speaker] <= ceiling, (speaker, figures["wer"])
