"""Text normalisation for matching, with an offset map back into the stored text.

Rules match a normalised copy (simplified characters, half-width digits and letters, lower case,
no zero-width characters or emoji, no spaces between Chinese characters, 她→他), but a finding's span must
point into the text we store and show. `normalize` therefore returns, for every character of the
normalised copy, the offset of the stored character it came from.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

# Zero-width and bidi marks ASR and chat exports leave in text; they would split phrases.
_INVISIBLE = {
    "\u200b",
    "\u200c",
    "\u200d",
    "\u200e",
    "\u200f",
    "\u2060",
    "\ufeff",
    "\u00ad",
    "\u180e",
    "\ufe0f",
    "\ufe0e",
}

# Curly quotes and dashes folded to their ASCII forms so English phrases and quotes match.
_FOLD = {
    "\u2018": "'",
    "\u2019": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u2013": "-",
    "\u2014": "-",
    "\u3000": " ",
    "\u00a0": " ",
    "。": ".",
    "、": ",",
    "「": '"',
    "」": '"',
    # 他/她 sound the same and ASR picks either; rules list 他. (您 stays: the polite form is
    # itself a sign of a compliant sentence, and 您的单位 must not read as 去你的.)
    "妳": "你",
    "她": "他",
    "『": '"',
    "』": '"',
}


def is_cjk(ch: str) -> bool:
    """A Han character (the unified blocks and extension A), the script of Chinese speech."""
    code = ord(ch)
    return 0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0xF900 <= code <= 0xFAFF


def _is_emoji_or_symbol(ch: str) -> bool:
    # So = other symbols (emoji, dingbats); Cs/Co cover surrogates and private use.
    cat = unicodedata.category(ch)
    return cat in {"So", "Cs", "Co", "Cn"} or 0x1F000 <= ord(ch) <= 0x1FAFF


@lru_cache(maxsize=1)
def _t2s() -> Any:
    import opencc

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Traditional → simplified, character for character so offsets stay aligned.

    OpenCC converts phrases, which can change the length; when it does, fall back to converting
    each character on its own (the length of a single-character conversion is checked too).
    """
    converter = _t2s()
    converted = converter.convert(text)
    if len(converted) == len(text):
        return converted
    out = []
    for ch in text:
        c = converter.convert(ch)
        out.append(c if len(c) == 1 else ch)
    return "".join(out)


_CHAR_FORMS: dict[str, str] = {}


def _char_form(ch: str) -> str:
    """What one stored character becomes in the matching copy ('' when dropped)."""
    if ch in _INVISIBLE:
        return ""
    ch = _FOLD.get(ch, ch)
    if _is_emoji_or_symbol(ch):
        return ""
    # NFKC turns full-width digits and letters (１２３, ＡＢ) and full-width punctuation into
    # ASCII; a character may expand (e.g. ㎏ → kg), each piece pointing at its source.
    return "".join(" " if p.isspace() else p for p in unicodedata.normalize("NFKC", ch).lower())


@dataclass(frozen=True, slots=True)
class NormalizedText:
    """A normalised copy of `original`; `offsets[i]` is where `text[i]` came from in `original`."""

    original: str
    text: str
    offsets: tuple[int, ...]

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """The span in the stored text covering normalised characters [start, end)."""
        if not self.text:
            return (0, 0)
        start = max(0, min(start, len(self.text) - 1))
        end = max(start + 1, min(end, len(self.text)))
        return (self.offsets[start], self.offsets[end - 1] + 1)


def normalize(text: str) -> NormalizedText:
    """Normalise `text` for matching and keep the offset map (see the module docstring)."""
    simplified = to_simplified(text)
    chars: list[str] = []
    offsets: list[int] = []
    cache = _CHAR_FORMS
    for i, ch in enumerate(simplified):
        form = cache.get(ch)
        if form is None:
            form = cache[ch] = _char_form(ch)
        if len(form) == 1:
            chars.append(form)
            offsets.append(i)
        else:
            for piece in form:
                chars.append(piece)
                offsets.append(i)
    # Collapse whitespace, and drop it between Chinese characters: ASR and typists put spaces
    # where a phrase list does not.
    out_chars: list[str] = []
    out_offsets: list[int] = []
    n = len(chars)
    for j, ch in enumerate(chars):
        if ch == " ":
            if not out_chars or out_chars[-1] == " ":
                continue
            nxt = next((chars[k] for k in range(j + 1, n) if chars[k] != " "), "")
            if not nxt:
                continue
            if is_cjk(out_chars[-1]) or is_cjk(nxt):
                continue
        out_chars.append(ch)
        out_offsets.append(offsets[j])
    return NormalizedText(original=text, text="".join(out_chars), offsets=tuple(out_offsets))


def normalize_phrase(phrase: str) -> str:
    """The form a rule phrase takes in the automaton: the same normalisation as the text."""
    return normalize(phrase).text.strip()


def cjk_share(text: str) -> float:
    """Share of letters that are Chinese characters; used to guess a contact's language."""
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return 0.0
    return sum(1 for ch in letters if is_cjk(ch)) / len(letters)


def guess_language(text: str) -> str:
    """'zh', 'en' or '' (no letters at all)."""
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return ""
    return "zh" if cjk_share(text) >= 0.3 else "en"


@lru_cache(maxsize=8192)
def _char_pinyin(ch: str) -> tuple[str, ...]:
    from pypinyin import Style, pinyin

    readings = pinyin(ch, style=Style.NORMAL, heteronym=True, errors="ignore")
    if not readings or not readings[0]:
        return (ch,)
    return tuple(dict.fromkeys(r for r in readings[0] if r))


@dataclass(frozen=True, slots=True)
class PinyinText:
    """Toneless pinyin of a normalised text, one `|`-delimited token per character.

    `text` looks like `|lao|lai|huan|qian|`; `char_at[k]` is the normalised character index of the
    token starting at position k (only token starts are filled).
    """

    text: str
    char_at: dict[int, int]


def pinyin_text(norm: str) -> PinyinText:
    """Pinyin of each character: its first dictionary reading.

    Phrases are expanded to every reading of each of their characters (see `pinyin_variants`), so
    a heteronym in the text (行: xing/hang) still meets the phrase reading it was meant as.
    """
    parts: list[str] = ["|"]
    char_at: dict[int, int] = {}
    pos = 1
    for i, ch in enumerate(norm):
        if is_cjk(ch):
            token = _char_pinyin(ch)[0]
        elif ch == " ":
            continue
        else:
            token = ch
        char_at[pos] = i
        parts.append(token + "|")
        pos += len(token) + 1
    return PinyinText(text="".join(parts), char_at=char_at)


def pinyin_variants(phrase: str, limit: int = 16) -> list[str]:
    """Every toneless reading of `phrase` as `|a|b|` keys (heteronyms expanded, capped)."""
    keys = [""]
    for ch in phrase:
        if ch == " ":
            continue
        readings = _char_pinyin(ch) if is_cjk(ch) else (ch,)
        keys = [k + "|" + r for k in keys for r in readings][:limit]
    return [k + "|" for k in keys]
