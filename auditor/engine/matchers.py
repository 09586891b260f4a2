"""Compile a pack's text conditions once, and scan a text in one pass.

All phrases of all rules go into ONE Aho-Corasick automaton (and, for phrases marked `pinyin`,
one more over toneless pinyin); regexes are compiled once with the `regex` module and run with a
time limit; spaCy token patterns go into one Matcher per language. Scanning a text runs each of
these once and collects hits by id; rules then only look their hits up.
"""

from __future__ import annotations

import itertools
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ahocorasick
import regex

from auditor.engine.learned import TextClassifier, model_for, sentence_spans
from auditor.engine.recognizers import PiiHit, find_pii
from auditor.engine.schema import Cond, ModelRef, Unless
from auditor.errors import RuleError
from auditor.textnorm import is_cjk, normalize_phrase, pinyin_text, pinyin_variants

log = logging.getLogger(__name__)

REGEX_TIMEOUT_S = 0.25
LINT_TIMEOUT_S = 0.2
_CLAUSE_END = set(",.;!?:\n")
_SENTENCE_END = set(".;!?\n")


@dataclass(frozen=True, slots=True)
class Match:
    start: int  # offsets into the normalised text
    end: int
    matcher: str
    pattern: str
    why: str
    factor: float = 1.0  # multiplies the rule's confidence (pinyin-only match, failed checksum)


@dataclass
class Hits:
    """Everything one pass over a text found, keyed by the compiled ids."""

    text: str
    phrases: dict[int, list[tuple[int, int, bool]]] = field(default_factory=dict)
    regexes: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    tokens: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    pii: list[PiiHit] = field(default_factory=list)
    regex_errors: list[str] = field(default_factory=list)
    # model name → scored windows (start, end, probability per label), a window being a
    # sentence or two adjacent sentences of the text; None until a rule asks (`model_windows`),
    # so the speech no model rule applies to (the customer's) is never scored
    models: dict[str, list[tuple[int, int, tuple[float, ...]]] | None] = field(default_factory=dict)

    def model_windows(
        self, name: str, model: TextClassifier
    ) -> list[tuple[int, int, tuple[float, ...]]]:
        windows = self.models.get(name)
        if windows is None:
            windows = score_windows(self.text, model)
            self.models[name] = windows
        return windows


def _wordish(ch: str) -> bool:
    return ch.isascii() and (ch.isalnum() or ch == "'")


