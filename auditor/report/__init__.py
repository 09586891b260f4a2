"""Reports and exports: the manager's weekly page, collector scorecards, the regulator bundle."""

from auditor.report.scorecard import build_scorecards
from auditor.report.templates import templates_root
from auditor.report.weekly import ReportResult, build_weekly_report

__all__ = ["ReportResult", "build_scorecards", "build_weekly_report", "templates_root"]
