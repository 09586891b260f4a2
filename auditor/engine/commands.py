"""The `auditor rules …` and `auditor eval` commands as library functions.

Each returns data or text; `auditor/cli.py` prints it. Nothing here prints.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
import yaml

from auditor.engine.examples import ExampleResult, run_examples
from auditor.engine.loader import (
    MODELS_FOLDER,
    LoadedRule,
    load_pack_settings,
    load_rule_file,
    pack_folders,
)
from auditor.engine.matchers import TextMatchers, compile_cond
from auditor.engine.pack import RulePack, load_pack
from auditor.engine.schema import Cond, Example, Rule, Unless
from auditor.errors import RuleError
from auditor.textmask import mask_text
from auditor.textnorm import normalize_phrase

log = logging.getLogger(__name__)

DOCS_DIR = Path(__file__).resolve().parent.parent.parent / "docs" / "rules"


# -- rules list ------------------------------------------------------------------------------
def rules_list(pack: RulePack) -> list[dict[str, Any]]:
    """One row per rule: id, status, category, severity, languages, channels, title."""
    return [
        {
            "id": r.id,
            "status": r.rule.status,
            "category": r.rule.category.value,
            "severity": r.rule.severity.value,
            "languages": list(r.rule.languages),
            "channels": [c.value for c in r.rule.channels],
            "title": r.rule.title,
        }
        for r in sorted(pack.rules, key=lambda r: r.id)
    ]


def format_rules_list(rows: list[dict[str, Any]]) -> str:
    lines = [f"{'id':<16} {'status':<8} {'category':<18} {'severity':<9} title"]
    for row in rows:
        lines.append(
            f"{row['id']:<16} {row['status']:<8} {row['category']:<18} {row['severity']:<9} "
            f"{row['title']}"
        )
    return "\n".join(lines)


# -- rules show / docs ----------------------------------------------------------------------
def describe_cond(cond: Cond) -> str:
    """A reader's summary of a matcher."""
    if cond.phrase is not None:
        how = " (also by toneless pinyin, for ASR homophones)" if cond.pinyin else ""
        return "any of the phrases " + ", ".join(f"「{p}」" for p in cond.phrase) + how
    if cond.regex is not None:
        return "the pattern(s) " + ", ".join(f"`{p}`" for p in cond.regex)
    if cond.near is not None:
        n = cond.near
        order = "followed" if n.ordered else "in either order"
        return (
            "one of " + ", ".join(f"「{p}」" for p in n.a) + f" within {n.within} {n.unit} "
            f"({order}) of one of " + ", ".join(f"「{p}」" for p in n.b)
        )
    if cond.tokens is not None:
        return f"{len(cond.tokens)} spaCy token pattern(s) " + "; ".join(
            f"`{p}`" for p in cond.tokens
        )
    if cond.recognizer is not None:
        return f"a personal-data number found by the `{cond.recognizer}` recognizer" + (
            " after one of " + ", ".join(cond.context) if cond.context else ""
        )
    if cond.model is not None:
        m = cond.model
        return (
            f"a sentence the learned classifier `{m.name}` scores as {m.label} with probability "
            f"≥ {m.threshold:.2f}"
        )
    parts = cond.any if cond.any is not None else cond.all
    joiner = "; or " if cond.any is not None else "; and "
    return joiner.join(describe_cond(c) for c in parts or [])


def describe_rule(rule: Rule) -> str:
    who = {"collector": "the collector", "customer": "the customer", "any": "anyone"}[rule.speaker]
    if rule.match is not None:
        text = f"Words of {who}: {describe_cond(rule.match)}."
        if rule.party == "third_party":
            text += (
                " Only when the person reached is not the debtor (contact metadata, or words "
                'such as 转告 / 我是他家属 / "is this his boss").'
            )
        return text
    if rule.call is not None and rule.call.absence is not None:
        a = rule.call.absence
        text = (
            f"A call or message in which {who} does not say, within the first {a.within_s:g} s "
            f"of a call (anywhere in a message): {describe_cond(a.cond)}."
        )
        if a.only_if is not None:
            text += f" Checked only when someone says {describe_cond(a.only_if)}."
        return text
    if rule.call is not None and rule.call.sequence is not None:
        s = rule.call.sequence
        return (
            f"A call in which the {s.event_speaker} says {describe_cond(s.event)} before anyone "
            f"says {describe_cond(s.required)}."
        )
    assert rule.contact is not None
    if rule.contact.hours is not None:
        h = rule.contact.hours
        window = f"{h.start}–{h.end}" if h.start and h.end else "the pack's allowed hours"
        return (
            f"An outbound contact started outside {window} in the debtor's local time zone "
            "(Contact.timezone, else the pack's default)."
        )
    f = rule.contact.frequency
    assert f is not None
    counted = ", ".join(c.value for c in f.channels)
    if f.after_conversation is not None:
        return (
            f"An outbound {counted} contact within {f.after_conversation} days after a connected "
            "telephone conversation with the debtor (the conversation day is day 1)."
        )
    span = "calendar day" if f.window == "day" else f"{f.days} consecutive days"
    which = {True: "connected ", False: "unanswered ", None: ""}[f.connected]
    setting = f" The cap is the pack setting `{f.setting}` when set." if f.setting else ""
    return (
        f"More than {f.max} {which}{f.direction} {counted} contacts on one account within one "
        f"{span} (debtor's local time); a finding on each contact past the cap.{setting}"
    )


