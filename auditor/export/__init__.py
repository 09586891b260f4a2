"""The regulator's export bundle and its verification."""

from auditor.export.bundle import ExportResult, VerifyResult, export_bundle, verify_bundle

__all__ = ["ExportResult", "VerifyResult", "export_bundle", "verify_bundle"]
