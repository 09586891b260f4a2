"""A learned text classifier behind the phrase rules: TF-IDF n-grams and logistic regression.

Phrase lists catch the phrasings somebody wrote down; on collection speech nobody tuned on they
caught a third to two thirds of the threats, false claims and pressure. A linear model over
character and word n-grams generalises to new wordings of the same acts (弄死你 → 弄死你全家,
"we'll have you picked up" → "they'll pick you up") while staying small, fast on one core and
explainable: every score is a sum of n-gram weights, and the heaviest ones are the evidence.

A model is one `.npz` file of plain arrays (vocabulary, idf, weights), loaded with
`allow_pickle=False`: a model file is data a reviewer can inspect, and loading it runs no code.
Training lives in `auditor.engine.train` (needs scikit-learn); this module needs numpy only.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from auditor.textnorm import is_cjk, normalize

log = logging.getLogger(__name__)

FEATURES_VERSION = 1
_EN_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_DIGITS = re.compile(r"\d")
# Where a transcript turn is cut into the units the model scores: sentence ends in either
# language. Matching runs on normalised text, where 。 has become "."; a "." ends a sentence
# before a space, the end or a non-ASCII character, so "3.5" and "U.S." stay whole.
_SENTENCE_END = re.compile(r"[。！？!?；;\n]+|\.+(?=\s|$|[^\x00-\x7f])|…+")


def analyze(text: str, language: str, normalized: bool = False) -> list[str]:
    """The n-gram features of one utterance; training and scoring share this function.

    `normalized`: the text is already `textnorm.normalize`d (as the scanner's is), which is
    idempotent, so normalising again would only cost time.
    """
    norm = _DIGITS.sub("0", text if normalized else normalize(text).text)
    if language == "zh":
        # Characters only: ASR inserts and drops spaces and punctuation at random in Chinese.
        chars = "".join(c for c in norm if is_cjk(c) or c.isalnum() or c == "?")
        chars = chars.replace("?", "？")
        padded = f"^{chars}$"
        feats = [padded[i : i + n] for n in (1, 2, 3) for i in range(len(padded) - n + 1)]
        return [f for f in feats if f not in ("^", "$")]
    words = _EN_WORD.findall(norm)
    feats = [f"w:{w}" for w in words]
    feats += [f"w:{a} {b}" for a, b in itertools.pairwise(words)]
    for w in words:
        padded = f" {w} "
        feats += [f"c:{padded[i : i + n]}" for n in (3, 4, 5) for i in range(len(padded) - n + 1)]
    return feats


@lru_cache(maxsize=4096)
def _counts(text: str, language: str, normalized: bool) -> Counter[str]:
    # Shared by every model of a language: a sentence is analysed once, not once per model.
    return Counter(analyze(text, language, normalized))


@dataclass(frozen=True)
class ModelScore:
    label: str
    probability: float
    top_features: tuple[str, ...]  # the n-grams that pushed the score up most


class TextClassifier:
    """Multi-label: one logistic regression per label over shared sublinear TF-IDF features."""

    def __init__(
        self,
        *,
        name: str,
        language: str,
        labels: list[str],
        vocabulary: list[str],
        idf: np.ndarray,
        coef: np.ndarray,
        intercept: np.ndarray,
        card: dict[str, Any],
    ) -> None:
        if coef.shape != (len(labels), len(vocabulary)) or idf.shape != (len(vocabulary),):
            raise ValueError(
                f"model {name}: shapes do not agree (labels {len(labels)}, vocabulary "
                f"{len(vocabulary)}, idf {idf.shape}, coef {coef.shape})"
            )
        self.name = name
        self.language = language
        self.labels = list(labels)
        self.vocabulary = list(vocabulary)
        self.index = {term: i for i, term in enumerate(vocabulary)}
        self.idf = idf.astype(np.float64)
        self.coef = coef.astype(np.float64)
        self.intercept = intercept.astype(np.float64)
        self.card = card

    # -- features ---------------------------------------------------------------------------
    def vector(self, text: str, normalized: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Sparse TF-IDF vector (indices, values), L2-normalised, as scikit-learn computes it."""
        counts = _counts(text, self.language, normalized)
        idx = [self.index[t] for t in counts if t in self.index]
        if not idx:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        ids = np.array(idx, dtype=np.int64)
        tf = np.array([1.0 + math.log(counts[self.vocabulary[i]]) for i in idx])
        values = tf * self.idf[ids]
        norm = float(np.sqrt(np.dot(values, values)))
        return ids, values / norm if norm else values

    def probabilities(self, text: str, normalized: bool = False) -> dict[str, float]:
        ids, values = self.vector(text, normalized)
        logits = self.coef[:, ids] @ values + self.intercept
        return {label: float(p) for label, p in zip(self.labels, _sigmoid(logits), strict=True)}

    def score(self, text: str, label: str, top: int = 3, normalized: bool = False) -> ModelScore:
        ids, values = self.vector(text, normalized)
        row = self.labels.index(label)
        contributions = self.coef[row, ids] * values
        logit = float(contributions.sum() + self.intercept[row])
        order = np.argsort(-contributions)[:top]
        top_terms = tuple(_readable(self.vocabulary[ids[k]]) for k in order if contributions[k] > 0)
        return ModelScore(label, float(_sigmoid(np.array([logit]))[0]), top_terms)

    # -- storage ----------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        card = dict(self.card, name=self.name, language=self.language, labels=self.labels)
        card["features_version"] = FEATURES_VERSION
        with path.open("wb") as fh:
            np.savez_compressed(
                fh,
                vocabulary=np.array(self.vocabulary, dtype=np.str_),
                idf=self.idf.astype(np.float32),
                coef=self.coef.astype(np.float32),
                intercept=self.intercept.astype(np.float32),
                card=np.array(json.dumps(card, ensure_ascii=False, sort_keys=True)),
            )


def load_model(path: Path) -> TextClassifier:
    """Load a model file; a file that is not one of ours is a clear ValueError naming it."""
    try:
        with np.load(path, allow_pickle=False) as data:
            card = json.loads(str(data["card"]))
            arrays = {k: data[k] for k in ("vocabulary", "idf", "coef", "intercept")}
    except (OSError, ValueError, KeyError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not a readable auditor model file: {exc}") from exc
    if card.get("features_version") != FEATURES_VERSION:
        raise ValueError(
            f"{path}: model built with features version {card.get('features_version')}, this "
            f"auditor computes version {FEATURES_VERSION}: retrain it (auditor rules train)"
        )
    return TextClassifier(
        name=card["name"],
        language=card["language"],
        labels=card["labels"],
        vocabulary=[str(v) for v in arrays["vocabulary"]],
        idf=arrays["idf"],
        coef=arrays["coef"],
        intercept=arrays["intercept"],
        card=card,
    )


@lru_cache(maxsize=16)
def _cached_model(path: str, mtime_ns: int) -> TextClassifier:
    return load_model(Path(path))


def model_for(path: Path) -> TextClassifier:
    """The model at `path`, loaded once per process (and again if the file changes)."""
    return _cached_model(str(path), path.stat().st_mtime_ns)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """The sentences of a text as (start, end) offsets, blank ones dropped."""
    spans, pos = [], 0
    for m in _SENTENCE_END.finditer(text):
        spans.append((pos, m.end()))
        pos = m.end()
    spans.append((pos, len(text)))
    out = []
    for s, e in spans:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s and any(c.isalnum() for c in text[s:e]):
            out.append((s, e))
    return out


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -40, 40)))


def _readable(term: str) -> str:
    if term.startswith(("w:", "c:")):
        term = term[2:]
    return term.replace("^", "").replace("$", "").strip()