def check_regex_safety(compiled: Any, pattern: str) -> None:
    """Run `pattern` over long adversarial inputs; raise TimeoutError if it backtracks badly.

    Catastrophic backtracking is exponential in the input length, so 2,000 repeats of a
    character the pattern mentions (or of a generic letter, digit, space or Han character),
    followed by a character that makes the match fail, are enough to expose it.
    """
    if pattern in _SAFE_PATTERNS:
        return
    seeds = ["a", "1", " ", "中", "x", "ab", "a "]
    seeds += sorted({ch for ch in pattern if ch.isalnum() or is_cjk(ch)} - set(seeds))[:10]
    for seed in seeds:
        for tail in ("!", "\u0000"):
            probe = seed * (2000 // len(seed)) + tail
            list(compiled.finditer(probe, timeout=LINT_TIMEOUT_S))
    _SAFE_PATTERNS.add(pattern)


_SAFE_PATTERNS: set[str] = set()


class TextMatchers:
    """The compiled text matchers of a whole pack."""

    def __init__(self) -> None:
        self.phrases: list[str] = []  # normalised phrase by id
        self._phrase_ids: dict[str, int] = {}
        self._pinyin_ids: set[int] = set()
        self.regex_sources: list[str] = []
        self._regexes: list[Any] = []
        self._token_patterns: dict[str, list[list[dict[str, Any]]]] = defaultdict(list)
        self.token_names: list[str] = []
        self._token_lang: list[str] = []
        self.pii_kinds: set[str] = set()
        self.current_rule = ""  # the rule being compiled, to say whose regex timed out
        self.regex_owners: dict[str, set[str]] = defaultdict(set)
        self._automaton: Any = None
        self._pinyin_automaton: Any = None
        self._spacy: dict[str, tuple[Any, Any]] = {}
        self.models: dict[str, TextClassifier] = {}
        self.model_files: dict[str, Path] = {}
        self.model_dir: Path | None = None  # models/ of the pack being compiled

    # -- building ---------------------------------------------------------------------------
    def phrase_id(self, phrase: str, pinyin: bool | int = False) -> int:
        key = normalize_phrase(phrase)
        if not key:
            raise ValueError(f"phrase {phrase!r} is empty after normalisation")
        pid = self._phrase_ids.get(key)
        if pid is None:
            pid = len(self.phrases)
            self.phrases.append(key)
            self._phrase_ids[key] = pid
        shortest = 3 if pinyin is True else int(pinyin)
        if pinyin and len(key) >= shortest and any(is_cjk(c) for c in key):
            self._pinyin_ids.add(pid)
        return pid

    def regex_id(self, pattern: str) -> int:
        self.regex_owners[pattern].add(self.current_rule)
        if pattern in self.regex_sources:
            return self.regex_sources.index(pattern)
        try:
            # MULTILINE: ^ and $ hold at each turn of a transcript scanned as one text
            compiled = regex.compile(pattern, regex.IGNORECASE | regex.V1 | regex.MULTILINE)
        except regex.error as exc:
            raise ValueError(f"invalid regex {pattern!r}: {exc}") from exc
        try:
            check_regex_safety(compiled, pattern)
        except TimeoutError as exc:
            raise ValueError(
                f"regex {pattern!r} backtracks catastrophically: it did not finish within "
                f"{LINT_TIMEOUT_S}s on a long adversarial input; rewrite it without nested "
                f"or overlapping repetition"
            ) from exc
        self.regex_sources.append(pattern)
        self._regexes.append(compiled)
        return len(self._regexes) - 1

    def model(self, name: str, label: str) -> tuple[TextClassifier, int]:
        """The pack's model `name`, loaded once, and the row of `label` in its outputs."""
        path = (self.model_dir or Path(".")) / f"{name}.npz"
        known = self.model_files.get(name)
        if known is not None and known != path:
            raise ValueError(f"model {name!r} is in two packs ({known}, {path}); rename one")
        if name not in self.models:
            if not path.is_file():
                raise ValueError(f"model {name!r}: no model file {path}")
            self.models[name] = model_for(path)
            self.model_files[name] = path
        model = self.models[name]
        if label not in model.labels:
            raise ValueError(f"model {name!r} has no label {label!r} ({model.labels})")
        return model, model.labels.index(label)

    def token_id(self, patterns: list[list[dict[str, Any]]], language: str) -> int:
        tid = len(self.token_names)
        name = f"T{tid}"
        self.token_names.append(name)
        self._token_lang.append(language)
        self._token_patterns[language].append([{"name": name, "pattern": p} for p in patterns])
        return tid

    def finish(self) -> None:
        automaton = ahocorasick.Automaton()
        for pid, key in enumerate(self.phrases):
            automaton.add_word(key, (pid, len(key)))
        if self.phrases:
            automaton.make_automaton()
        self._automaton = automaton
        if self._pinyin_ids:
            py: dict[str, list[int]] = defaultdict(list)
            for pid in sorted(self._pinyin_ids):
                for variant in pinyin_variants(self.phrases[pid]):
                    py[variant].append(pid)
            pa = ahocorasick.Automaton()
            for key, pids in py.items():
                pa.add_word(key, (tuple(pids), key))
            pa.make_automaton()
            self._pinyin_automaton = pa
        for language, groups in self._token_patterns.items():
            nlp = _blank_nlp(language)
            from spacy.matcher import Matcher

            matcher = Matcher(nlp.vocab)
            for group in groups:
                for item in group:
                    try:
                        matcher.add(item["name"], [item["pattern"]])
                    except (ValueError, TypeError, KeyError) as exc:
                        raise ValueError(
                            f"invalid spaCy token pattern {item['pattern']}: {exc}"
                        ) from exc
            self._spacy[language] = (nlp, matcher)

    # -- scanning ---------------------------------------------------------------------------
    def scan(self, text: str, language: str) -> Hits:
        hits = Hits(text=text)
        if self.phrases:
            for end_idx, (pid, length) in self._automaton.iter(text):
                start = end_idx - length + 1
                key = self.phrases[pid]
                if _wordish(key[0]) and start > 0 and _wordish(text[start - 1]):
                    continue
                if _wordish(key[-1]) and end_idx + 1 < len(text) and _wordish(text[end_idx + 1]):
                    continue
                hits.phrases.setdefault(pid, []).append((start, end_idx + 1, False))
        if self._pinyin_automaton is not None and any(is_cjk(c) for c in text):
            py = pinyin_text(text)
            for end_idx, (pids, key) in self._pinyin_automaton.iter(py.text):
                start_pos = end_idx - len(key) + 2  # first char of the first syllable
                first = py.char_at.get(start_pos)
                if first is None:
                    continue
                n_chars = key.count("|") - 1
                end_char = first + n_chars
                for pid in pids:
                    known = hits.phrases.setdefault(pid, [])
                    if any(s == first for s, _, _ in known):
                        continue
                    known.append((first, end_char, True))
        for rid, compiled in enumerate(self._regexes):
            try:
                found = [
                    (m.start(), m.end()) for m in compiled.finditer(text, timeout=REGEX_TIMEOUT_S)
                ]
            except TimeoutError:
                hits.regex_errors.append(self.regex_sources[rid])
                log.warning(
                    "regex %r timed out on a %d-char text", self.regex_sources[rid], len(text)
                )
                continue
            if found:
                hits.regexes[rid] = [(s, e) for s, e in found if e > s]
        if language in self._spacy and text.strip():
            nlp, matcher = self._spacy[language]
            doc = nlp(text)
            for match_id, start, end in matcher(doc):
                name = nlp.vocab.strings[match_id]
                tid = int(name[1:])
                span = doc[start:end]
                hits.tokens.setdefault(tid, []).append((span.start_char, span.end_char))
        if self.pii_kinds:
            hits.pii = find_pii(text, frozenset(self.pii_kinds))
        hits.models = dict.fromkeys(self.models)
        return hits


def score_windows(text: str, model: TextClassifier) -> list[tuple[int, int, tuple[float, ...]]]:
    """The model's probabilities for each sentence of a (normalised) text and each pair of
    adjacent sentences: "你不还是吧？那你等着。" is a threat only together."""
    sentences = sentence_spans(text)
    windows = sentences + [(a[0], b[1]) for a, b in itertools.pairwise(sentences)]
    return [
        (s, e, tuple(model.probabilities(text[s:e], normalized=True).values())) for s, e in windows
    ]


_NLP_CACHE: dict[str, Any] = {}


def _blank_nlp(language: str) -> Any:
    """A blank spaCy pipeline: jieba segmentation for Chinese, the rule tokenizer for English."""
    if language not in _NLP_CACHE:
        import spacy

        if language == "zh":
            nlp = spacy.blank("zh", config={"nlp": {"tokenizer": {"segmenter": "jieba"}}})
        else:
            nlp = spacy.blank(language)
        _NLP_CACHE[language] = nlp
    return _NLP_CACHE[language]


# -- compiled conditions -----------------------------------------------------------------------
class CompiledCond:
    def evaluate(self, hits: Hits) -> list[Match]:  # pragma: no cover - interface
        raise NotImplementedError


class PhraseCond(CompiledCond):
    def __init__(self, ids: list[int], matchers: TextMatchers) -> None:
        self.ids = ids
        self.m = matchers

    def evaluate(self, hits: Hits) -> list[Match]:
        out = []
        found = hits.phrases
        for pid in self.ids:
            if pid not in found:
                continue
            for s, e, via_pinyin in found[pid]:
                phrase = self.m.phrases[pid]
                if via_pinyin:
                    out.append(
                        Match(
                            s,
                            e,
                            "phrase:pinyin",
                            phrase,
                            f"{hits.text[s:e]!r} sounds like phrase {phrase!r}",
                            0.8,
                        )
                    )
                else:
                    out.append(Match(s, e, "phrase", phrase, f"phrase {phrase!r}"))
        return out


class RegexCond(CompiledCond):
    def __init__(self, ids: list[int], matchers: TextMatchers) -> None:
        self.ids = ids
        self.m = matchers

    def evaluate(self, hits: Hits) -> list[Match]:
        out = []
        for rid in self.ids:
            src = self.m.regex_sources[rid]
            for s, e in hits.regexes.get(rid, ()):
                out.append(Match(s, e, "regex", src, f"regex {src}"))
        return out


class TokenCond(CompiledCond):
    def __init__(self, tid: int, description: str) -> None:
        self.tid = tid
        self.description = description

    def evaluate(self, hits: Hits) -> list[Match]:
        return [
            Match(s, e, "tokens", self.description, f"token pattern {self.description}")
            for s, e in hits.tokens.get(self.tid, ())
        ]


class NearCond(CompiledCond):
    def __init__(self, a: PhraseCond, b: PhraseCond, within: int, ordered: bool, unit: str) -> None:
        self.a, self.b, self.within, self.ordered, self.unit = a, b, within, ordered, unit

    def _gap(self, text: str, left_end: int, right_start: int) -> int:
        if right_start < left_end:
            return 0
        between = text[left_end:right_start]
        if self.unit == "tokens":
            return len(regex.findall(r"[\p{Han}]|[\w']+", between))
        return right_start - left_end

    def evaluate(self, hits: Hits) -> list[Match]:
        out: list[Match] = []
        a_hits = self.a.evaluate(hits)
        if not a_hits:
            return out
        b_hits = self.b.evaluate(hits)
        for ma in a_hits:
            for mb in b_hits:
                if ma.start == mb.start and ma.end == mb.end:
                    continue
                if mb.start >= ma.start:
                    gap = self._gap(hits.text, ma.end, mb.start)
                elif self.ordered:
                    continue
                else:
                    gap = self._gap(hits.text, mb.end, ma.start)
                if gap <= self.within:
                    s, e = min(ma.start, mb.start), max(ma.end, mb.end)
                    out.append(
                        Match(
                            s,
                            e,
                            "near",
                            f"{ma.pattern} ~ {mb.pattern}",
                            f"{ma.pattern!r} within {gap} {self.unit} of {mb.pattern!r}",
                            min(ma.factor, mb.factor),
                        )
                    )
        return out


class RecognizerCond(CompiledCond):
    def __init__(self, kind: str, context: list[str] | None) -> None:
        self.kind = kind
        self.context = [c.lower() for c in context] if context else None

    def evaluate(self, hits: Hits) -> list[Match]:
        out = []
        for hit in hits.pii:
            if hit.kind != self.kind:
                continue
            if self.context is not None:
                window = hits.text[max(0, hit.start - 15) : hit.start]
                if not any(c in window for c in self.context):
                    continue
            out.append(
                Match(
                    hit.start, hit.end, f"recognizer:{hit.kind}", hit.kind, hit.why, hit.score / 0.9
                )
            )
        return out


class ModelCond(CompiledCond):
    """A sentence the classifier scores at or above the threshold; a two-sentence window only
    where neither of its sentences does alone, so the evidence is as short as it can be."""

    def __init__(self, ref: ModelRef, matchers: TextMatchers) -> None:
        self.ref = ref
        self.model, self.row = matchers.model(ref.name, ref.label)

    def evaluate(self, hits: Hits) -> list[Match]:
        fired = [
            (s, e, probs[self.row])
            for s, e, probs in hits.model_windows(self.ref.name, self.model)
            if probs[self.row] >= self.ref.threshold
        ]
        out = []
        for s, e, p in fired:
            if any(ss >= s and se <= e and (ss, se) != (s, e) for ss, se, _ in fired):
                continue  # a pair whose own sentence fires: that sentence is the evidence
            top = self.model.score(hits.text[s:e], self.ref.label, normalized=True).top_features
            out.append(
                Match(
                    s,
                    e,
                    "model",
                    f"{self.ref.name}:{self.ref.label}",
                    f"classifier {self.ref.name} gives {self.ref.label} p={p:.2f} "
                    f"(threshold {self.ref.threshold:.2f}; strongest n-grams: "
                    f"{', '.join(top) or '-'})",
                    p,
                )
            )
        return out


class AnyCond(CompiledCond):
    def __init__(self, parts: list[CompiledCond]) -> None:
        self.parts = parts

    def evaluate(self, hits: Hits) -> list[Match]:
        out: list[Match] = []
        for part in self.parts:
            out.extend(part.evaluate(hits))
        return out


class AllCond(CompiledCond):
    """Every part matches somewhere in the same text; the first part's matches carry the span."""

    def __init__(self, parts: list[CompiledCond]) -> None:
        self.parts = parts

    def evaluate(self, hits: Hits) -> list[Match]:
        results = []
        for part in self.parts:
            found = part.evaluate(hits)
            if not found:
                return []
            results.append(found)
        others = " + ".join(r[0].pattern for r in results[1:])
        return [
            Match(
                m.start,
                m.end,
                m.matcher,
                f"{m.pattern} + {others}",
                f"{m.why}; with {others}",
                m.factor,
            )
            for m in results[0]
        ]


def cond_leaves(cond: CompiledCond) -> set[tuple[str, Any]]:
    """The hit keys a compiled condition can be satisfied by (see Hits and pack._hit_keys)."""
    if isinstance(cond, PhraseCond):
        return {("phrase", pid) for pid in cond.ids}
    if isinstance(cond, RegexCond):
        return {("regex", rid) for rid in cond.ids}
    if isinstance(cond, TokenCond):
        return {("tokens", cond.tid)}
    if isinstance(cond, RecognizerCond):
        return {("pii", cond.kind)}
    if isinstance(cond, ModelCond):
        return {("model", cond.ref.name)}
    if isinstance(cond, NearCond):
        return cond_leaves(cond.a)  # both words are needed: either one's absence rules it out
    if isinstance(cond, AnyCond | AllCond):
        if isinstance(cond, AllCond):
            return cond_leaves(cond.parts[0])
        out: set[tuple[str, Any]] = set()
        for part in cond.parts:
            out |= cond_leaves(part)
        return out
    raise TypeError(type(cond))


def compile_cond(cond: Cond, matchers: TextMatchers, language: str) -> CompiledCond:
    if cond.phrase is not None:
        return PhraseCond([matchers.phrase_id(p, cond.pinyin) for p in cond.phrase], matchers)
    if cond.regex is not None:
        return RegexCond([matchers.regex_id(p) for p in cond.regex], matchers)
    if cond.near is not None:
        near = cond.near
        a = PhraseCond([matchers.phrase_id(p, cond.pinyin) for p in near.a], matchers)
        b = PhraseCond([matchers.phrase_id(p, cond.pinyin) for p in near.b], matchers)
        return NearCond(a, b, near.within, near.ordered, near.unit)
    if cond.tokens is not None:
        tid = matchers.token_id(cond.tokens, language)
        return TokenCond(tid, " | ".join(_describe_tokens(p) for p in cond.tokens))
    if cond.recognizer is not None:
        matchers.pii_kinds.add(cond.recognizer)
        return RecognizerCond(cond.recognizer, cond.context)
    if cond.model is not None:
        return ModelCond(cond.model, matchers)
    if cond.any is not None:
        return AnyCond([compile_cond(c, matchers, language) for c in cond.any])
    assert cond.all is not None
    return AllCond([compile_cond(c, matchers, language) for c in cond.all])


def _describe_tokens(pattern: list[dict[str, Any]]) -> str:
    parts = []
    for tok in pattern:
        value = next(iter(tok.values())) if tok else "*"
        if isinstance(value, dict) and "IN" in value:
            value = "/".join(value["IN"])
        op = tok.get("OP", "")
        parts.append(f"{value}{op}" if not isinstance(value, dict) else f"?{op}")
    return " ".join(str(p) for p in parts)


# -- exceptions --------------------------------------------------------------------------------
_QUESTION_TAIL = ("吗", "么", "嘛")
# Tags that make a statement sound like a question without asking anything (你等着坐牢吧知道吗).
_RHETORICAL_TAIL = (
    "知道吗",
    "明白吗",
    "懂吗",
    "听到吗",
    "听见吗",
    "好吗",
    "行吗",
    "知道么",
    "懂不懂",
    "知不知道",
    "听到没有",
    "understand?",
    "got it?",
)
# Questions that threaten rather than ask: 信不信我…, 要不要我把…, "you really want me…"
_RHETORICAL = (
    "信不信",
    "要不要",
    "要不我",
    "难道",
    "你也不想",
    "你不想",
    "你想不想",
    "是不是想",
    "是不是要我",
    "you really want",
    "do you want me to",
    "want me to",
    "how would you like",
    "you want your",
)
_EN_QUESTION_START = regex.compile(
    r"^(are|do|does|did|is|will|would|can|could|should|have|has|was|were)\b"
)
_QUOTE_LEADS = (
    "你说",
    "您说",
    "你刚才说",
    "您刚才说",
    "有同事说",
    "同事说",
    "他们说",
    "您的意思是",
    "你们说",
    "你自己说",
    "你的意思是",
    "you said",
    "you say",
    "you're saying",
    "you are saying",
    "you told me",
    "you mean",
)


_SCOPE_BREAKS = (
    " and ",
    " but ",
    " or ",
    " if ",
    " so ",
    " then ",
    " because ",
    " i ",
    " i'll ",
    " we ",
    " we'll ",
    " i'm ",
    " we're ",
    " they ",
    " they'll ",
    " you will ",
    " you'll ",
    " you're going to ",
    " you are going to ",
    " we will ",
    " i will ",
    "就",
    "否则",
    "不然",
    "那么",
    "我们会",
    "我会",
    "我就",
    "我们就",
)


def _a_not_a(text: str, at: int, phrase: str) -> bool:
    """是不是 / 会不会 / why don't you: a question or suggestion form, not a negation."""
    if text[max(0, at - 6) : at].endswith(("why do", "why")):
        return True
    # "you don't want us showing up at…": a veiled threat, not a negation
    if regex.match(r"(don't|do not|doesn't|n't|not) (want|wanna)\b", text[at : at + 16]):
        return True
    # "if you don't pay, …", "unless you…": a condition, not a negation of what follows
    if regex.search(
        r"\b(if|unless|until) (you|he|she|they|we)\b[^,.;!?]{0,8}$", text[max(0, at - 20) : at]
    ):
        return True
    if phrase.startswith("不能") and text[max(0, at - 1) : at] == "就":
        return True  # 你就不能去借点钱吗: a push, not a negation
    if len(phrase) < 2 or phrase[0] not in "不没" or at == 0:
        return False
    return text[at - 1] == phrase[1]


def _clause_bounds(text: str, start: int, end: int, stops: set[str]) -> tuple[int, int]:
    left = start
    while left > 0 and text[left - 1] not in stops:
        left -= 1
    right = end
    while right < len(text) and text[right] not in stops:
        right += 1
    return left, right


class CompiledUnless:
    def __init__(self, spec: Unless, matchers: TextMatchers) -> None:
        self.spec = spec
        self.kind = next(
            k
            for k in ("negation", "question", "quote", "context", "model")
            if getattr(spec, k) is not None
        )
        self.model: TextClassifier | None = None
        self.model_row = 0
        if spec.model is not None:
            self.model, self.model_row = matchers.model(spec.model.name, spec.model.label)
        self.phrases: list[str] = []
        self.before = 0
        self.after = 0
        data = spec.negation if spec.negation is not None else spec.context
        if data is not None:
            self.phrases = [normalize_phrase(p) for p in data["phrase"]]
            self.before = int(data.get("before", 4 if self.kind == "negation" else 10))
            self.after = int(data.get("after", 0 if self.kind == "negation" else 10))

    def _model_excuses(self, m: Match, hits: Hits | None) -> str | None:
        spec = self.spec.model
        # A match by sound is a word ASR garbled (费物 for 废物): the model never saw that
        # spelling, so its "clean" says nothing.
        if spec is None or self.model is None or hits is None or m.matcher == "phrase:pinyin":
            return None
        # the sentence of the match, or the two sentences a match across a full stop spans
        window = _smallest_window(hits.model_windows(spec.name, self.model), m)
        if window is None:
            return None
        p = window[2][self.model_row]
        if p < spec.below:
            return f"classifier {spec.name} reads the sentence as clean ({spec.label} p={p:.2f})"
        return None

    def excuses(self, text: str, m: Match, hits: Hits | None = None) -> str | None:
        """A reason string when this exception excuses the match, else None."""
        if self.kind == "model":
            return self._model_excuses(m, hits)
        if self.kind == "negation":
            left, _ = _clause_bounds(text, m.start, m.end, _CLAUSE_END)
            lo = max(left, m.start - self.before - 12)
            before = text[lo : m.start]
            # A conjunction or a new subject between a negation and the match ends its scope:
            # "if you don't pay I'll call your employer", 你不还钱我们就打给你所有联系人.
            cut = lo + max(
                (before.rfind(b) + len(b) for b in _SCOPE_BREAKS if b in before), default=0
            )
            # A phrase match is fixed text (不要脸 is no negation of 脸); a regex or pair may
            # start with or hold the negation: 也不会联系您的家人, 联系人没有还款义务.
            stop = m.end if m.matcher in ("near", "regex") else m.start
            window = text[cut:stop]
            for phrase in self.phrases:
                pos = window.find(phrase)
                while pos != -1:
                    at = cut + pos
                    end = at + len(phrase)
                    near_enough = m.start - end <= self.before
                    # inside a pair, a clause break after the negation ends its scope:
                    # "statute of limitations or not, we're filing a lawsuit"
                    cut_off = end > m.start and any(c in _CLAUSE_END for c in text[end : m.end])
                    if near_enough and not cut_off and not _a_not_a(text, at, phrase):
                        where = "inside" if at + len(phrase) > m.start else "before"
                        return f"negation {phrase!r} {where} the match"
                    pos = window.find(phrase, pos + 1)
            return None
        if self.kind == "context":
            left, right = _clause_bounds(text, m.start, m.end, _SENTENCE_END)
            lo = max(left, m.start - self.before)
            hi = min(right, m.end + self.after)
            # the matched words themselves count too: 明天公安机关将上门 is a police visit
            window = text[lo:hi]
            for phrase in self.phrases:
                if phrase in window:
                    return f"context {phrase!r} marks a lawful or non-threatening statement"
            return None
        if self.kind == "question":
            # The clause of the match, not the whole sentence: 我是快递，你在家吗 asks nothing
            # about the match.
            left, right = _clause_bounds(text, m.start, m.end, _CLAUSE_END)
            sentence = text[left:right].strip().rstrip(",")
            whole_left, _ = _clause_bounds(text, m.start, m.end, _SENTENCE_END)
            if sentence.endswith(_RHETORICAL_TAIL) or any(
                r in text[whole_left:right] for r in _RHETORICAL
            ):
                return None
            if right < len(text) and text[right] == "?":
                return "the sentence is a question"
            if sentence.endswith(_QUESTION_TAIL):
                return "the sentence is a question (吗)"
            if _EN_QUESTION_START.match(sentence) and right >= len(text):
                return "the sentence is a question"
            return None
        # quote
        left, _ = _clause_bounds(text, m.start, m.end, _SENTENCE_END)
        if text.count('"', left, m.start) % 2 == 1:
            return "the words are quoted"
        # "you said your husband is gonna kill you"; but not 你说你没钱，那就去借网贷: the lead
        # must sit in the clause of the match
        clause_left, _ = _clause_bounds(text, m.start, m.end, _CLAUSE_END)
        lead = text[max(clause_left, m.start - 40) : m.start]
        for q in _QUOTE_LEADS:
            if q in lead:
                return f"the collector repeats the debtor's words ({q!r})"
        return None


def _smallest_window(
    windows: list[tuple[int, int, tuple[float, ...]]], m: Match
) -> tuple[int, int, tuple[float, ...]] | None:
    holding = [w for w in windows if w[0] <= m.start and w[1] >= m.end]
    return min(holding, key=lambda w: w[1] - w[0]) if holding else None


def compile_unless(specs: list[Unless], matchers: TextMatchers) -> list[CompiledUnless]:
    return [CompiledUnless(s, matchers) for s in specs]


def rule_error(path: Any, rule_id: str, field_name: str, message: str) -> RuleError:
    return RuleError(f"{path}: rule {rule_id}: {field_name}: {message}")
