"""A compiled rule pack: text rules, call-level procedure rules and contact-metadata rules."""

from __future__ import annotations

import bisect
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from auditor import textmask
from auditor.engine.loader import (
    MODELS_FOLDER,
    LoadedPack,
    LoadedRule,
    load_pack_folder,
    pack_files,
    pack_folders,
    ruleset_version,
)
from auditor.engine.matchers import (
    CompiledCond,
    CompiledUnless,
    Hits,
    Match,
    PhraseCond,
    TextMatchers,
    compile_cond,
    compile_unless,
    cond_leaves,
)
from auditor.engine.recognizers import PiiHit
from auditor.engine.schema import Frequency, PackSettings, Rule
from auditor.errors import RuleError
from auditor.models import (
    Channel,
    Contact,
    Direction,
    Evidence,
    Finding,
    Party,
    Segment,
    Speaker,
)
from auditor.textnorm import NormalizedText, guess_language, normalize

log = logging.getLogger(__name__)

# A rule for the collector also runs on speech of unknown speaker (mono recordings), less sure.
UNKNOWN_SPEAKER_FACTOR = 0.7


@dataclass
class Turn:
    """Consecutive segments of one speaker, joined so phrases and numbers split by ASR meet."""

    speaker: Speaker
    indices: list[int]
    starts: list[int]  # offset of each segment's text in `text`
    text: str
    norm: NormalizedText
    language: str

    def locate(self, offset: int) -> tuple[int, int]:
        """(position in `indices`, offset inside that segment's text) of a `text` offset."""
        pos = 0
        for k, start in enumerate(self.starts):
            if start <= offset:
                pos = k
        return pos, offset - self.starts[pos]


@dataclass
class CompiledRule:
    rule: Rule
    path: Path
    pack: str
    settings: PackSettings
    cond: CompiledCond | None = None
    unless: list[CompiledUnless] = field(default_factory=list)
    call_conds: dict[str, CompiledCond] = field(default_factory=dict)
    # ids of every phrase / regex / token pattern / recognizer its match uses: a text with
    # none of them among its hits cannot match, so the rule is not evaluated there
    leaves: frozenset[tuple[str, Any]] = frozenset()

    @property
    def id(self) -> str:
        return self.rule.id


def _zone(name: str, fallback: str) -> ZoneInfo:
    for candidate in (name, fallback, "UTC"):
        if not candidate:
            continue
        try:
            return ZoneInfo(candidate)
        except (ZoneInfoNotFoundError, ValueError):
            log.warning("unknown time zone %r; trying %r", candidate, fallback)
    return ZoneInfo("UTC")


def _hhmm(value: str) -> time:
    hours, minutes = value.split(":")
    if hours == "24":
        return time(23, 59, 59)
    return time(int(hours), int(minutes))


