"""Transcription: every recording to timestamped, speaker-labelled segments, offline and cached.

The stage driver is `auditor.transcribe.stage.transcribe_pending`; files without a store go
through `auditor.transcribe.commands.transcribe_files`.
"""

from auditor.transcribe.options import COLLECTION_HOTWORDS_ZH, TranscribeOptions, VadOptions

__all__ = ["COLLECTION_HOTWORDS_ZH", "TranscribeOptions", "VadOptions"]
