"""Where the shipped rule packs live."""

from __future__ import annotations

from pathlib import Path

import auditor


def rules_root() -> Path:
    """The rules inside an installed wheel if present, else the checkout's `rules/`."""
    packaged = Path(auditor.__file__).parent / "_data" / "rules"
    if packaged.is_dir():
        return packaged
    return Path(auditor.__file__).resolve().parent.parent / "rules"
