"""The rule file and pack file schemas (pydantic): what a rule may say, checked at load.

Unknown keys are refused everywhere (`extra="forbid"`) so a typo in a rule is an error, not a rule
that silently matches less.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from auditor.models import Category, Channel, Party, Severity

RULE_ID = re.compile(r"^[A-Z]{2,4}-[A-Z_]+-\d{3}$")
RECOGNIZERS = ("cn_resident_id", "bank_card", "cn_mobile", "email", "us_ssn", "us_phone", "address")
CONFIDENCE_WORDS = {"high": 0.9, "medium": 0.7, "low": 0.5}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class Near(_Strict):
    """`a` within `within` characters (or tokens) of `b`; either order unless `ordered`."""

    a: list[str]
    b: list[str]
    within: int = Field(ge=0, le=200)
    ordered: bool = False
    unit: Literal["chars", "tokens"] = "chars"

    _lists = field_validator("a", "b", mode="before")(_as_list)


class ModelRef(_Strict):
    """A learned classifier's verdict on one sentence (or two adjacent ones) of a turn.

    `name` is a model file `models/<name>.npz` in the pack folder; the sentence matches when the
    probability of `label` reaches `threshold` (chosen on cross-validated predictions by
    `auditor rules train`, which prints the operating point of each label).
    """

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    label: Literal["threat", "false_claim", "insult", "privacy", "pressure", "procedure"]
    threshold: float = Field(ge=0.5, le=0.999)


class Cond(_Strict):
    """One matcher, or `any` / `all` of several. Exactly one kind per condition."""

    phrase: list[str] | None = None
    # phrase: also match by toneless pinyin (ASR homophones). true = phrases of 3+ characters
    # (two-character pinyin matches too much ordinary speech: 出生/畜生, 看你/砍你); a number
    # sets the shortest phrase that may match by sound (pinyin: 2 for 老赖 → 老来).
    pinyin: bool | int = False
    regex: list[str] | None = None
    near: Near | None = None
    tokens: list[list[dict[str, Any]]] | None = None  # spaCy Matcher patterns
    recognizer: str | None = None
    context: list[str] | None = None  # recognizer: words that mark the number as an ID / card
    model: ModelRef | None = None
    any: list[Cond] | None = None
    all: list[Cond] | None = None

    _lists = field_validator("phrase", "regex", "context", mode="before")(_as_list)

    @model_validator(mode="after")
    def _one_kind(self) -> Cond:
        kinds = [
            k
            for k in ("phrase", "regex", "near", "tokens", "recognizer", "model", "any", "all")
            if getattr(self, k) is not None
        ]
        if len(kinds) != 1:
            raise ValueError(
                "a condition needs exactly one of phrase, regex, near, tokens, recognizer, "
                f"model, any, all; got {kinds or 'none'}"
            )
        if self.pinyin and self.phrase is None and self.near is None:
            raise ValueError("pinyin: true applies to phrase or near only")
        if self.recognizer is not None and self.recognizer not in RECOGNIZERS:
            raise ValueError(f"unknown recognizer {self.recognizer!r}; known: {RECOGNIZERS}")
        for name in ("phrase", "any", "all", "regex", "tokens"):
            value = getattr(self, name)
            if value is not None and len(value) == 0:
                raise ValueError(f"{name} is empty")
        if self.phrase is not None and any(not p.strip() for p in self.phrase):
            raise ValueError("phrase list holds an empty phrase")
        return self


class ModelVeto(_Strict):
    """`unless: - model:`: the learned classifier reads the sentence of the match as clean."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    label: Literal["threat", "false_claim", "insult", "privacy", "pressure", "procedure"]
    below: float = Field(gt=0.0, le=0.5)


