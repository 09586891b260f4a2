"""What reviewers' decisions say about each rule, and dismissed findings as `no_match` candidates.

Candidates go to `feedback/<RULE-ID>.yaml`, not into the rule file itself. Each of them is a text
the rule matches today (that is why it was dismissed), so appending it to the rule's
`examples.no_match` would make `auditor rules test` fail until someone changes the rule; and a
transcript line chosen by one reviewer is worth a look by the rule's owner before it becomes part
of the rule's documented behaviour. The owner fixes the rule (an `unless` exception, a narrower
pattern), then pastes the entries, which are written in the rule file's own example format.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from auditor.errors import ReviewError
from auditor.models import Contact, Decision, Segment
from auditor.review.queue import local_time, masker
from auditor.store import Store, StoredFinding

log = logging.getLogger(__name__)


@dataclass(slots=True)
class RuleFeedback:
    rule_id: str
    confirmed: int = 0
    dismissed: int = 0
    open: int = 0
    reasons: Counter[str] = field(default_factory=Counter)  # dismissal reasons, by count

    @property
    def total(self) -> int:
        return self.confirmed + self.dismissed + self.open

    @property
    def precision(self) -> float | None:
        """Share of decided findings that were confirmed: how far the rule can be trusted."""
        decided = self.confirmed + self.dismissed
        return self.confirmed / decided if decided else None


def rule_feedback(store: Store) -> list[RuleFeedback]:
    """Per rule (by id), how its findings were decided; latest decisions only."""
    by_rule: dict[str, RuleFeedback] = {}
    for stored in store.findings():
        entry = by_rule.setdefault(stored.finding.rule_id, RuleFeedback(stored.finding.rule_id))
        if stored.decision is Decision.CONFIRMED:
            entry.confirmed += 1
        elif stored.decision is Decision.DISMISSED:
            entry.dismissed += 1
            # Reasons typed by hand differ in case and stray spaces only too often.
            entry.reasons[" ".join((stored.reason or "").split())] += 1
        else:
            entry.open += 1
    return [by_rule[k] for k in sorted(by_rule)]


def rule_file(rules_dir: Path | None, rule_id: str) -> Path | None:
    """`rules/<pack>/<category>/<ID>.yaml`, wherever under `rules_dir` it is."""
    if rules_dir is None or not rules_dir.is_dir():
        return None
    found = sorted(rules_dir.rglob(f"{rule_id}.yaml"))
    return found[0] if found else None


def _existing_no_match(path: Path | None) -> set[tuple[str, str | None]]:
    """(text, speaker) of the rule's current no_match examples, so they are not proposed again."""
    if path is None:
        return set()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        log.warning("%s: cannot read its examples (%s); proposing every candidate", path, exc)
        return set()
    examples = data.get("examples") if isinstance(data, dict) else None
    no_match = examples.get("no_match") if isinstance(examples, dict) else None
    found: set[tuple[str, str | None]] = set()
    for example in no_match if isinstance(no_match, list) else []:
        if isinstance(example, str):
            found.add((example, None))
        elif isinstance(example, dict) and "text" in example:
            found.add((str(example["text"]), example.get("speaker")))
    return found


@dataclass(frozen=True, slots=True)
class Candidate:
    stored: StoredFinding
    text: str  # the whole segment, masked
    speaker: str

    def example(self) -> dict[str, Any]:
        return {"text": self.text, "speaker": self.speaker}

    def provenance(self) -> str:
        s = self.stored
        when = local_time(s).strftime("%Y-%m-%d %H:%M")
        text = (
            f"finding {s.id}, contact {s.external_id} ({s.channel}, {when}) at "
            f"{s.finding.start_s:.1f} s, dismissed by {s.reviewer}: {s.reason or ''}"
        )
        return " ".join(text.split())  # one comment line, whatever was typed


def _candidates(store: Store, mask: Callable[[str], str]) -> dict[str, list[Candidate]]:
    by_rule: dict[str, list[Candidate]] = {}
    segments: dict[int, list[Segment]] = {}
    for stored in store.findings():
        if stored.decision is not Decision.DISMISSED or stored.finding.segment_index is None:
            continue  # contact-level findings (hours, frequency) have no text to test a rule on
        contact_id = stored.finding.contact_id
        if contact_id not in segments:
            segments[contact_id] = store.segments(contact_id)
        index = stored.finding.segment_index
        if not 0 <= index < len(segments[contact_id]):
            continue
        segment = segments[contact_id][index]
        by_rule.setdefault(stored.finding.rule_id, []).append(
            Candidate(stored, mask(segment.text), segment.speaker.value)
        )
    return by_rule


