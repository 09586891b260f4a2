"""The one masking function every output uses (reports, exports, review pages, rule docs).

`mask_text` hides resident ID numbers, bank card numbers, phone numbers, e-mail addresses and
SSNs, whether written as digits, full-width digits, Chinese numerals (幺三八…) or a mix, spaced or
not. It masks more than the recognizers report: any long digit run is masked whatever its
checksum, because an output that leaks one number is worse than one that hides an amount.
"""

from __future__ import annotations

import re

from auditor.engine.recognizers import CN_DIGITS, digit_runs
from auditor.textnorm import normalize

_EMAIL = re.compile(r"([a-z0-9._%+\-])[a-z0-9._%+\-]*(@[a-z0-9.\-]+\.[a-z]{2,})", re.IGNORECASE)
_SSN = re.compile(r"(?<!\d)\d{3}[- ]\d{2}[- ](\d{4})(?!\d)")


def _keep_positions(digits: str) -> tuple[int, int]:
    """How many leading and trailing digits stay visible for a run of this shape."""
    n = len(digits)
    if n == 18 or n == 15:  # resident ID: region code and the last four
        return 6, 4
    if n == 11 and digits.startswith("1"):  # mobile: carrier prefix and the last four
        return 3, 4
    if 16 <= n <= 19:  # bank card: issuer prefix and the last four (6222 **** **** 1234)
        return 4, 4
    return 0, 4


def mask_text(text: str) -> str:
    """`text` with personal numbers and e-mail addresses masked; everything else unchanged."""
    if not text:
        return text
    norm = normalize(text)
    chars = list(text)
    for start, end, digits in digit_runs(norm.text):
        if len(digits) < 9:
            continue  # amounts, dates, 尾号1234
        lead, trail = _keep_positions(digits)
        # positions of the digit characters of this run in the stored text
        positions = []
        for k in range(start, end):
            ch = norm.text[k]
            if ch.isdigit() or ch in CN_DIGITS or ch == "x":
                positions.append(norm.offsets[k])
        positions = sorted(set(positions))
        for idx, pos in enumerate(positions):
            if lead <= idx < len(positions) - trail:
                chars[pos] = "*"
    masked = "".join(chars)
    masked = _SSN.sub(lambda m: "***-**-" + m.group(1), masked)
    masked = _EMAIL.sub(lambda m: m.group(1) + "***" + m.group(2), masked)
    return masked