class RulePack:
    """One or more rule packs compiled together (pack "all" = cn + us)."""

    def __init__(self, packs: list[LoadedPack], overrides: dict[str, int | None] | None = None):
        self.packs = packs
        self.name = "+".join(p.settings.name for p in packs)
        self.files = [f for p in packs for f in pack_files(p.path)]
        self.version = ruleset_version(self.files)
        self.overrides = dict(overrides or {})
        self.matchers: dict[str, TextMatchers] = {}
        self.rules: list[CompiledRule] = []
        self._markers: dict[str, PhraseCond] = {}
        self.settings_by_language: dict[str, PackSettings] = {}
        for pack in packs:
            self.settings_by_language.setdefault(pack.settings.language, pack.settings)
            for loaded in pack.rules:
                self.rules.append(self._compile(loaded, pack.settings, pack.path))
            if pack.settings.third_party_markers:
                tm = self._matchers(pack.settings.language)
                self._markers[pack.settings.language] = PhraseCond(
                    [tm.phrase_id(p) for p in pack.settings.third_party_markers], tm
                )
        for tm in self.matchers.values():
            tm.finish()
        self.by_id = {r.id: r for r in self.rules}
        log.info("compiled %d rules of %s (version %s)", len(self.rules), self.name, self.version)

    # -- compiling --------------------------------------------------------------------------
    def _matchers(self, language: str) -> TextMatchers:
        if language not in self.matchers:
            self.matchers[language] = TextMatchers()
        return self.matchers[language]

    def _compile(self, loaded: LoadedRule, settings: PackSettings, pack_dir: Path) -> CompiledRule:
        rule = loaded.rule
        compiled = CompiledRule(rule=rule, path=loaded.path, pack=loaded.pack, settings=settings)
        # A rule's phrases go into the automaton of each language it runs on.
        language = rule.languages[0]
        tm = self._matchers(language)
        tm.current_rule = rule.id
        tm.model_dir = pack_dir / MODELS_FOLDER
        try:
            if rule.match is not None:
                compiled.cond = compile_cond(rule.match, tm, language)
                compiled.unless = compile_unless(rule.unless, tm)
                compiled.leaves = frozenset(cond_leaves(compiled.cond))
            elif rule.call is not None:
                spec = rule.call.absence or rule.call.sequence
                if rule.call.absence is not None:
                    compiled.call_conds["cond"] = compile_cond(rule.call.absence.cond, tm, language)
                    if rule.call.absence.only_if is not None:
                        compiled.call_conds["only_if"] = compile_cond(
                            rule.call.absence.only_if, tm, language
                        )
                elif rule.call.sequence is not None:
                    compiled.call_conds["event"] = compile_cond(
                        rule.call.sequence.event, tm, language
                    )
                    compiled.call_conds["required"] = compile_cond(
                        rule.call.sequence.required, tm, language
                    )
                del spec
            for extra in rule.languages[1:]:
                if extra != language:
                    raise ValueError("a text rule lists one language; write one rule per language")
        except ValueError as exc:
            raise RuleError(f"{loaded.path}: rule {rule.id}: match: {exc}") from exc
        return compiled

    # -- helpers ----------------------------------------------------------------------------
    def _settings(self, language: str) -> PackSettings:
        if language in self.settings_by_language:
            return self.settings_by_language[language]
        return self.packs[0].settings

    def contact_language(self, contact: Contact, segments: list[Segment] | None = None) -> str:
        if contact.language in self.settings_by_language:
            return contact.language
        if segments:
            guessed = guess_language(" ".join(s.text for s in segments))
            if guessed:
                return guessed
        if len(self.settings_by_language) == 1:
            return next(iter(self.settings_by_language))
        zone = contact.timezone or ""
        if zone.startswith(
            (
                "Asia/Shanghai",
                "Asia/Chongqing",
                "Asia/Hong_Kong",
                "Asia/Taipei",
                "Asia/Urumqi",
                "Asia/Harbin",
                "Asia/Macau",
                "PRC",
            )
        ):
            return "zh"
        if zone.startswith(("America/", "US/", "Pacific/Honolulu")):
            return "en"
        return self.packs[0].settings.language

    def _applies(self, rule: CompiledRule, contact: Contact, language: str) -> bool:
        r = rule.rule
        if r.status == "deprecated" or language not in r.languages:
            return False
        return contact.channel in r.channels

    def _setting(self, rule: CompiledRule, name: str, default: int | None) -> int | None:
        key = f"{rule.pack}.{name}"
        if key in self.overrides:
            return self.overrides[key]
        if name in self.overrides:
            return self.overrides[name]
        return rule.settings.settings.get(name, default)

    @staticmethod
    def _turns(segments: list[Segment], language: str) -> list[Turn]:
        turns: list[Turn] = []
        group: list[int] = []

        def close() -> None:
            if not group:
                return
            starts, parts, pos = [], [], 0
            for idx in group:
                starts.append(pos)
                parts.append(segments[idx].text)
                pos += len(segments[idx].text) + 1
            text = " ".join(parts)
            turns.append(
                Turn(
                    segments[group[0]].speaker, list(group), starts, text, normalize(text), language
                )
            )

        for idx, seg in enumerate(segments):
            if group and segments[group[-1]].speaker != seg.speaker:
                close()
                group = []
            group.append(idx)
        close()
        return turns

    def _finding(
        self,
        contact: Contact,
        rule: CompiledRule,
        turn: Turn,
        segments: list[Segment],
        m: Match,
        factor: float,
        why_extra: str = "",
    ) -> Finding:
        o_start, o_end = turn.norm.original_span(m.start, m.end)
        pos, local_start = turn.locate(o_start)
        end_pos, local_end = turn.locate(max(o_start, o_end - 1))
        seg_index = turn.indices[pos]
        seg = segments[seg_index]
        end_seg = segments[turn.indices[end_pos]]
        span_end = local_end + 1 if end_pos == pos else len(seg.text)
        span_end = min(span_end, len(seg.text))
        start_s = _interpolate(seg, local_start)
        end_s = _interpolate(end_seg, local_end + 1)
        quote = textmask.mask_text(turn.text[o_start:o_end])
        why = m.why + (f"; {why_extra}" if why_extra else "")
        confidence = round(max(0.05, min(1.0, rule.rule.confidence_value * m.factor * factor)), 3)
        return Finding(
            contact_id=contact.id if contact.id is not None else 0,
            segment_index=seg_index,
            rule_id=rule.id,
            ruleset_version=self.version,
            category=rule.rule.category,
            severity=rule.rule.severity,
            confidence=confidence,
            speaker=turn.speaker,
            span=(local_start, span_end),
            start_s=start_s,
            end_s=max(start_s, end_s),
            quote=quote,
            evidence=Evidence(matcher=m.matcher, pattern=m.pattern, why=why),
            status=rule.rule.status,
        )

    def _contact_finding(
        self,
        contact: Contact,
        rule: CompiledRule,
        matcher: str,
        pattern: str,
        why: str,
        quote: str,
        related: tuple[int, ...] = (),
        start_s: float = 0.0,
        end_s: float | None = None,
    ) -> Finding:
        return Finding(
            contact_id=contact.id if contact.id is not None else 0,
            segment_index=None,
            rule_id=rule.id,
            ruleset_version=self.version,
            category=rule.rule.category,
            severity=rule.rule.severity,
            confidence=rule.rule.confidence_value,
            speaker=Speaker.COLLECTOR,
            span=(0, 0),
            start_s=start_s,
            end_s=end_s if end_s is not None else (contact.duration_s or start_s),
            quote=quote,  # built here from metadata, never from what was said
            evidence=Evidence(matcher=matcher, pattern=pattern, why=why),
            related_contact_ids=tuple(sorted(related)),
            status=rule.rule.status,
        )

    # -- scanning one contact ---------------------------------------------------------------
    def scan(
        self,
        contact: Contact,
        segments: list[Segment],
        *,
        call_rules: bool = True,
        contact_rules: bool = True,
        only: set[str] | None = None,
        errors: list[str] | None = None,
    ) -> list[Finding]:
        """Findings of the text, procedure and hours rules on one contact.

        A regex that times out is skipped for that text; when `errors` is given, a line per
        timeout is appended to it (the scan stage records them as failures of the run).
        """
        language = self.contact_language(contact, segments)
        rules = [
            r
            for r in self.rules
            if self._applies(r, contact, language) and (only is None or r.id in only)
        ]
        findings: list[Finding] = []
        turns = self._turns(segments, language)
        tm = self.matchers.get(language)
        # The whole transcript in one pass: one automaton run and each regex once over the
        # turns joined by ".\n" (a sentence end no pattern crosses), then the hits are split
        # back per turn; a hit that spans two turns is dropped.
        joined = _JOINER.join(t.norm.text for t in turns)
        whole = tm.scan(joined, language) if tm is not None and turns else Hits(text=joined)
        hits_by_turn = _split_hits(whole, [t.norm.text for t in turns])
        if errors is not None:
            for hits in hits_by_turn:
                errors.extend(
                    f"regex {pattern!r} timed out (rules: {', '.join(self._regex_rules(pattern))})"
                    for pattern in hits.regex_errors
                )
        hit_keys = [_hit_keys(h) for h in hits_by_turn]
        third_party = self._third_party(contact, turns, hits_by_turn, language)
        mono = bool(segments) and all(s.speaker == Speaker.UNKNOWN for s in segments)
        for rule in rules:
            r = rule.rule
            if (r.party == "third_party" and not third_party[0]) or (
                r.party == "debtor" and third_party[0]
            ):
                continue
            if rule.cond is not None:
                for turn, hits, keys in zip(turns, hits_by_turn, hit_keys, strict=True):
                    if rule.leaves.isdisjoint(keys):
                        continue
                    factor = self._speaker_factor(r.speaker, turn.speaker)
                    if factor == 0.0:
                        continue
                    kept = _merge_overlaps(
                        m
                        for m in rule.cond.evaluate(hits)
                        if not any(u.excuses(hits.text, m, hits) for u in rule.unless)
                    )
                    extra = third_party[1] if r.party == "third_party" else ""
                    findings.extend(
                        self._finding(contact, rule, turn, segments, m, factor, extra) for m in kept
                    )
            elif rule.call_conds and call_rules:
                findings.extend(self._call_rule(contact, rule, turns, hits_by_turn, segments, mono))
            elif r.contact is not None and r.contact.hours is not None and contact_rules:
                finding = self._hours(contact, rule)
                if finding is not None:
                    findings.append(finding)
        findings.sort(
            key=lambda f: (
                f.segment_index if f.segment_index is not None else -1,
                f.span[0],
                f.rule_id,
            )
        )
        return findings

    def _regex_rules(self, pattern: str) -> list[str]:
        return sorted({rid for tm in self.matchers.values() for rid in tm.regex_owners[pattern]})

    @staticmethod
    def _speaker_factor(rule_speaker: str, speaker: Speaker) -> float:
        if rule_speaker == "any" or speaker.value == rule_speaker:
            return 1.0
        if speaker == Speaker.UNKNOWN:
            return UNKNOWN_SPEAKER_FACTOR
        return 0.0

    def _third_party(
        self, contact: Contact, turns: list[Turn], hits: list[Hits], language: str
    ) -> tuple[bool, str]:
        if contact.party_reached == Party.THIRD_PARTY:
            return True, "the party reached is not the debtor (contact metadata)"
        if contact.party_reached == Party.DEBTOR:
            return False, ""
        marker = self._markers.get(language)
        if marker is None:
            return False, ""
        for h in hits:
            found = marker.evaluate(h)
            if found:
                return True, f"the words {found[0].pattern!r} show someone other than the debtor"
        return False, ""

    def _call_rule(
        self,
        contact: Contact,
        rule: CompiledRule,
        turns: list[Turn],
        hits: list[Hits],
        segments: list[Segment],
        mono: bool,
    ) -> list[Finding]:
        if contact.channel == Channel.CALL and (not contact.connected or not segments):
            return []
        if not any(s.speaker in (Speaker.COLLECTOR, Speaker.UNKNOWN) for s in segments):
            return []
        r = rule.rule
        call = r.call
        assert call is not None

        def timed(cond: CompiledCond, speaker: str) -> list[tuple[float, int, Turn, Match]]:
            out = []
            for turn, h in zip(turns, hits, strict=True):
                if speaker != "any" and turn.speaker.value != speaker and not mono:
                    continue
                for m in cond.evaluate(h):
                    o_start, _ = turn.norm.original_span(m.start, m.end)
                    pos, local = turn.locate(o_start)
                    seg = segments[turn.indices[pos]]
                    out.append((_interpolate(seg, local), turn.indices[pos], turn, m))
            out.sort(key=lambda x: (x[0], x[1], x[3].start))
            return out

        if call.absence is not None:
            spec = call.absence
            if "only_if" in rule.call_conds and not timed(rule.call_conds["only_if"], "any"):
                return []
            # A message has no timeline: anywhere in its text counts.
            limit = spec.within_s if contact.channel == Channel.CALL else float("inf")
            said = [x for x in timed(rule.call_conds["cond"], spec.speaker) if x[0] < limit]
            if said:
                return []
            last = max((s.end_s for s in segments), default=0.0)
            end_s = min(spec.within_s, last) if contact.channel == Channel.CALL else 0.0
            what = r.title
            return [
                self._contact_finding(
                    contact,
                    rule,
                    "call:absence",
                    f"absent within {spec.within_s:g}s",
                    f"not said by the {spec.speaker} in the first {spec.within_s:g} s: {what}",
                    quote="",
                    end_s=end_s,
                )
            ]
        spec_seq = call.sequence
        assert spec_seq is not None
        events = timed(rule.call_conds["event"], spec_seq.event_speaker)
        if not events:
            return []
        required = timed(rule.call_conds["required"], spec_seq.required_speaker)
        t_event, seg_index, turn, m = events[0]
        if required and (required[0][1], required[0][0]) <= (seg_index, t_event):
            return []
        why = (
            f"{m.pattern!r} said at {t_event:.1f}s before "
            + ("any" if not required else f"the first ({required[0][0]:.1f}s)")
            + " identity verification"
        )
        finding = self._finding(contact, rule, turn, segments, m, 1.0)
        return [
            Finding(**{**_asdict(finding), "evidence": Evidence("call:sequence", m.pattern, why)})
        ]

    def _hours(self, contact: Contact, rule: CompiledRule) -> Finding | None:
        if contact.direction != Direction.OUTBOUND:
            return None
        assert rule.rule.contact is not None and rule.rule.contact.hours is not None
        spec = rule.rule.contact.hours
        start = _hhmm(spec.start or rule.settings.hours.start or "08:00")
        end = _hhmm(spec.end or rule.settings.hours.end or "22:00")
        zone = _zone(contact.timezone, rule.settings.timezone)
        local = contact.started_at.astimezone(zone)
        if start <= local.time() < end:
            return None
        when = local.strftime("%Y-%m-%d %H:%M")
        return self._contact_finding(
            contact,
            rule,
            "contact:hours",
            f"{start:%H:%M}-{end:%H:%M}",
            f"{contact.channel.value} at {when} {zone.key} (debtor's local time), outside "
            f"{start:%H:%M}-{end:%H:%M}",
            quote=f"{contact.channel.value} {when} {zone.key}",
        )

    # -- scanning across contacts -----------------------------------------------------------
    def scan_contacts(
        self,
        contacts: list[Contact],
        *,
        only: set[str] | None = None,
        rule_defaults: bool = False,
    ) -> dict[int, list[Finding]]:
        """Frequency findings across contacts, keyed by contact id (every contact has a key)."""
        out: dict[int, list[Finding]] = {(c.id if c.id is not None else 0): [] for c in contacts}
        by_account: dict[str, list[Contact]] = defaultdict(list)
        for c in contacts:
            by_account[c.account_id].append(c)
        freq_rules = [
            r
            for r in self.rules
            if r.rule.contact is not None
            and r.rule.contact.frequency is not None
            and r.rule.status != "deprecated"
            and (only is None or r.id in only)
        ]
        for account_contacts in by_account.values():
            account_contacts.sort(key=lambda c: (c.started_at, c.id or 0))
            for rule in freq_rules:
                eligible = [
                    c for c in account_contacts if self.contact_language(c) in rule.rule.languages
                ]
                for finding in self._frequency(rule, eligible, rule_defaults):
                    out.setdefault(finding.contact_id, []).append(finding)
        return out

    def _frequency(
        self, rule: CompiledRule, contacts: list[Contact], rule_defaults: bool = False
    ) -> list[Finding]:
        """`rule_defaults`: use the rule's own cap, not the pack setting (for its examples)."""
        assert rule.rule.contact is not None and rule.rule.contact.frequency is not None
        spec: Frequency = rule.rule.contact.frequency
        limit = spec.max
        if spec.setting is not None and not rule_defaults:
            limit = self._setting(rule, spec.setting, spec.max)
            if limit is None:
                return []  # the user left this cap unset

        def counted(c: Contact) -> bool:
            if c.channel not in spec.channels:
                return False
            if spec.direction != "any" and c.direction.value != spec.direction:
                return False
            return spec.connected is None or c.connected == spec.connected

        def local_date(c: Contact) -> Any:
            return c.started_at.astimezone(_zone(c.timezone, rule.settings.timezone)).date()

        counted_contacts = [c for c in contacts if counted(c)]
        findings = []
        if spec.after_conversation is not None:
            conversations = [
                c
                for c in contacts
                if c.channel == Channel.CALL
                and c.connected
                and c.party_reached != Party.THIRD_PARTY
            ]
            for c in counted_contacts:
                prior = [
                    v
                    for v in conversations
                    if v.started_at < c.started_at
                    and v is not c
                    and (local_date(c) - local_date(v)).days < spec.after_conversation
                ]
                if prior:
                    conv = prior[-1]
                    when = conv.started_at.astimezone(_zone(conv.timezone, rule.settings.timezone))
                    findings.append(
                        self._contact_finding(
                            c,
                            rule,
                            "contact:after_conversation",
                            f"{spec.after_conversation} days after a conversation",
                            f"call placed within {spec.after_conversation} days (conversation day "
                            "= "
                            f"day 1) after the telephone conversation of {when:%Y-%m-%d %H:%M}",
                            quote=f"{c.channel.value} {local_date(c)}",
                            related=tuple(v.id for v in prior if v.id is not None),
                        )
                    )
            return findings
        assert limit is not None
        days = 1 if spec.window == "day" else spec.days
        for i, c in enumerate(counted_contacts):
            d = local_date(c)
            window = [
                v
                for v in counted_contacts[: i + 1]
                if timedelta(0) <= d - local_date(v) < timedelta(days=days)
            ]
            if len(window) > limit:
                span = "day" if days == 1 else f"{days} days"
                findings.append(
                    self._contact_finding(
                        c,
                        rule,
                        "contact:frequency",
                        f"more than {limit} per {span}",
                        f"contact {len(window)} on account {c.account_id} within {span} ending "
                        f"{d} (limit {limit})",
                        quote=f"{c.channel.value} #{len(window)} within {span} ending {d}",
                        related=tuple(v.id for v in window if v is not c and v.id is not None),
                    )
                )
        return findings

    # -- convenience for examples and evaluation --------------------------------------------
    def scan_text(
        self,
        text: str,
        *,
        speaker: str = "collector",
        language: str = "",
        party: str = "unknown",
        channel: str = "call",
        only: set[str] | None = None,
    ) -> list[Finding]:
        """Findings of the text rules on one utterance (no call-level or metadata rules)."""
        contact = Contact(
            external_id="utterance",
            channel=Channel(channel),
            collector_id="",
            account_id="",
            started_at=datetime(2026, 1, 5, 2, 0, tzinfo=ZoneInfo("UTC")),
            timezone="UTC",
            party_reached=Party(party),
            language=language,
            id=0,
        )
        seg = Segment(speaker=Speaker(speaker), start_s=0.0, end_s=0.0, text=text)
        return self.scan(contact, [seg], call_rules=False, contact_rules=False, only=only)


