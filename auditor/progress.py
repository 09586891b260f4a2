"""How a stage reports progress without knowing about terminals.

A stage driver takes `progress: Progress | None` and iterates `progress(items, "transcribe")`;
the CLI passes a tqdm bar (counts, rate and ETA), tests and libraries pass nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol, TypeVar

T = TypeVar("T")


class Progress(Protocol):
    def __call__(self, items: Sequence[T], desc: str) -> Iterable[T]: ...


def no_progress(items: Sequence[T], desc: str) -> Iterable[T]:
    return items


def tqdm_progress(enabled: bool = True) -> Progress:
    from tqdm import tqdm

    def track(items: Sequence[T], desc: str) -> Iterable[T]:
        return tqdm(items, desc=desc, total=len(items), unit="contact", disable=not enabled)

    return track
