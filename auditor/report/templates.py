"""Where the report templates live and the jinja2 environment that renders them."""

from __future__ import annotations

from pathlib import Path

import jinja2

import auditor


def templates_root() -> Path:
    """The templates inside an installed wheel if present, else the checkout's `reports/`."""
    packaged = Path(auditor.__file__).parent / "_data" / "reports"
    if packaged.is_dir():
        return packaged
    return Path(auditor.__file__).resolve().parent.parent / "reports"


def environment() -> jinja2.Environment:
    # Autoescape on for every template: transcripts are untrusted text (a debtor can say, or a
    # message can contain, "<script>"), and StrictUndefined turns a misspelt field into an error
    # instead of an empty cell in a regulator's report.
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_root())),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