def _describe_unless(u: Unless) -> str:
    if u.negation is not None:
        words = "、".join(u.negation["phrase"])
        return f"negation ({words}) at most {u.negation.get('before', 4)} characters before"
    if u.context is not None:
        words = "、".join(u.context["phrase"])
        return (
            f"context words ({words}) within {u.context.get('before', 10)} characters before or "
            f"{u.context.get('after', 10)} after, in the same sentence"
        )
    if u.question:
        return "the clause is a question (？ or 吗)"
    if u.model is not None:
        return (
            f"the learned classifier `{u.model.name}` gives the sentence a {u.model.label} "
            f"probability below {u.model.below:.2f} (it reads as clean)"
        )
    return "the words are quoted, or repeat the debtor's words (你说…, you said…)"


def _example_line(ex: Example | str) -> str:
    if isinstance(ex, str):
        return mask_text(ex)
    if ex.text is not None:
        extras = []
        if ex.speaker:
            extras.append(f"said by the {ex.speaker}")
        if ex.party:
            extras.append(f"party reached: {ex.party.value}")
        if ex.channel:
            extras.append(f"channel: {ex.channel.value}")
        line = mask_text(ex.text)
        return line + (f" ({'; '.join(extras)})" if extras else "")
    if ex.segments is not None:
        return " / ".join(
            f"[{s.start if s.start is not None else '-'}s {s.speaker}] {mask_text(s.text)}"
            for s in ex.segments
        )
    if ex.contacts is not None:
        items = []
        for c in ex.contacts:
            flags = [c.channel.value]
            if not c.connected:
                flags.append("unanswered")
            if c.direction != "outbound":
                flags.append(c.direction)
            if c.party.value != "debtor":
                flags.append(c.party.value)
            items.append(f"{c.time} ({', '.join(flags)})")
        return "contacts: " + "; ".join(items)
    zone = f" {ex.timezone}" if ex.timezone else ""
    return f"{ex.channel.value if ex.channel else 'call'} at {ex.time}{zone} (local time)"


@lru_cache(maxsize=1)
def _template() -> jinja2.Template:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("auditor.engine", "templates"),
        autoescape=False,  # Markdown, not HTML
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    return env.get_template("rule.md.j2")


def rule_doc(rule: Rule) -> str:
    """The page a compliance officer reads for one rule (Markdown), with examples masked."""
    ex = rule.examples
    return _template().render(
        rule=rule,
        detects=describe_rule(rule),
        unless=[_describe_unless(u) for u in rule.unless],
        examples={
            "match": [_example_line(e) for e in ex.match],
            "no_match": [_example_line(e) for e in ex.no_match],
            "known_miss": [_example_line(e) for e in ex.known_miss],
        },
    )


def rules_show(pack: RulePack, rule_id: str) -> str:
    rule = pack.by_id.get(rule_id.upper())
    if rule is None:
        raise RuleError(
            f"rule {rule_id}: no such rule in pack {pack.name}; see `auditor rules list`"
        )
    return rule_doc(rule.rule)


def write_rule_docs(pack: RulePack, out_dir: Path = DOCS_DIR) -> list[Path]:
    """Write docs/rules/<ID>.md for every rule and an index; returns the files written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for r in sorted(pack.rules, key=lambda r: r.id):
        path = out_dir / f"{r.id}.md"
        path.write_text(rule_doc(r.rule), encoding="utf-8")
        written.append(path)
    index = out_dir / "README.md"
    index.write_text(_index(pack), encoding="utf-8")
    written.append(index)
    return written


_AUTHORING = """\
## Writing a rule

