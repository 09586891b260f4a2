"""Transcripts cached on disk, so no recording is transcribed twice.

One JSON file per (audio SHA-256, channel, back end + model hash + precision, decoding options),
under `<cache>/transcripts/`. Writes go to a temporary file renamed into place, so parallel
workers and killed runs never leave half a file; an unreadable entry is a miss.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from auditor.models import Segment, Speaker
from auditor.transcribe.model import cache_root

log = logging.getLogger(__name__)

FORMAT = 1  # bump when the cached segment layout or the hygiene changes meaning


class TranscriptCache:
    def __init__(self, root: Path | None = None) -> None:
        self.root = root or cache_root() / "transcripts"

    @staticmethod
    def key_fields(
        audio_sha256: str, channel: str, identity: str, options_fingerprint: str
    ) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "audio_sha256": audio_sha256,
            "channel": channel,
            "transcriber": identity,
            "options": options_fingerprint,
        }

    def _path(self, fields: dict[str, Any]) -> Path:
        key = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()
        return self.root / key[:2] / f"{key}.json"

    def get(self, fields: dict[str, Any]) -> list[Segment] | None:
        path = self._path(fields)
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
            if entry.get("key") != fields:
                return None
            return [
                Segment(**{**raw, "speaker": Speaker(raw["speaker"])}) for raw in entry["segments"]
            ]
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("%s: unreadable cache entry, transcribing again (%s)", path, exc)
            return None

    def put(self, fields: dict[str, Any], segments: list[Segment]) -> None:
        path = self._path(fields)
        path.parent.mkdir(parents=True, exist_ok=True)
        entry = {"key": fields, "segments": [asdict(s) for s in segments]}
        with tempfile.NamedTemporaryFile(
            "w", dir=path.parent, prefix=".tmp.", suffix=".json", delete=False, encoding="utf-8"
        ) as out:
            json.dump(entry, out, ensure_ascii=False)
        os.replace(out.name, path)
