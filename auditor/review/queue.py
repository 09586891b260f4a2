"""The review queue: findings in the order a quality team should look at them, each with the words
around its quote, masked for personal data."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select

from auditor.errors import ReviewError
from auditor.models import Segment, Severity, Speaker
from auditor.store import Store, StoredFinding
from auditor.store import schema as t

log = logging.getLogger(__name__)

STATUSES = ("open", "confirmed", "dismissed", "all")
CONTEXT_CHARS = 30  # on each side of the quote: about a clause of Chinese, a few English words


def masker() -> Callable[[str], str]:
    """The project's one masking function, imported when first needed.

    Review output shows real transcripts, so without the masker it refuses to show anything rather
    than show unmasked ID, card or phone numbers.
    """
    try:
        from auditor.textmask import mask_text
    except ImportError as exc:
        raise ReviewError(
            "auditor.textmask is not available, so transcripts cannot be masked for personal "
            f"data; review output is refused until it is installed ({exc})"
        ) from exc
    return mask_text


@dataclass(frozen=True, slots=True)
class Context:
    """The quote with the words around it, all masked; `before + quote + after` reads as said."""

    before: str
    quote: str
    after: str

    def marked(self, left: str = "【", right: str = "】") -> str:
        return f"{self.before}{left}{self.quote}{right}{self.after}"


@dataclass(frozen=True, slots=True)
class QueueItem:
    stored: StoredFinding
    context: Context
    status: str  # open | confirmed | dismissed

    @property
    def id(self) -> int:
        return self.stored.id

    @property
    def local_time(self) -> datetime:
        """When the contact started, on the debtor's clock (what the reviewer compares with)."""
        return local_time(self.stored)


def local_time(stored: StoredFinding) -> datetime:
    try:
        return stored.started_at.astimezone(ZoneInfo(stored.timezone))
    except (ZoneInfoNotFoundError, ValueError):
        return stored.started_at


def status_of(stored: StoredFinding) -> str:
    return "open" if stored.decision is None else stored.decision.value


def _word_start(text: str, at: int) -> int:
    """Move a cut point left so it does not split a Latin word (Chinese has no spaces to find)."""
    while 0 < at < len(text) and text[at - 1].isascii() and text[at - 1].isalnum():
        if not (text[at].isascii() and text[at].isalnum()):
            break
        at -= 1
    return at


def _word_end(text: str, at: int) -> int:
    while 0 < at < len(text) and text[at].isascii() and text[at].isalnum():
        if not (text[at - 1].isascii() and text[at - 1].isalnum()):
            break
        at += 1
    return at


def masked_parts(text: str, start: int, end: int, mask: Callable[[str], str]) -> tuple[str, ...]:
    """(before, match, after) of `text`, masked as a whole so that a number crossing a cut is
    still recognised. Digit masking keeps lengths, so the cuts stay where they were; when a
    replacement changed the length (an e-mail), each part is masked on its own instead."""
    whole = mask(text)
    if len(whole) == len(text):
        return whole[:start], whole[start:end], whole[end:]
    return mask(text[:start]), mask(text[start:end]), mask(text[end:])


def quote_context(
    stored: StoredFinding,
    segments: list[Segment],
    mask: Callable[[str], str],
    chars: int = CONTEXT_CHARS,
) -> Context:
    """The finding's quote in its segment, with up to `chars` characters each side."""
    finding = stored.finding
    index = finding.segment_index
    if index is None or not 0 <= index < len(segments):
        # A finding on the contact as a whole (hours, frequency) has no words around it.
        return Context("", mask(finding.quote), "")
    text = segments[index].text
    start, end = finding.span
    if not 0 <= start <= end <= len(text):
        log.warning(
            "finding %d: span %s is outside its segment's text; showing its quote alone",
            stored.id,
            finding.span,
        )
        return Context("", mask(finding.quote), "")
    before, match, after = masked_parts(text, start, end, mask)
    cut_before = _word_start(before, max(0, len(before) - chars))
    cut_after = _word_end(after, min(len(after), chars))
    return Context(
        ("…" if cut_before > 0 else "") + before[cut_before:],
        match,
        after[:cut_after] + ("…" if cut_after < len(after) else ""),
    )


