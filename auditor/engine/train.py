"""Train the learned classifier of a rule pack (`auditor rules train`); needs scikit-learn.

Training data is the same JSON Lines as `auditor eval` reads. Only collector lines are used:
customer lines are clean by definition (only the collector's words break the rules), and as
negatives they would teach the model that the words of a quoted threat are harmless. The
optional COLD corpus (Chinese offensive language, social media) adds general abuse to the
`insult` label at a reduced weight, since its topics are not collection calls.

Thresholds are chosen on out-of-fold predictions: the lowest probability at which the
cross-validated precision still reaches the target, so the rules that use the model start from
a measured operating point, not a guess.
"""

from __future__ import annotations

import csv
import json
import logging
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from auditor.engine.learned import FEATURES_VERSION, TextClassifier, analyze, sentence_spans
from auditor.errors import AuditorError

log = logging.getLogger(__name__)

TEXT_LABELS = ("threat", "false_claim", "insult", "privacy", "pressure", "procedure")


class TrainingError(AuditorError):
    """Training data that cannot be read, or a missing training dependency."""


@dataclass
class Sample:
    text: str
    labels: set[str]
    weight: float = 1.0
    source: str = ""
    known: set[str] | None = None  # labels this sample says something about (None: all)
    measured: bool = True  # counted in the cross-validated figures (not fragments or extras)


@dataclass
class TrainResult:
    model: TextClassifier
    cv: dict[str, dict[str, float]] = field(default_factory=dict)