One rule per file at `rules/<pack>/<category>/<ID>.yaml`, named by its id (`CN-THREAT-004`); an
id is never reused. `pack.yaml` beside the category folders sets the pack's language, default
time zone and hours, user-configurable caps (`settings`) and the words that show a third party
was reached (`third_party_markers`). Every citation's `law` must be listed, with its kind, in
`rules/sources.yaml`.

A rule has exactly one of:

- `match`: words of the `speaker` (collector by default). Conditions: `phrase: [...]` (all
  phrases of a pack share one Aho-Corasick automaton; `pinyin: true` also matches phrases of
  three or more characters by toneless pinyin, `pinyin: 2` two-character ones too), `regex:
  [...]` (the `regex` module, checked at load for catastrophic backtracking, run with a
  timeout), `near: {a, b, within, ordered, unit: chars|tokens}`, `tokens:` (spaCy Matcher
  patterns; Chinese is segmented by jieba), `recognizer:` (`cn_resident_id`, `bank_card`,
  `cn_mobile`, `email`, `us_ssn`, `us_phone`, `address`), and `any` / `all` of these.
  `unless:` exceptions: `negation: {phrase, before}`, `question: true`, `quote: true`,
  `context: {phrase, before, after}` (lawful statements of consequences). `party:
  third_party` runs the rule only when someone other than the debtor was reached; `party:
  debtor` never then.
- `call`: `absence: {cond, speaker, within_s, only_if}` (a call or message that lacks
  something) or `sequence: {event, event_speaker, required, required_speaker}` (an event before
  the required step).
- `contact`: `hours: {}` (the pack's hours in the debtor's zone) or `frequency: {max, window:
  day|days, days, channels, connected, direction, setting}` / `{after_conversation: N}`.

Text is normalised before matching (simplified characters, half-width digits and letters, lower
case, no zero-width characters or emoji, no spaces between Chinese characters); spans always
point into the stored text.

`examples: {match, no_match, known_miss}` are run by `auditor rules test` and by pytest: a
`match` must fire (and cover `evidence` when given), a `no_match` must not, and a `known_miss`
is reported until it starts matching, when it fails. `auditor rules lint` checks schema, ids,
citations, regex safety and phrases that are both in `match` and `unless`. After editing a rule,
regenerate these pages (`write_rule_docs`); a test fails while they are stale.
"""


def _index(pack: RulePack) -> str:
    lines = [
        "# Rules",
        "",
        "Generated from `rules/` by `auditor.engine.commands.write_rule_docs`; do not edit by "
        "hand.",
        "",
        _AUTHORING,
        "## The rules",
        "",
        "| id | status | category | severity | title |",
        "|---|---|---|---|---|",
    ]
    for row in rules_list(pack):
        lines.append(
            f"| [{row['id']}]({row['id']}.md) | {row['status']} | {row['category']} | "
            f"{row['severity']} | {row['title']} |"
        )
    return "\n".join(lines) + "\n"


def stale_rule_docs(pack: RulePack, out_dir: Path = DOCS_DIR) -> list[str]:
    """Rule ids whose generated doc is missing or differs from the rule file (CI fails on any)."""
    stale = []
    for r in pack.rules:
        path = out_dir / f"{r.id}.md"
        if not path.is_file() or path.read_text(encoding="utf-8") != rule_doc(r.rule):
            stale.append(r.id)
    index = out_dir / "README.md"
    if not index.is_file() or index.read_text(encoding="utf-8") != _index(pack):
        stale.append("README.md")
    known = {f"{r.id}.md" for r in pack.rules} | {"README.md"}
    if out_dir.is_dir():
        stale.extend(p.name for p in out_dir.glob("*.md") if p.name not in known)
    return sorted(stale)


# -- rules test ------------------------------------------------------------------------------
@dataclass
class TestReport:
    results: list[ExampleResult]
    failures: list[ExampleResult] = field(default_factory=list)
    known_misses: list[ExampleResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def describe(self) -> str:
        rules = len({r.rule_id for r in self.results})
        lines = [f.describe() for f in self.failures]
        lines += [
            f"known miss {m.rule_id} examples.known_miss[{m.index}]" for m in self.known_misses
        ]
        lines.append(
            f"{len(self.results)} examples of {rules} rules: {len(self.failures)} failed, "
            f"{len(self.known_misses)} known misses"
        )
        return "\n".join(lines)


def rules_test(name_or_path: str | Path = "all", rule_ids: set[str] | None = None) -> TestReport:
    """Run every rule's examples; known misses are reported, and fail once they match."""
    pack = load_pack(name_or_path)
    results = run_examples(pack, rule_ids)
    return TestReport(
        results=results,
        failures=[r for r in results if not r.ok],
        known_misses=[r for r in results if r.ok and r.kind == "known_miss"],
    )


