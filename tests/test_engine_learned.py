"""The learned classifier behind the rules: scoring parity, storage, rules that use it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from auditor.engine import load_pack
from auditor.engine.learned import analyze, load_model, sentence_spans
from auditor.engine.loader import load_pack_folder
from auditor.engine.train import Sample, fit, operating_point
from auditor.errors import RuleError
from auditor.models import Category, Segment, Speaker

from .test_engine import _contact

# A toy training set: threats are about "coming to your home / family", the clean lines are
# ordinary collection talk. Small, but enough for a linear model to separate the two.
THREATS = [
    "你再不还钱我们就去你家找你",
    "小心你家里人出门的时候",
    "我们的人今晚就上你家门口等着",
    "你家孩子在哪个学校我们都知道",
    "不还钱你家里人都别想安生",
    "我们会去你家门口堵你",
    "你出门小心点，我们的人在你家楼下",
    "你老婆孩子每天几点出门我们都清楚",
]
CLEAN = [
    "您好，请问您方便说话吗",
    "本期账单需要在月底之前还款",
    "您可以申请分期还款",
    "我是信用卡中心的工作人员，工号三零二一",
    "逾期会产生违约金，请您按时还款",
    "您看今天能先还一部分吗",
    "如有疑问可以拨打客服热线",
    "请问您什么时候方便还款",
    "我们可以帮您申请延期",
    "好的，那我们下周再联系您",
]


def _samples() -> list[Sample]:
    return [Sample(t, {"threat"}) for t in THREATS] + [Sample(t, set()) for t in CLEAN]


def test_scoring_matches_scikit_learn_on_the_same_features(tmp_path: Path) -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    samples = _samples()
    path = tmp_path / "toy.npz"
    fit(samples, "zh", name="toy", min_df=1).save(path)
    model = load_model(path)
    vec = TfidfVectorizer(analyzer=lambda t: analyze(t, "zh"), sublinear_tf=True, min_df=1)
    x = vec.fit_transform([s.text for s in samples])
    y = np.array(["threat" in s.labels for s in samples])
    clf = LogisticRegression(C=4.0, class_weight="balanced", max_iter=2000, solver="liblinear")
    clf.fit(x, y)
    probes = ["我们明天去你家找你家里人", "请您按时还款", "你孩子的学校我们知道", ""]
    expected = clf.predict_proba(vec.transform(probes))[:, 1]
    got = [model.probabilities(p)["threat"] for p in probes]
    # float32 storage: agreement to 1e-5 is what the file format promises
    assert np.allclose(got, expected, atol=1e-5)
    assert got[0] > 0.5 > got[1]


def test_model_file_is_plain_arrays_and_a_foreign_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "toy.npz"
    fit(_samples(), "zh", name="toy", min_df=1).save(path)
    with np.load(path, allow_pickle=False) as data:
        assert all(data[k].dtype != object for k in data.files)
        card = json.loads(str(data["card"]))
    assert card["name"] == "toy" and card["language"] == "zh"
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"\x80\x04not a model")
    with pytest.raises(ValueError, match=r"bad\.npz: not a readable auditor model file"):
        load_model(bad)


def test_sentences_split_in_both_languages_and_keep_offsets() -> None:
    text = "你好。你再不还钱？\nWe will call you. Pay $3.50 now!"
    spans = sentence_spans(text)
    assert [text[s:e] for s, e in spans] == [
        "你好。",
        "你再不还钱？",
        "We will call you.",
        "Pay $3.50 now!",
    ]


def test_operating_point_is_the_lowest_threshold_reaching_the_precision() -> None:
    probs = np.array([0.95, 0.9, 0.8, 0.7, 0.6, 0.55])
    truth = np.array([True, True, True, False, True, False])
    t, precision, recall = operating_point(probs, truth, 0.95)
    assert t == 0.71 and precision == 1.0 and recall == 0.75


MODEL_RULE = """\
id: XX-THREAT-002
status: stable
title: learned threat
category: threat
severity: high
speaker: collector
languages: [zh]
match:
  model: {name: toy, label: threat, threshold: 0.6}
cite:
  - law: 《商业银行信用卡业务监督管理办法》
    summary: 不得恐吓
    kind: regulation
rationale: because
examples:
  match: [我们明天就去你家找你家里人]
  no_match: [请您按时还款]