def read_labelled(path: Path, language: str) -> list[Sample]:
    """Collector lines of one language from a labels file; errors name file and line."""
    out = []
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise TrainingError(f"{path}: cannot read: {exc}") from exc
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            labels = set(item["labels"])
            text = item["text"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise TrainingError(f"{path}:{n}: not a labelled utterance: {exc}") from exc
        unknown = labels - set(TEXT_LABELS)
        if unknown:
            raise TrainingError(f"{path}:{n}: labels: unknown {sorted(unknown)}")
        if item.get("language") != language or item.get("speaker", "collector") != "collector":
            continue
        # `reviewed` (from `auditor rules feedback --write-labels`): the labels are known for
        # these categories only; a dismissed threat is no threat, and says nothing else
        reviewed = item.get("reviewed")
        if reviewed is not None and (
            not isinstance(reviewed, list) or not set(reviewed) <= set(TEXT_LABELS)
        ):
            raise TrainingError(f"{path}:{n}: reviewed: a list of categories, got {reviewed!r}")
        known = set(reviewed) if reviewed is not None else None
        out.append(Sample(text, labels, source=f"{path.name}:{n}", known=known))
    return out


def read_cold(
    path: Path, weight: float, limit: int | None = None, measured: bool = False
) -> list[Sample]:
    """COLD rows (label 1 = offensive) as insult / clean samples that speak for insult only."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise TrainingError(f"{path}: cannot read the COLD file: {exc}") from exc
    if rows and not {"TEXT", "label"} <= set(rows[0]):
        raise TrainingError(f"{path}:1: COLD needs the columns TEXT and label")
    if limit is not None:
        rows = random.Random(0).sample(rows, min(limit, len(rows)))
    return [
        Sample(
            r["TEXT"],
            {"insult"} if r["label"].strip() == "1" else set(),
            weight=weight,
            source="cold",
            known={"insult"},
            measured=measured,
        )
        for r in rows
    ]


def clean_fragments(samples: list[Sample]) -> list[Sample]:
    """Each sentence of a clean multi-sentence line, as a clean sample of its own.

    The scanner scores single sentences, many of them short ("Thank you.", "喂？"), while the
    labelled lines are whole utterances; without these, a short sentence's score is mostly the
    intercept, and "Thank you." came out as an insult. Marked as saying something about every
    label, but not `known is None`, so cross-validation still measures whole lines only.
    """
    out = []
    for s in samples:
        if s.labels or s.known is not None:  # clean for every label, not just the reviewed one
            continue
        spans = sentence_spans(s.text)
        if len(spans) > 1:
            out += [
                Sample(
                    s.text[a:b],
                    set(),
                    source=f"{s.source}:sentence",
                    known=set(TEXT_LABELS),
                    measured=False,
                )
                for a, b in spans
            ]
    return out


def rule_examples(packs: list[Any], language: str) -> list[Sample]:
    """Each text rule's own examples: a match is a positive of the rule's category, a no_match
    a negative of it (a no_match of a threat rule may still be an insult, so it says nothing
    about the other labels)."""
    out = []
    for rule in [loaded for pack in packs for loaded in pack.rules]:
        r = rule.rule
        if r.match is None or language not in r.languages or r.speaker == "customer":
            continue
        cat = r.category.value
        if cat not in TEXT_LABELS:
            continue
        for kind in ("match", "no_match"):
            for ex in getattr(r.examples, kind):
                text = ex if isinstance(ex, str) else ex.text
                speaker = None if isinstance(ex, str) else ex.speaker
                if not text or speaker == "customer":
                    continue
                labels = {cat} if kind == "match" else set()
                out.append(
                    Sample(text, labels, source=f"{r.id}.{kind}", known={cat}, measured=False)
                )
    return out


def _sklearn() -> Any:
    try:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
    except ImportError as exc:
        raise TrainingError(
            "training needs scikit-learn: pip install 'auditor[train]' (scoring does not)"
        ) from exc
    return TfidfVectorizer, LogisticRegression


def fit(
    samples: list[Sample],
    language: str,
    *,
    name: str,
    c: float = 4.0,
    min_df: int = 2,
    card: dict[str, Any] | None = None,
) -> TextClassifier:
    tfidf_cls, lr_cls = _sklearn()
    vectorizer = tfidf_cls(
        analyzer=lambda text: analyze(text, language),
        sublinear_tf=True,
        min_df=min_df,
        dtype=np.float64,
    )
    x = vectorizer.fit_transform([s.text for s in samples])
    vocabulary = [""] * len(vectorizer.vocabulary_)
    for term, i in vectorizer.vocabulary_.items():
        vocabulary[i] = term
    coef = np.zeros((len(TEXT_LABELS), len(vocabulary)))
    intercept = np.full(len(TEXT_LABELS), -10.0)
    for row, label in enumerate(TEXT_LABELS):
        keep = [i for i, s in enumerate(samples) if s.known is None or label in s.known]
        y = np.array([label in samples[i].labels for i in keep])
        if y.sum() < 5 or (~y).sum() < 5:
            log.warning("label %s: too few examples (%d positive); left untrained", label, y.sum())
            continue
        weights = np.array([samples[i].weight for i in keep])
        clf = lr_cls(C=c, class_weight="balanced", max_iter=2000, solver="liblinear")
        clf.fit(x[keep], y, sample_weight=weights)
        coef[row] = clf.coef_[0]
        intercept[row] = clf.intercept_[0]
    return TextClassifier(
        name=name,
        language=language,
        labels=list(TEXT_LABELS),
        vocabulary=vocabulary,
        idf=np.asarray(vectorizer.idf_),
        coef=coef,
        intercept=intercept,
        card=dict(card or {}, features_version=FEATURES_VERSION),
    )


def out_of_fold(
    samples: list[Sample], language: str, folds: int = 5, seed: int = 0, **kw: Any
) -> np.ndarray:
    """Probabilities for every sample from a model that did not see it (k-fold)."""
    order = list(range(len(samples)))
    random.Random(seed).shuffle(order)
    probs = np.zeros((len(samples), len(TEXT_LABELS)))
    for k in range(folds):
        test = set(order[k::folds])
        train = [s for i, s in enumerate(samples) if i not in test]
        model = fit(train, language, name="cv", **kw)
        for i in test:
            p = model.probabilities(samples[i].text)
            probs[i] = [p[label] for label in TEXT_LABELS]
    return probs


def operating_point(
    probs: np.ndarray, truth: np.ndarray, target_precision: float
) -> tuple[float, float, float]:
    """(threshold, precision, recall): the lowest threshold ≥ 0.5 whose precision reaches the
    target, or the one with the best precision when none does."""
    best: tuple[float, float, float] | None = None
    fallback = (0.99, 0.0, 0.0)
    for t in [round(0.5 + k / 100, 2) for k in range(50)]:
        pred = probs >= t
        tp = int((pred & truth).sum())
        fp = int((pred & ~truth).sum())
        fn = int((~pred & truth).sum())
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        if precision >= target_precision and best is None:
            best = (t, precision, recall)
        if precision > fallback[1]:
            fallback = (t, precision, recall)
    return best or fallback


def cross_validate(
    samples: list[Sample],
    language: str,
    target_precision: float = 0.95,
    folds: int = 5,
    **kw: Any,
) -> dict[str, dict[str, float]]:
    """Per label: the chosen threshold and its out-of-fold precision and recall, measured on
    the samples that are `measured` and speak for the label (not on sentence fragments, rule
    examples or an auxiliary corpus)."""
    probs = out_of_fold(samples, language, folds=folds, **kw)
    out = {}
    for j, label in enumerate(TEXT_LABELS):
        full = np.array(
            [s.measured and (s.known is None or label in s.known) for s in samples], dtype=bool
        )
        truth = np.array([label in s.labels for s in samples])[full]
        if truth.sum() == 0:
            continue
        t, p, r = operating_point(probs[full, j], truth, target_precision)
        out[label] = {
            "threshold": t,
            "precision": round(p, 3),
            "recall": round(r, 3),
            "positives": int(truth.sum()),
        }
    return out


def train_model(
    *,
    language: str,
    data: list[Path],
    name: str,
    packs: list[Any] | None = None,
    cold: Path | None = None,
    cold_weight: float = 0.2,
    c: float = 4.0,
    folds: int = 5,
    target_precision: float = 0.95,
) -> TrainResult:
    """Cross-validate, then fit on everything; the card records data, settings and CV figures."""
    import hashlib

    import sklearn

    labelled: list[Sample] = []
    sources = []
    for path in data:
        found = read_labelled(path, language)
        labelled.extend(found)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        sources.append({"file": path.name, "sha256": digest, "collector_lines": len(found)})
    if not labelled and cold is None:
        raise TrainingError(f"no collector lines in language {language!r} in {data}")
    extra: list[Sample] = rule_examples(packs, language) if packs else []
    if packs:
        names = "+".join(p.settings.name for p in packs)
        sources.append({"file": f"rule examples of {names}", "samples": len(extra)})
    if cold is not None:
        # alone, COLD is the data the model is measured on; beside collection lines, an extra
        alone = not labelled
        cold_samples = read_cold(cold, 1.0 if alone else cold_weight, measured=alone)
        extra.extend(cold_samples)
        digest = hashlib.sha256(cold.read_bytes()).hexdigest()[:16]
        sources.append(
            {"file": cold.name, "kind": "cold", "sha256": digest, "samples": len(cold_samples)}
        )
    fragments = clean_fragments(labelled)
    if fragments:
        sources.append({"file": "sentences of the clean lines above", "samples": len(fragments)})
    samples = labelled + fragments + extra
    cv = cross_validate(samples, language, target_precision, folds=folds, c=c)
    card = {
        "trained_on": sources,
        "settings": {
            "C": c,
            "cold_weight": (cold_weight if labelled else 1.0) if cold else None,
            "folds": folds,
        },
        "cross_validation": cv,
        "target_precision": target_precision,
        "scikit_learn": sklearn.__version__,
    }
    model = fit(samples, language, name=name, c=c, card=card)
    return TrainResult(model=model, cv=cv)


def model_card(model: TextClassifier, command: str) -> str:
    """The Markdown card written beside a model file: data, settings, measured operating points."""
    card = model.card
    cold_only = all(src.get("kind") == "cold" for src in card.get("trained_on", []))
    if cold_only:
        about = (
            "COLD (Deng et al., EMNLP 2022; Apache-2.0): Chinese social-media comments on race, "
            "gender and region labelled offensive or safe. A general offensive-language model, "
            "not a collection one: on collection speech it also fires on threats and on some "
            "clean lines, which is why the rule that uses it is a preview rule."
        )
    else:
        about = (
            "Only collector lines are used: customer lines are clean by definition, and as "
            "negatives they would teach the model that a quoted threat is harmless."
        )
    lines = [
        f"# Model card: {model.name}",
        "",
        "Generated by `auditor rules train`; do not edit by hand (retrain instead).",
        "",
        f"- **What:** a {model.language} multi-label classifier of collector sentences, one "
        "logistic regression per label over sublinear TF-IDF n-grams "
        f"({'characters 1–3' if model.language == 'zh' else 'words 1–2 and characters 3–5'}, "
        f"digits folded to 0), {len(model.vocabulary):,} n-grams (features version "
        f"{card.get('features_version')}).",
        "- **Used by:** the pack's rules with a `model:` condition; each sets its own threshold.",
        f"- **Settings:** {json.dumps(card.get('settings', {}), sort_keys=True)}; scikit-learn "
        f"{card.get('scikit_learn', '?')}.",
        f"- **Retrain:** `{command}`",
        "",
        "## Trained on",
        "",
        "| source | sha256 (16) | samples |",
        "|---|---|---:|",
    ]
    for src in card.get("trained_on", []):
        count = src.get("collector_lines", src.get("samples", ""))
        lines.append(f"| {src['file']} | {src.get('sha256', '')} | {count} |")
    lines += [
        "",
        about,
        "",
        f"## Cross-validated operating points ({card.get('settings', {}).get('folds', 5)} folds)",
        "",
        f"Per label, the lowest threshold at which the out-of-fold precision reaches "
        f"{card.get('target_precision', 0.95):.2f}, measured on the labelled files only. These "
        "figures come from data written like the training data; on new kinds of speech expect "
        "less (see the held-out figures in tests/data/README.md).",
        "",
        "| label | threshold | precision | recall | positives |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, row in card.get("cross_validation", {}).items():
        lines.append(
            f"| {label} | {row['threshold']:.2f} | {row['precision']:.3f} | "
            f"{row['recall']:.3f} | {row['positives']} |"
        )
    lines += [
        "",
        "## Limits",
        "",
        "- It scores one sentence, or two adjacent ones, of one speaker: it does not know who "
        "was reached, what was said earlier, or whether a claim is true.",
        "- It learns the wording of its training data"
        + (
            ", social-media comments: collection speech is far from it."
            if cold_only
            else ", all of it written for this project (no real calls): phrasings far from it "
            "score lower."
        ),
        "- ASR errors it has not seen (a garbled 老赖) are left to the pinyin phrase rules.",
        "",
    ]
    return "\n".join(lines)
