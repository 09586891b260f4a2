"""The one door through which every report and export text passes on its way out.

Masking itself lives in `auditor.textmask.mask_text` (shared with review pages and rule docs);
this module only adds the explicit opt-out that a regulator's unmasked export needs.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache


@cache
def _mask_text() -> Callable[[str], str]:
    # Imported on first use so the report package loads (and its templates can be listed) on a
    # checkout where the masking module is not yet present; no text leaves unmasked either way.
    from auditor.textmask import mask_text

    return mask_text


def mask(text: str | None, unmasked: bool = False) -> str:
    """`text` with ID, card and phone numbers and e-mail addresses hidden, unless `unmasked`."""
    if not text:
        return ""
    if unmasked:
        return text
    return _mask_text()(text)


def mask_around_span(
    text: str, span: tuple[int, int], unmasked: bool = False
) -> tuple[str, str, str]:
    """(before, marked, after) of `text` split at `span`, each part masked.

    The whole text is masked first so a number that crosses the span's edges is still seen
    whole; when masking changed the length (e-mail addresses shrink), the span no longer points
    into the masked text and each part is masked on its own instead.
    """
    start, end = max(0, min(span[0], len(text))), max(0, min(span[1], len(text)))
    end = max(start, end)
    whole = mask(text, unmasked)
    if len(whole) == len(text):
        return whole[:start], whole[start:end], whole[end:]
    return mask(text[:start], unmasked), mask(text[start:end], unmasked), mask(text[end:], unmasked)
