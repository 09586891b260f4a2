"""Call-audio hygiene applied to every back end's output.

Whisper was trained on subtitled video: in silence or noise it writes subtitle credits and
"like and subscribe" pleas, and a decoder stuck in a loop repeats a phrase. Neither belongs in an
audit trail, where a rule could fire on words nobody said.
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import replace
from typing import Any

from auditor.models import Segment
from auditor.transcribe.options import TranscribeOptions

log = logging.getLogger(__name__)

# Whole-segment hallucinations seen from Whisper on silence, music and line noise.
_HALLUCINATIONS = [
    r"请不吝点赞.{0,20}",
    r"(点赞|订阅|转发|打赏).{0,6}(点赞|订阅|转发|打赏).{0,20}",
    r"字幕\s*(by|BY|By|由|提供|製作|制作|志愿者|組|组).{0,30}",
    r".{0,20}(提供|制作|製作)的?字幕.{0,10}",
    r"(中文)?字幕(志愿者|校对|翻译).{0,20}",
    r"明镜与点点栏目.{0,10}",
    r"优优独播剧场.{0,30}",
    r"(谢谢|感谢)(大家)?(收看|观看|觀看)[!！。.]*",
    r"(Thank you|Thanks) for watching[.!]*",
    r"Subtitles by.{0,40}",
    r".{0,20}amara\.org.{0,20}",
    r"Please subscribe.{0,30}",
]
_HALLUCINATION = re.compile(
    r"^\s*(?:" + "|".join(_HALLUCINATIONS) + r")\s*$", re.IGNORECASE | re.DOTALL
)
_CJK = re.compile(r"[\u3400-\u9fff]")
# A unit of 1-12 characters repeated five or more times in a row: a decoding loop.
_LOOP = re.compile(r"(.{1,12}?)\1{4,}", re.DOTALL)


@functools.lru_cache(maxsize=1)
def _to_simplified() -> Any:
    import opencc

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    return _to_simplified().convert(text) if _CJK.search(text) else text


def is_hallucination(text: str) -> bool:
    return bool(_HALLUCINATION.match(text))


def collapse_loops(text: str) -> str:
    """Runs of the same unit repeated five or more times become two: real speech repeats a word
    ("好的好的"), a looping decoder repeats it dozens of times."""
    return _LOOP.sub(lambda m: m.group(1) * 2, text)


def is_silence(segment: Segment, options: TranscribeOptions) -> bool:
    """Whisper's own test for a window it should not have transcribed."""
    return (
        segment.no_speech_prob is not None
        and segment.avg_logprob is not None
        and segment.no_speech_prob > options.no_speech_threshold
        and segment.avg_logprob < options.log_prob_threshold
    )


def clean_segments(segments: list[Segment], options: TranscribeOptions) -> list[Segment]:
    """Drop hallucinated and empty segments, collapse loops, convert to simplified Chinese, and
    keep times ordered and non-negative."""
    kept: list[Segment] = []
    previous_text = None
    repeats = 0
    for segment in sorted(segments, key=lambda s: (s.start_s, s.end_s)):
        text = segment.text.strip()
        if options.simplified_chinese:
            text = to_simplified(text)
        if options.drop_hallucinations:
            if is_silence(segment, options) or is_hallucination(text):
                log.debug("dropped %.2f-%.2f %r", segment.start_s, segment.end_s, text)
                continue
            text = collapse_loops(text)
            # A decoder stuck on one sentence emits it as segment after segment; a person
            # repeats a long sentence at most twice.
            repeats = repeats + 1 if text == previous_text and len(text) > 6 else 0
            previous_text = text
            if repeats >= 2:
                continue
        if not text:
            continue
        start = max(0.0, segment.start_s)
        kept.append(replace(segment, text=text, start_s=start, end_s=max(start, segment.end_s)))
    return kept
