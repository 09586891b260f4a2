"""Personal-data recognizers: resident IDs, bank cards, mobiles, e-mail, SSNs, addresses.

Each hit carries a score and the reasons for it (checksum passed or not, which context word), as
Presidio's recognizers do. Numbers are found as digits, Chinese numerals (幺三八, 两) or a mix, with
spaces, hyphens or commas between the groups a speaker reads them in.

On transcripts a failing checksum does not drop a long digit run that context marks as an ID or a
card: Whisper garbles long spoken numbers, so such a run is kept at a lower score (see STYLE.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

# Spoken Chinese digits; 十/百/千 are positional and never appear when a number is read out.
CN_DIGITS = {
    "零": "0",
    "〇": "0",
    "洞": "0",
    "一": "1",
    "幺": "1",
    "二": "2",
    "两": "2",
    "三": "3",
    "四": "4",
    "五": "5",
    "六": "6",
    "七": "7",
    "八": "8",
    "九": "9",
}
_DIGIT_CHARS = "0-9" + "".join(CN_DIGITS)
# A run of digits with at most one separator between groups; x/X only as an ID's last character.
_RUN = re.compile(
    rf"(?<![{_DIGIT_CHARS}a-z])[{_DIGIT_CHARS}](?:[ \-,]?[{_DIGIT_CHARS}])*(?:[ \-]?x)?"
)

ID_CONTEXT = ("身份证", "证件号", "身份号", "id number", "id card")
CARD_CONTEXT = (
    "卡号",
    "银行卡",
    "信用卡号",
    "账号",
    "帐号",
    "card number",
    "account number",
    "card",
)
PHONE_CONTEXT = ("手机", "电话", "号码", "联系方式", "phone", "number")
SSN_CONTEXT = ("social security", "ssn", "social")
TAIL_WORDS = ("尾号", "后四位", "末四位", "后4位", "末4位", "ending in", "last four", "last 4")

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


@dataclass(frozen=True, slots=True)
class PiiHit:
    kind: str  # cn_resident_id, bank_card, cn_mobile, email, us_ssn, us_phone, address
    start: int  # offsets into the text given to `find_pii`
    end: int
    score: float
    why: str
    digits: str = ""


def resident_id_valid(number: str) -> bool:
    """GB 11643: 17 digits, a valid birth date, ISO 7064 MOD 11-2 check character."""
    number = number.upper()
    if not re.fullmatch(r"\d{17}[\dX]", number):
        return False
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    if not (1900 <= born.year <= date.today().year):
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == number[17]


def luhn_valid(number: str) -> bool:
    if not number.isdigit() or len(number) < 12:
        return False
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _context(text: str, start: int, words: tuple[str, ...], before: int = 12) -> str | None:
    window = text[max(0, start - before) : start].lower()
    for word in words:
        if word in window:
            return word
    return None


_DATE = re.compile(r"(19|20)\d\d[-/.]\d{1,2}[-/.]\d{1,2}")


def digit_runs(text: str) -> list[tuple[int, int, str]]:
    """(start, end, digits) of every run of spoken or written digits in `text`.

    A date (2026-11-13) ends a run: "2026-11-13 22:20" is a time, not a 10-digit number.
    """
    runs = []
    for m in _RUN.finditer(text):
        raw = m.group(0).rstrip(" -,")
        date = _DATE.match(raw)
        if date:
            rest = raw[date.end() :]
            if not rest.strip(" -,"):
                continue
            offset = date.end() + (len(rest) - len(rest.lstrip(" -,")))
            raw = raw[offset:]
            start = m.start() + offset
            digits = "".join(CN_DIGITS.get(ch, ch) for ch in raw if ch not in " -,").upper()
            runs.append((start, start + len(raw), digits))
            continue
        digits = "".join(CN_DIGITS.get(ch, ch) for ch in raw if ch not in " -,").upper()
        runs.append((m.start(), m.start() + len(raw), digits))
    return runs


_EMAIL = re.compile(r"[a-z0-9._%+\-]+@[a-z0-9.\-]+\.[a-z]{2,}", re.IGNORECASE)
_SSN = re.compile(r"(?<!\d)(\d{3})[- ](\d{2})[- ](\d{4})(?!\d)")
_US_PHONE = re.compile(r"(?<!\d)(?:\+?1[ .\-]?)?\(?\d{3}\)?[ .\-]?\d{3}[ .\-]\d{4}(?!\d)")
_CN_ADDRESS = re.compile(
    r"[\u4e00-\u9fff]{2,8}(?:省|市|区|县)[\u4e00-\u9fff0-9]{0,20}?"
    r"(?:路|街|道|巷|弄|村|小区|大厦)[0-9一二三四五六七八九十百千零幺两]{1,6}(?:号|栋|幢|弄)"
    r"(?:院|楼)?(?:[0-9一二三四五六七八九十百千零幺两]{1,6}(?:号楼|单元|室|楼|号)?)*"
)
_US_ADDRESS = re.compile(
    r"(?<!\w)\d{1,6} (?:[a-z0-9']+ ){1,4}"
    r"(?:street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|drive|dr|court|ct|way|place|pl)"
    r"(?:\.|\b)(?:,? (?:apt|apartment|unit|suite) ?#?\w+)?",
    re.IGNORECASE,
)


_WORD_DIGITS = {
    "zero": "0",
    "oh": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
}
_WORD_RUN = re.compile(
    r"\b(?:zero|oh|one|two|three|four|five|six|seven|eight|nine)"
    r"(?:[ ,\-]+(?:zero|oh|one|two|three|four|five|six|seven|eight|nine)){8,}\b"
)


def _word_digit_runs(text: str) -> list[tuple[int, int, str]]:
    out = []
    for m in _WORD_RUN.finditer(text):
        words = re.findall(r"[a-z]+", m.group(0))
        out.append((m.start(), m.end(), "".join(_WORD_DIGITS[w] for w in words)))
    return out


def find_pii(text: str, kinds: frozenset[str] | None = None) -> list[PiiHit]:
    """Every personal-data hit in a normalised text (lower case, half-width digits)."""
    hits: list[PiiHit] = []

    def want(kind: str) -> bool:
        return kinds is None or kind in kinds

    for start, end, digits in digit_runs(text):
        n = len(digits)
        tail = _context(text, start, TAIL_WORDS, before=6)
        if tail:
            continue  # 尾号1234: the last digits only, which is what a compliant collector says
        id_ctx = _context(text, start, ID_CONTEXT)
        card_ctx = _context(text, start, CARD_CONTEXT)
        if want("cn_resident_id") and n == 18 and resident_id_valid(digits):
            why = "18 characters, valid birth date and MOD 11-2 check character"
            hits.append(PiiHit("cn_resident_id", start, end, 0.95, why, digits))
            continue
        if want("cn_resident_id") and id_ctx and 15 <= n <= 19:
            why = f"context word {id_ctx!r} before a {n}-character run; checksum fails (ASR?)"
            hits.append(PiiHit("cn_resident_id", start, end, 0.6, why, digits))
            continue
        if not digits.isdigit():
            continue
        if want("bank_card") and 16 <= n <= 19 and luhn_valid(digits):
            why = f"{n} digits, Luhn check passes" + (f", context {card_ctx!r}" if card_ctx else "")
            hits.append(PiiHit("bank_card", start, end, 0.9 if card_ctx else 0.8, why, digits))
            continue
        if want("bank_card") and card_ctx and 15 <= n <= 19:
            why = f"context word {card_ctx!r} before {n} digits; Luhn fails (ASR?)"
            hits.append(PiiHit("bank_card", start, end, 0.6, why, digits))
            continue
        if want("cn_mobile") and n == 11 and re.fullmatch(r"1[3-9]\d{9}", digits):
            ctx = _context(text, start, PHONE_CONTEXT)
            why = "11 digits starting 1[3-9]" + (f", context {ctx!r}" if ctx else "")
            hits.append(PiiHit("cn_mobile", start, end, 0.9 if ctx else 0.75, why, digits))
            continue
        if want("us_ssn") and n == 9 and _context(text, start, SSN_CONTEXT, before=25):
            hits.append(
                PiiHit("us_ssn", start, end, 0.8, "9 digits after 'social security'", digits)
            )
    for start, end, digits in _word_digit_runs(text):
        # "nine two three four five…": English speech written out as words
        if want("us_ssn") and len(digits) == 9 and _context(text, start, SSN_CONTEXT, before=30):
            why = "nine spoken digits after 'social'"
            hits.append(PiiHit("us_ssn", start, end, 0.7, why, digits))
        elif (
            want("bank_card")
            and 15 <= len(digits) <= 19
            and _context(text, start, CARD_CONTEXT, before=30)
        ):
            hits.append(PiiHit("bank_card", start, end, 0.6, "spoken card number", digits))
    if want("us_ssn"):
        for m in _SSN.finditer(text):
            area = m.group(1)
            ctx = _context(text, m.start(), SSN_CONTEXT, before=30)
            # 9xx is never issued (ITINs, test data): a number read as "your social" still is one
            if area in {"000", "666"} or m.group(2) == "00" or (area.startswith("9") and not ctx):
                continue
            if any(h.start <= m.start() < h.end for h in hits):
                continue
            hits.append(
                PiiHit(
                    "us_ssn",
                    m.start(),
                    m.end(),
                    0.85,
                    "SSN pattern ddd-dd-dddd",
                    m.group(1) + m.group(2) + m.group(3),
                )
            )
    if want("us_phone"):
        for m in _US_PHONE.finditer(text):
            if any(h.start <= m.start() < h.end for h in hits):
                continue
            hits.append(PiiHit("us_phone", m.start(), m.end(), 0.7, "US phone pattern"))
    if want("email"):
        for m in _EMAIL.finditer(text):
            hits.append(PiiHit("email", m.start(), m.end(), 0.9, "e-mail address pattern"))
    if want("address"):
        for m in _CN_ADDRESS.finditer(text):
            hits.append(PiiHit("address", m.start(), m.end(), 0.7, "省/市/区 … 路/街 … 号 pattern"))
        for m in _US_ADDRESS.finditer(text):
            hits.append(PiiHit("address", m.start(), m.end(), 0.7, "number + street name pattern"))
    hits.sort(key=lambda h: (h.start, h.end))
    return hits