_JOINER = ".\n"


def _split_hits(whole: Hits, texts: list[str]) -> list[Hits]:
    """Per-turn Hits (offsets into each turn's text) from the hits of the joined text."""
    bounds = []
    pos = 0
    for text in texts:
        bounds.append((pos, pos + len(text)))
        pos += len(text) + len(_JOINER)
    out = [Hits(text=text) for text in texts]
    if not texts:
        return out
    starts = [b[0] for b in bounds]

    def where(s: int, e: int) -> int | None:
        k = bisect.bisect_right(starts, s) - 1
        if k < 0 or e > bounds[k][1]:
            return None
        return k

    for pid, spans in whole.phrases.items():
        for s, e, py in spans:
            k = where(s, e)
            if k is not None:
                out[k].phrases.setdefault(pid, []).append((s - starts[k], e - starts[k], py))
    for rid, rspans in whole.regexes.items():
        for s, e in rspans:
            k = where(s, e)
            if k is not None:
                out[k].regexes.setdefault(rid, []).append((s - starts[k], e - starts[k]))
    for tid, tspans in whole.tokens.items():
        for s, e in tspans:
            k = where(s, e)
            if k is not None:
                out[k].tokens.setdefault(tid, []).append((s - starts[k], e - starts[k]))
    for hit in whole.pii:
        k = where(hit.start, hit.end)
        if k is not None:
            out[k].pii.append(
                PiiHit(
                    hit.kind,
                    hit.start - starts[k],
                    hit.end - starts[k],
                    hit.score,
                    hit.why,
                    hit.digits,
                )
            )
    for k in range(len(out)):
        out[k].models = dict.fromkeys(whole.models)  # scored per turn, when a rule asks
    if out:
        out[0].regex_errors.extend(whole.regex_errors)
    return out