class Unless(_Strict):
    """An exception scoped to the match it excuses.

    - negation: a negating phrase ending at most `before` characters before the match, in the
      same clause (我们不会…, we will never…)
    - question: the clause of the match ends in a question (？, 吗, or a leading "are you/do you")
    - quote: the match sits in quotation marks or right after 你说 / you said
    - context: a phrase at most `before` characters before or `after` characters after the match,
      in the same sentence (lawful statements of consequences: 依法, 可能, may)
    - model: the pack's learned classifier gives the sentence of the match a probability of the
      label below `below`: a phrase that fires on a sentence the model reads as clean (他借网贷
      了吗 said by a collector warning against loans) is more often a false alarm than a find
    """

    negation: dict[str, Any] | None = None
    question: bool | None = None
    quote: bool | None = None
    context: dict[str, Any] | None = None
    model: ModelVeto | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Unless:
        kinds = [
            k
            for k in ("negation", "question", "quote", "context", "model")
            if getattr(self, k) is not None
        ]
        if len(kinds) != 1:
            raise ValueError(
                f"an exception needs exactly one of negation, question, quote, "
                f"context, model; got {kinds or 'none'}"
            )
        for name in ("negation", "context"):
            spec = getattr(self, name)
            if spec is None:
                continue
            unknown = set(spec) - {"phrase", "before", "after"}
            if unknown:
                raise ValueError(f"{name}: unknown keys {sorted(unknown)}")
            if "phrase" not in spec:
                raise ValueError(f"{name}: needs a phrase list")
            spec["phrase"] = _as_list(spec["phrase"])
            if not all(isinstance(p, str) and p.strip() for p in spec["phrase"]):
                raise ValueError(
                    f"{name}.phrase: every phrase must be a non-empty string (YAML reads "
                    "unquoted no, yes, on, off as booleans: quote them)"
                )
            for key in ("before", "after"):
                if key in spec and not (isinstance(spec[key], int) and 0 <= spec[key] <= 200):
                    raise ValueError(f"{name}.{key}: an integer between 0 and 200")
        return self


class Absence(_Strict):
    """A call-level finding when `cond` is not said by `speaker` in the first `within_s` seconds."""

    cond: Cond
    speaker: Literal["collector", "customer", "any"] = "collector"
    within_s: float = 30.0
    only_if: Cond | None = None  # the rule applies only to calls where this is said (by anyone)


class Sequence(_Strict):
    """A call-level finding when `event` (by `event_speaker`) comes before any `required`."""

    event: Cond
    event_speaker: Literal["collector", "customer", "any"] = "collector"
    required: Cond
    required_speaker: Literal["collector", "customer", "any"] = "any"


class Hours(_Strict):
    start: str | None = None  # "08:00"; pack default when absent
    end: str | None = None

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"([01]\d|2[0-4]):[0-5]\d", v):
            raise ValueError(f"{v!r} is not HH:MM")
        return v


class Frequency(_Strict):
    """More than `max` counted contacts per account in a window → a finding on each extra one.

    `window: day` is the debtor's local calendar day; `days: N` a sliding window of N days.
    `after_conversation: N` instead flags any counted contact within N days (the conversation
    day being day 1) after a connected conversation with the debtor (Reg F 1006.14(b)(2)(ii)).
    """

    max: int | None = Field(default=None, ge=0)
    window: Literal["day", "days"] = "days"
    days: int = Field(default=1, ge=1, le=366)
    after_conversation: int | None = Field(default=None, ge=1, le=30)
    channels: list[Channel] = [Channel.CALL]
    connected: bool | None = None  # True: connected only; False: unanswered only; None: both
    direction: Literal["outbound", "inbound", "any"] = "outbound"
    setting: str | None = None  # pack.yaml setting that overrides `max` (user-configurable caps)

    @model_validator(mode="after")
    def _one(self) -> Frequency:
        if (self.max is None) == (self.after_conversation is None):
            raise ValueError("frequency needs exactly one of max, after_conversation")
        return self


class ContactRule(_Strict):
    hours: Hours | None = None
    frequency: Frequency | None = None

    @model_validator(mode="after")
    def _one(self) -> ContactRule:
        if (self.hours is None) == (self.frequency is None):
            raise ValueError("contact needs exactly one of hours, frequency")
        return self


class CallRule(_Strict):
    absence: Absence | None = None
    sequence: Sequence | None = None

    @model_validator(mode="after")
    def _one(self) -> CallRule:
        if (self.absence is None) == (self.sequence is None):
            raise ValueError("call needs exactly one of absence, sequence")
        return self