def _severity_at_least(name: str | None) -> int:
    if name is None:
        return 0
    try:
        return Severity(name.lower()).rank
    except ValueError:
        allowed = ", ".join(s.value for s in Severity)
        raise ReviewError(f"unknown severity {name!r}; use one of {allowed}") from None


def queue_order(stored: StoredFinding) -> tuple[float | int | str, ...]:
    """Most severe first, then most confident, then oldest (contact start, then offset)."""
    finding = stored.finding
    return (
        -finding.severity.rank,
        -finding.confidence,
        stored.started_at.isoformat(),
        finding.start_s,
        stored.id,
    )


def select_findings(
    store: Store,
    status: str = "open",
    collector_id: str | None = None,
    category: str | None = None,
    min_severity: str | None = None,
) -> list[StoredFinding]:
    """The findings of the queue in queue order, without their context (cheap: no masking)."""
    if status not in STATUSES:
        raise ReviewError(f"unknown status {status!r}; use one of {', '.join(STATUSES)}")
    floor = _severity_at_least(min_severity)
    chosen = [
        s
        for s in store.findings(collector_id=collector_id, category=category)
        if (status == "all" or status_of(s) == status) and s.finding.severity.rank >= floor
    ]
    chosen.sort(key=queue_order)
    return chosen


def review_queue(
    store: Store,
    status: str = "open",
    collector_id: str | None = None,
    category: str | None = None,
    min_severity: str | None = None,
    limit: int | None = None,
    mask: Callable[[str], str] | None = None,
) -> list[QueueItem]:
    """Findings to review, most severe first, each with its masked context; `status` picks by
    the latest decision (open: none yet)."""
    if limit is not None and limit < 0:
        raise ReviewError(f"--limit must be 0 or more, not {limit}")
    mask = mask or masker()
    chosen = select_findings(store, status, collector_id, category, min_severity)
    if limit is not None:
        chosen = chosen[:limit]
    segments: dict[int, list[Segment]] = {}
    items = []
    for stored in chosen:
        contact_id = stored.finding.contact_id
        if contact_id not in segments:
            segments[contact_id] = store.segments(contact_id)
        context = quote_context(stored, segments[contact_id], mask)
        items.append(QueueItem(stored, context, status_of(stored)))
    return items


def find_stored(store: Store, finding_id: int) -> StoredFinding:
    """One finding on a current contact, or a ReviewError naming the id."""
    with store.engine.connect() as conn:
        contact_id = conn.execute(
            select(t.finding.c.contact_id).where(t.finding.c.id == finding_id)
        ).scalar()
    if contact_id is not None:
        for stored in store.findings(contact_id=contact_id):
            if stored.id == finding_id:
                return stored
    raise ReviewError(f"no finding with id {finding_id} on a current contact in {store.url}")


@dataclass(frozen=True, slots=True)
class TranscriptLine:
    index: int
    speaker: Speaker
    start_s: float
    end_s: float
    before: str
    match: str  # non-empty only on the finding's own segment
    after: str

    @property
    def is_finding(self) -> bool:
        return bool(self.match)


def transcript_context(
    stored: StoredFinding,
    segments: list[Segment],
    mask: Callable[[str], str],
    around: int = 3,
) -> list[TranscriptLine]:
    """The segments around the finding's (`around` each side), masked, its quote marked."""
    index = stored.finding.segment_index
    if index is None or not 0 <= index < len(segments):
        return []
    lines = []
    for i in range(max(0, index - around), min(len(segments), index + around + 1)):
        segment = segments[i]
        start, end = stored.finding.span
        if i == index and 0 <= start < end <= len(segment.text):
            before, match, after = masked_parts(segment.text, start, end, mask)
        else:
            before, match, after = mask(segment.text), "", ""
        lines.append(
            TranscriptLine(i, segment.speaker, segment.start_s, segment.end_s, before, match, after)
        )
    return lines


__all__ = [
    "STATUSES",
    "Context",
    "QueueItem",
    "TranscriptLine",
    "find_stored",
    "local_time",
    "masker",
    "quote_context",
    "review_queue",
    "select_findings",
    "status_of",
    "transcript_context",
]