def _hit_keys(hits: Hits) -> set[tuple[str, Any]]:
    keys: set[tuple[str, Any]] = {("phrase", pid) for pid in hits.phrases}
    keys.update(("regex", rid) for rid in hits.regexes)
    keys.update(("tokens", tid) for tid in hits.tokens)
    keys.update(("pii", h.kind) for h in hits.pii)
    keys.update(("model", name) for name in hits.models)
    return keys


def _merge_overlaps(matches: Any) -> list[Match]:
    """One match per overlapping group, spanning the union (near + phrase on the same words)."""
    kept: list[Match] = []
    for m in sorted(matches, key=lambda x: (x.start, -x.end)):
        if kept and m.start < kept[-1].end:
            last = kept[-1]
            if m.end > last.end:
                kept[-1] = Match(
                    last.start,
                    m.end,
                    last.matcher,
                    last.pattern,
                    last.why,
                    max(last.factor, m.factor),
                )
            continue
        kept.append(m)
    return kept


def _interpolate(seg: Segment, offset: int) -> float:
    if not seg.text or seg.end_s <= seg.start_s:
        return seg.start_s
    share = max(0.0, min(1.0, offset / len(seg.text)))
    return round(seg.start_s + (seg.end_s - seg.start_s) * share, 3)


def _asdict(finding: Finding) -> dict[str, Any]:
    return {name: getattr(finding, name) for name in finding.__dataclass_fields__}


_CACHE: dict[tuple[Any, ...], RulePack] = {}


def load_pack(
    name_or_path: str | Path = "cn", overrides: dict[str, int | None] | None = None
) -> RulePack:
    """Load and compile a pack ("cn", "us", "all" or a folder); cached per process and version."""
    folders = pack_folders(name_or_path)
    # The key hashes the files' bytes only, so a cached pack costs no YAML parsing; the same
    # files always give the same `RulePack.version`.
    key = (
        tuple(str(f) for f in folders),
        ruleset_version([f for folder in folders for f in pack_files(folder)]),
        tuple(sorted((overrides or {}).items())),
    )
    if key not in _CACHE:
        _CACHE[key] = RulePack([load_pack_folder(f) for f in folders], overrides)
    return _CACHE[key]
