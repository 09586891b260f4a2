"""Errors a user can cause. Each message names the file and line, the row, or the rule and field,
and says what to do; `cli.py` turns them into one line each."""

from __future__ import annotations


class AuditorError(Exception):
    """Base of every error a user can cause and fix."""


class ManifestError(AuditorError):
    """A manifest or message log that cannot be read, or one of its rows."""


class AudioError(AuditorError):
    """A recording that cannot be found, decoded or transcribed."""


class RuleError(AuditorError):
    """A rule file or rule pack that does not load, validate or pass its own examples."""


class StoreError(AuditorError):
    """The database cannot be opened, is of an unknown schema, or refused a write."""


class ModelError(AuditorError):
    """A speech model that cannot be found, assembled or loaded."""


class ExportError(AuditorError):
    """A report or export bundle that cannot be written or fails verification."""


class ReviewError(AuditorError):
    """A review decision that cannot be recorded: an unknown finding, a dismissal without a
    reason, a decision file that cannot be read."""