def _yaml_scalar_item(example: dict[str, Any]) -> list[str]:
    text = yaml.safe_dump([example], allow_unicode=True, sort_keys=False, width=1000)
    return ["  " + line for line in text.rstrip("\n").splitlines()]


def write_no_match_candidates(
    store: Store,
    out_dir: Path,
    rules_dir: Path | None = None,
    mask: Callable[[str], str] | None = None,
) -> list[Path]:
    """Write `out_dir/<RULE-ID>.yaml` for every rule with dismissed findings; returns the files.

    Each file is regenerated from the store, so running it again after more reviews gives the
    whole current list; texts already among the rule's `no_match` examples are left out.
    """
    mask = mask or masker()
    written = []
    for rule_id, candidates in sorted(_candidates(store, mask).items()):
        path_of_rule = rule_file(rules_dir, rule_id)
        known = _existing_no_match(path_of_rule)
        seen: set[tuple[str, str]] = set()
        fresh = []
        for c in sorted(candidates, key=lambda c: c.stored.id):
            key = (c.text, c.speaker)
            if key in seen or key in known or (c.text, None) in known:
                continue
            seen.add(key)
            fresh.append(c)
        if not fresh:
            continue
        where = str(path_of_rule) if path_of_rule else f"the file of rule {rule_id}"
        lines = [
            f"# Candidates for examples.no_match of {where},",
            "# from findings that reviewers dismissed (texts masked for personal data).",
            "# The rule matches each of them today: change the rule first (an `unless` exception",
            "# or a narrower pattern), then paste the entries below, or `auditor rules test` fails.",
            f"rule_id: {rule_id}",
            "no_match:",
        ]
        for c in fresh:
            lines.append(f"  # {c.provenance()}")
            lines.extend(_yaml_scalar_item(c.example()))
        path = out_dir / f"{rule_id}.yaml"
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        except OSError as exc:
            raise ReviewError(f"{path}: cannot write: {exc.strerror or exc}") from exc
        written.append(path)
    return written


def write_training_labels(
    store: Store, path: Path, mask: Callable[[str], str] | None = None
) -> tuple[int, int]:
    """Reviewed collector segments as labelled lines for `auditor rules train`.

    One line per segment with a decided finding of a text category: `labels` holds the
    categories confirmed on it, `reviewed` every category decided on it, since a dismissed
    threat says the segment is no threat, and nothing about insults. The trainer learns each
    label only from the lines that reviewed it. Texts are masked unless `mask` says otherwise.
    Returns (lines written, findings used).
    """
    from auditor.engine.train import TEXT_LABELS
    from auditor.textnorm import guess_language

    mask = mask or masker()
    by_segment: dict[tuple[int, int], dict[str, set[str]]] = {}
    used = 0
    for stored in store.findings():
        f = stored.finding
        category = f.category.value
        if (
            stored.decision not in (Decision.CONFIRMED, Decision.DISMISSED)
            or f.segment_index is None
            or category not in TEXT_LABELS
        ):
            continue
        entry = by_segment.setdefault(
            (f.contact_id, f.segment_index), {"labels": set(), "reviewed": set()}
        )
        entry["reviewed"].add(category)
        if stored.decision is Decision.CONFIRMED:
            entry["labels"].add(category)
        used += 1
    lines = []
    loaded: dict[int, tuple[Contact, list[Segment]]] = {}  # each contact read once
    for (contact_id, index), entry in sorted(by_segment.items()):
        if contact_id not in loaded:
            loaded[contact_id] = (store.contact(contact_id), store.segments(contact_id))
        contact, segments = loaded[contact_id]
        if not 0 <= index < len(segments):
            continue
        segment = segments[index]
        party = contact.party_reached.value
        item = {
            "id": f"review-{contact.external_id}-{index}",
            "text": mask(segment.text),
            "speaker": segment.speaker.value,
            "language": contact.language or guess_language(segment.text) or "zh",
            "labels": sorted(entry["labels"]),
            "reviewed": sorted(entry["reviewed"]),
            "party": party if party in ("debtor", "third_party") else "debtor",
            "note": f"from review decisions on contact {contact.external_id}",
        }
        lines.append(json.dumps(item, ensure_ascii=False))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    except OSError as exc:
        raise ReviewError(f"{path}: cannot write: {exc.strerror or exc}") from exc
    return len(lines), used