"""


def _model_pack(tmp_path: Path, rule: str = MODEL_RULE) -> Path:
    pack = tmp_path / "xx"
    (pack / "threat").mkdir(parents=True)
    (pack / "models").mkdir()
    (pack / "pack.yaml").write_text(
        "name: xx\nlanguage: zh\ntimezone: Asia/Shanghai\n", encoding="utf-8"
    )
    (pack / "threat" / "XX-THREAT-002.yaml").write_text(rule, encoding="utf-8")
    fit(_samples(), "zh", name="toy", min_df=1).save(pack / "models" / "toy.npz")
    return pack


def test_a_model_rule_finds_the_sentence_with_evidence_and_timestamps(tmp_path: Path) -> None:
    pack = load_pack(_model_pack(tmp_path))
    segments = [
        Segment(Speaker.COLLECTOR, 0.0, 3.0, "您好，请问您方便说话吗。"),
        Segment(Speaker.CUSTOMER, 3.0, 5.0, "你们再打我就去你家找你家里人。"),
        Segment(Speaker.COLLECTOR, 10.0, 16.0, "本期账单要还。不还我们明天去你家找你家里人。"),
    ]
    findings = pack.scan(_contact(), segments)
    assert len(findings) == 1  # the customer's identical words are not the collector's
    f = findings[0]
    assert f.segment_index == 2 and f.category == Category.THREAT
    assert segments[2].text[f.span[0] : f.span[1]] == "不还我们明天去你家找你家里人。"
    assert 10.0 < f.start_s < f.end_s <= 16.0
    assert f.evidence.matcher == "model" and "classifier toy gives threat" in f.evidence.why
    assert "家" in f.evidence.why  # the n-grams that weigh most are named


def test_retraining_the_model_changes_the_ruleset_version(tmp_path: Path) -> None:
    folder = _model_pack(tmp_path)
    before = load_pack(folder).version
    fit([*_samples(), Sample("你家门口见", {"threat"})], "zh", name="toy", min_df=1).save(
        folder / "models" / "toy.npz"
    )
    assert load_pack(folder).version != before


def test_missing_model_or_label_is_a_rule_error_naming_the_rule(tmp_path: Path) -> None:
    folder = _model_pack(tmp_path)
    (folder / "models" / "toy.npz").unlink()
    with pytest.raises(RuleError, match=r"XX-THREAT-002.*no model file .*toy\.npz"):
        load_pack(folder)
    folder2 = _model_pack(tmp_path / "b", MODEL_RULE.replace("name: toy", "name: Toy!"))
    with pytest.raises(RuleError, match=r"XX-THREAT-002.*match\.model\.name"):
        load_pack_folder(folder2)


def _shipped_models() -> list[Path]:
    from auditor.engine.packs import rules_root

    return sorted(rules_root().glob("*/models/*.npz"))


@pytest.mark.parametrize("path", _shipped_models(), ids=lambda p: p.stem)
def test_a_shipped_model_is_what_its_training_data_gives(path: Path) -> None:
    """The model files are binary: this proves each one is the committed data and code's."""
    import hashlib

    from auditor.engine.train import clean_fragments, read_cold, read_labelled

    from .conftest import SHARED

    shipped = load_model(path)
    settings = shipped.card["settings"]
    sources = [src for src in shipped.card["trained_on"] if "sha256" in src]
    samples = []
    for src in sources:
        if src.get("kind") == "cold":
            f = SHARED / "data" / "cold" / src["file"]
            if not f.is_file():
                pytest.skip(f"{path.name} is trained on COLD, and {f} is absent (no ../shared)")
        else:
            f = Path(__file__).parent / "data" / src["file"]
        assert f.is_file(), f"{path.name} was trained on {f}, which is missing"
        digest = hashlib.sha256(f.read_bytes()).hexdigest()[:16]
        assert digest == src["sha256"], f"{f.name} changed since {path.name} was trained: retrain"
        if src.get("kind") == "cold":
            alone = len(sources) == 1
            weight = 1.0 if alone else settings["cold_weight"]
            samples += read_cold(f, weight, measured=alone)
        else:
            samples += read_labelled(f, shipped.language)
    samples += clean_fragments([s for s in samples if s.source != "cold"])
    again = fit(samples, shipped.language, name=shipped.name, c=settings["C"])
    assert again.vocabulary == shipped.vocabulary
    assert np.allclose(again.coef, shipped.coef, atol=1e-4)
    assert np.allclose(again.intercept, shipped.intercept, atol=1e-4)


def test_every_model_rule_uses_a_threshold_its_card_measured() -> None:
    pack = load_pack("all")
    model_rules = [r for r in pack.rules if r.rule.match is not None and r.rule.match.model]
    assert len(model_rules) >= 12
    for r in model_rules:
        ref = r.rule.match.model  # type: ignore[union-attr]
        card_file = r.path.parents[1] / "models" / f"{ref.name}.md"
        assert card_file.is_file(), f"{r.id}: no model card {card_file}"
        cv = load_model(card_file.with_suffix(".npz")).card["cross_validation"][ref.label]
        # a rule may be stricter than the measured operating point, never looser
        assert ref.threshold >= cv["threshold"], r.id


def _phrase_rule(rule_id: str, unless: str) -> str:
    return (
        MODEL_RULE.replace("XX-THREAT-002", rule_id)
        .replace(
            "  model: {name: toy, label: threat, threshold: 0.6}\n", "  phrase: [你家]\n" + unless
        )
        .replace("match: [我们明天就去你家找你家里人]", "match: [我们去你家找你家里人]")
    )


def test_a_phrase_match_the_model_reads_as_clean_is_excused(tmp_path: Path) -> None:
    folder = _model_pack(tmp_path)
    veto = "unless:\n  - model: {name: toy, label: threat, below: 0.3}\n"
    (folder / "threat" / "XX-THREAT-003.yaml").write_text(
        _phrase_rule("XX-THREAT-003", veto), encoding="utf-8"
    )
    (folder / "threat" / "XX-THREAT-004.yaml").write_text(
        _phrase_rule("XX-THREAT-004", ""), encoding="utf-8"
    )
    pack = load_pack(folder)
    threat = {f.rule_id for f in pack.scan_text("我们明天去你家找你家里人", language="zh")}
    assert {"XX-THREAT-003", "XX-THREAT-004"} <= threat
    calm_text = "请问你家里方便说话吗，本期账单需要还款"
    assert pack.by_id["XX-THREAT-003"].unless  # compiled with the model exception
    calm = {f.rule_id for f in pack.scan_text(calm_text, language="zh")}
    # the same phrase fires without the exception: it is the model that excuses it
    assert "XX-THREAT-004" in calm and "XX-THREAT-003" not in calm
