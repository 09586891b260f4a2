"""Ingest: discover recordings, read manifests and message logs, hash and validate them."""

from auditor.ingest.folder import IngestSummary, ingest_folder, sha256_file
from auditor.ingest.tables import decode_text, parse_time, read_table

__all__ = [
    "IngestSummary",
    "decode_text",
    "ingest_folder",
    "parse_time",
    "read_table",
    "sha256_file",
]
