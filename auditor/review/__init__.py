"""Review: people confirm or dismiss findings; reports count only what stands.

Decisions are appended to the store's review table and never changed; the latest one counts.
"""

from auditor.review.decisions import (
    DecisionRequest,
    decide,
    default_reviewer,
    latest_decisions,
    record_decisions,
    review_history_rows,
)
from auditor.review.queue import QueueItem, review_queue, select_findings

__all__ = [
    "DecisionRequest",
    "QueueItem",
    "decide",
    "default_reviewer",
    "latest_decisions",
    "record_decisions",
    "review_history_rows",
    "review_queue",
    "select_findings",
]