class Citation(_Strict):
    law: str
    article: str = ""
    summary: str
    kind: Literal["law", "regulation", "self-regulation", "recommended standard"]


class ExampleSegment(_Strict):
    speaker: Literal["collector", "customer", "unknown"] = "collector"
    text: str
    start: float | None = None
    end: float | None = None


class ExampleContact(_Strict):
    time: str  # local wall-clock ISO time in the example's timezone
    channel: Channel = Channel.CALL
    connected: bool = True
    direction: Literal["outbound", "inbound"] = "outbound"
    party: Party = Party.DEBTOR


class Example(_Strict):
    """A rule example: a string (spoken by the rule's speaker) or a richer scene."""

    text: str | None = None
    evidence: str | None = None  # must lie inside the finding's span
    speaker: Literal["collector", "customer", "unknown"] | None = None
    party: Party | None = None
    channel: Channel | None = None
    language: str | None = None
    time: str | None = None  # for hours rules: local time of the contact
    timezone: str | None = None
    segments: list[ExampleSegment] | None = None  # for call-level rules
    contacts: list[ExampleContact] | None = None  # for frequency rules
    note: str | None = None

    @model_validator(mode="after")
    def _something(self) -> Example:
        if (
            self.text is None
            and self.segments is None
            and self.contacts is None
            and (self.time is None)
        ):
            raise ValueError("an example needs text, segments, contacts or time")
        if (
            self.evidence is not None
            and self.text is not None
            and self.evidence.lower() not in self.text.lower()
        ):
            raise ValueError(f"evidence {self.evidence!r} is not in the text")
        return self


class Examples(_Strict):
    match: list[Example | str] = []
    no_match: list[Example | str] = []
    known_miss: list[Example | str] = []


class Rule(_Strict):
    id: str
    status: Literal["preview", "stable", "deprecated"]
    title: str = Field(min_length=1)
    category: Category
    severity: Severity
    confidence: float | Literal["high", "medium", "low"] = "high"
    speaker: Literal["collector", "customer", "any"] = "collector"
    channels: list[Channel] = [Channel.CALL, Channel.SMS, Channel.CHAT, Channel.APP, Channel.EMAIL]
    languages: list[Literal["zh", "en"]]
    # third_party: only when someone else was reached; debtor: never when someone else was
    party: Literal["third_party", "debtor", "any"] = "any"
    match: Cond | None = None
    call: CallRule | None = None
    contact: ContactRule | None = None
    unless: list[Unless] = []
    cite: list[Citation] = Field(min_length=1)
    rationale: str = Field(min_length=1)
    instead: str = ""
    known_problems: str = ""
    examples: Examples

    @field_validator("id")
    @classmethod
    def _id_shape(cls, v: str) -> str:
        if not RULE_ID.match(v):
            raise ValueError(f"{v!r} is not an id like CN-THREAT-003")
        return v

    @model_validator(mode="after")
    def _one_matcher(self) -> Rule:
        kinds = [k for k in ("match", "call", "contact") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(f"a rule needs exactly one of match, call, contact; got {kinds}")
        return self

    @property
    def confidence_value(self) -> float:
        if isinstance(self.confidence, str):
            return CONFIDENCE_WORDS[self.confidence]
        return float(self.confidence)


class PackSettings(_Strict):
    """pack.yaml: defaults shared by a pack's rules."""

    name: str
    title: str = ""
    language: Literal["zh", "en"]
    timezone: str  # default when a contact has none
    hours: Hours = Hours(start="08:00", end="22:00")
    collector_channel: Literal["left", "right"] = "left"
    settings: dict[str, int | None] = {}  # user-configurable caps (e.g. weekly_cap: null)
    # Words that show the person reached is not the debtor (家属, 转告, "is this his boss"):
    # with them, or with Contact.party_reached == third_party, `party: third_party` rules apply.
    third_party_markers: list[str] = []
    negations: list[str] = []  # documentation of the pack's usual negations
