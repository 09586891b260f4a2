"""Run every rule's own examples (`auditor rules test`): match, no_match and known_miss."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from auditor.engine.pack import CompiledRule, RulePack
from auditor.engine.schema import Example
from auditor.models import Channel, Contact, Direction, Finding, Party, Segment, Speaker


@dataclass(frozen=True)
class ExampleResult:
    rule_id: str
    kind: str  # match | no_match | known_miss
    index: int
    ok: bool
    message: str
    path: str = ""

    def describe(self) -> str:
        state = "ok" if self.ok else "FAIL"
        return f"{state} {self.rule_id} examples.{self.kind}[{self.index}]: {self.message}"


def _example(value: Example | str) -> Example:
    return Example(text=value) if isinstance(value, str) else value


def _contact(
    rule: CompiledRule,
    ex: Example,
    cid: int = 1,
    when: str | None = None,
    channel: Channel | None = None,
    connected: bool = True,
    direction: str = "outbound",
    party: Party | None = None,
) -> Contact:
    zone = ex.timezone or rule.settings.timezone
    local = datetime.fromisoformat(when or ex.time or "2026-11-16T10:00")
    if local.tzinfo is None:
        local = local.replace(tzinfo=ZoneInfo(zone))
    return Contact(
        external_id=f"ex{cid}",
        channel=channel or ex.channel or rule.rule.channels[0],
        collector_id="w01",
        account_id="A1",
        started_at=local.astimezone(ZoneInfo("UTC")),
        timezone=zone,
        party_reached=party or ex.party or Party.UNKNOWN,
        direction=Direction(direction),
        language=ex.language or rule.rule.languages[0],
        connected=connected,
        id=cid,
    )


def example_findings(
    pack: RulePack, rule: CompiledRule, ex: Example
) -> tuple[list[Finding], list[Segment]]:
    """The findings of `rule` alone on one example scene, and the segments it was given."""
    only = {rule.id}
    r = rule.rule
    if ex.contacts is not None:
        contacts = [
            _contact(
                rule,
                ex,
                cid=i + 1,
                when=c.time,
                channel=c.channel,
                connected=c.connected,
                direction=c.direction,
                party=c.party,
            )
            for i, c in enumerate(ex.contacts)
        ]
        by_contact = pack.scan_contacts(contacts, only=only, rule_defaults=True)
        return [f for fs in by_contact.values() for f in fs], []
    default_speaker = ex.speaker or (r.speaker if r.speaker != "any" else "collector")
    if ex.segments is not None:
        segments, clock = [], 0.0
        for s in ex.segments:
            start = s.start if s.start is not None else clock
            end = s.end if s.end is not None else start + 3.0
            segments.append(Segment(Speaker(s.speaker), start, end, s.text))
            clock = end + 0.5
    elif ex.text is not None:
        channel = ex.channel or r.channels[0]
        # Messages are stored as one segment at 0 s (STORE_API.md); calls get a short stretch.
        start, end = (1.0, 4.0) if channel == Channel.CALL else (0.0, 0.0)
        segments = [Segment(Speaker(default_speaker), start, end, ex.text)]
    else:
        segments = []
    contact = _contact(rule, ex)
    return pack.scan(contact, segments, only=only), segments


def _check_match(
    rule: CompiledRule, ex: Example, findings: list[Finding], segments: list[Segment]
) -> tuple[bool, str]:
    if not findings:
        return False, f"no finding on {_label(ex)}"
    if ex.evidence is None:
        return True, f"matched: {findings[0].evidence.why}"
    for f in findings:
        if f.segment_index is None:
            continue
        text = segments[f.segment_index].text
        span_text = text[f.span[0] : f.span[1]]
        if ex.evidence.lower() in span_text.lower():
            return True, f"matched {span_text!r}"
    spans = [
        segments[f.segment_index].text[f.span[0] : f.span[1]]
        for f in findings
        if f.segment_index is not None
    ]
    return False, f"evidence {ex.evidence!r} is not in the matched span(s) {spans}"


def _label(ex: Example) -> str:
    if ex.text is not None:
        return repr(ex.text)
    if ex.segments is not None:
        return f"a call of {len(ex.segments)} segments"
    if ex.contacts is not None:
        return f"{len(ex.contacts)} contacts"
    return f"a contact at {ex.time}"


def run_examples(pack: RulePack, rule_ids: set[str] | None = None) -> list[ExampleResult]:
    results: list[ExampleResult] = []
    for rule in pack.rules:
        if rule_ids is not None and rule.id not in rule_ids:
            continue
        examples = rule.rule.examples
        for kind, items in (
            ("match", examples.match),
            ("no_match", examples.no_match),
            ("known_miss", examples.known_miss),
        ):
            for i, raw in enumerate(items):
                ex = _example(raw)
                findings, segments = example_findings(pack, rule, ex)
                if kind == "match":
                    ok, msg = _check_match(rule, ex, findings, segments)
                elif kind == "no_match":
                    ok = not findings
                    msg = (
                        "no finding"
                        if ok
                        else f"unexpected finding on {_label(ex)}: {findings[0].evidence.why}"
                    )
                else:
                    ok = not findings
                    msg = (
                        "still missed (known)"
                        if ok
                        else f"known miss {_label(ex)} now matches: move it to examples.match"
                    )
                results.append(ExampleResult(rule.id, kind, i, ok, msg, str(rule.path)))
    return results