# -- rules lint ------------------------------------------------------------------------------
def _sources(folder: Path) -> dict[str, str] | None:
    for candidate in (folder / "sources.yaml", folder.parent / "sources.yaml"):
        if candidate.is_file():
            data = yaml.safe_load(candidate.read_text(encoding="utf-8")) or []
            return {str(item["law"]): str(item["kind"]) for item in data}
    return None


def _cond_phrases(cond: Cond | None) -> set[str]:
    if cond is None:
        return set()
    out: set[str] = set(cond.phrase or [])
    if cond.near is not None:
        out |= set(cond.near.a) | set(cond.near.b)
    for sub in (cond.any or []) + (cond.all or []):
        out |= _cond_phrases(sub)
    return out


def lint_rule(
    loaded: LoadedRule, sources: dict[str, str] | None, pack_dir: Path | None = None
) -> list[str]:
    """Problems the schema cannot see: citations, phrases that excuse themselves, regexes."""
    rule, path = loaded.rule, loaded.path
    problems = []
    for i, c in enumerate(rule.cite):
        if sources is not None and c.law not in sources:
            problems.append(
                f"{path}: rule {rule.id}: cite[{i}].law: unknown source {c.law!r}; "
                "add it to rules/sources.yaml with its kind, or cite a listed one"
            )
        elif sources is not None and sources[c.law] != c.kind:
            problems.append(
                f"{path}: rule {rule.id}: cite[{i}].kind: {c.law} is a "
                f"{sources[c.law]}, not a {c.kind}"
            )
    matched = {normalize_phrase(p) for p in _cond_phrases(rule.match)}
    for i, u in enumerate(rule.unless):
        spec = u.negation or u.context
        if spec is None:
            continue
        for phrase in spec["phrase"]:
            if normalize_phrase(phrase) in matched:
                problems.append(
                    f"{path}: rule {rule.id}: unless[{i}]: phrase {phrase!r} is "
                    "both in match and in unless, so it can never match"
                )
    # every regex compiles and finishes on adversarial input: compile_cond does both
    conds: list[Cond] = [c for c in (rule.match,) if c is not None]
    if rule.call is not None:
        a, s = rule.call.absence, rule.call.sequence
        conds += [a.cond] if a else []
        conds += [a.only_if] if a and a.only_if else []
        conds += [s.event, s.required] if s else []
    matchers = TextMatchers()
    matchers.model_dir = (pack_dir or loaded.path.parent.parent) / MODELS_FOLDER
    for cond in conds:
        try:
            compile_cond(cond, matchers, rule.languages[0])
        except ValueError as exc:
            problems.append(f"{path}: rule {rule.id}: match: {exc}")
    if rule.status != "deprecated" and not rule.examples.match:
        problems.append(f"{path}: rule {rule.id}: examples.match: no example that must match")
    return problems


def rules_lint(name_or_path: str | Path = "all") -> list[str]:
    """Every problem in the packs, one line each (file, rule, field); empty when clean."""
    problems: list[str] = []
    seen: dict[str, Path] = {}
    for folder in pack_folders(name_or_path):
        sources = _sources(folder)
        if sources is None:
            problems.append(
                f"{folder}: no sources.yaml beside or above the pack; citations cannot be checked"
            )
        try:
            load_pack_settings(folder)
        except RuleError as exc:
            problems.append(str(exc))
        for path in sorted(folder.rglob("*.yaml")):
            if path.name == "pack.yaml":
                continue
            try:
                loaded = load_rule_file(path, pack=folder.name)
            except RuleError as exc:
                problems.append(str(exc))
                continue
            if loaded.rule.id in seen:
                problems.append(
                    f"{path}: rule {loaded.rule.id}: id: duplicate id, also in "
                    f"{seen[loaded.rule.id]}"
                )
            seen[loaded.rule.id] = path
            problems.extend(lint_rule(loaded, sources, folder))
    return problems
