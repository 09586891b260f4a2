"""The scan stage: run a rule pack over stored contacts and store the findings (STORE_API.md).

Per contact, one transaction: a contact whose scan fails is recorded as a failure of the run and
the batch goes on. Cross-contact (frequency) rules run afterwards over every contact of each
account that has something new, and replace those contacts' "scan_contacts" findings.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from auditor.engine.pack import RulePack
from auditor.models import Contact
from auditor.progress import Progress, no_progress
from auditor.store.leases import exclusive, release_dead_leases, worker_name

log = logging.getLogger(__name__)

TEXT_STAGE = "scan"
CONTACTS_STAGE = "scan_contacts"


@dataclass
class ScanSummary:
    ruleset_version: str
    contacts_scanned: int = 0
    findings: int = 0
    accounts_checked: int = 0
    contact_findings: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (contact, error)
    by_category: Counter[str] = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        return not self.failed

    def describe(self) -> str:
        cats = ", ".join(f"{k} {v}" for k, v in sorted(self.by_category.items())) or "none"
        text = (
            f"scanned {self.contacts_scanned} contacts with rule set {self.ruleset_version}: "
            f"{self.findings + self.contact_findings} findings ({cats}); frequency checked on "
            f"{self.accounts_checked} accounts"
        )
        if self.failed:
            text += f"; {len(self.failed)} failed: " + "; ".join(
                f"{c}: {e}" for c, e in self.failed[:10]
            )
        return text


def contact_location(contact: Contact) -> str:
    return contact.source_path or contact.external_id


def scan_pending(
    store: Any,
    pack: RulePack,
    run_id: int,
    progress: Progress | None = None,
) -> ScanSummary:
    """Scan every contact not yet scanned at `pack.version`, then the frequency rules."""
    summary = ScanSummary(ruleset_version=pack.version)
    pending: list[Contact] = store.pending(TEXT_STAGE, pack.version)
    # Other processes may scan the same store: each contact is leased before it is scanned, so
    # none is scanned twice; `pending` only sizes the progress bar.
    ticks = iter((progress or no_progress)(pending, "scan"))
    release_dead_leases(store, TEXT_STAGE)
    for contact in store.claimed(TEXT_STAGE, pack.version, worker_name(TEXT_STAGE)):
        try:
            segments = store.segments(contact.id)
            errors: list[str] = []
            findings = pack.scan(contact, segments, errors=errors)
            store.save_findings(contact.id, findings, TEXT_STAGE, pack.version, run_id)
            for error in errors:
                store.record_failure(
                    run_id, path=contact_location(contact), stage=TEXT_STAGE, error=error
                )
                summary.failed.append((contact.external_id, error))
            summary.contacts_scanned += 1
            summary.findings += len(findings)
            summary.by_category.update(f.category.value for f in findings)
        except Exception as exc:  # one bad contact must not stop the batch
            log.exception("scan of contact %s failed", contact.external_id)
            store.record_failure(
                run_id, path=contact_location(contact), stage=TEXT_STAGE, error=str(exc)
            )
            store.release(contact.id, TEXT_STAGE)  # the next run tries it again
            summary.failed.append((contact.external_id, str(exc)))
        next(ticks, None)
    next(ticks, None)  # the end of the iteration closes the bar

    scan_contact_rules(store, pack, run_id, summary)
    return summary


def scan_contact_rules(store: Any, pack: RulePack, run_id: int, summary: ScanSummary) -> None:
    """The frequency rules over every contact of each account with something new.

    Runs after the text scans, whoever did them; passes of several workers take turns, so the
    last one sees every contact stored before it and its results stand.
    """
    with exclusive(store, CONTACTS_STAGE):
        _scan_contact_rules(store, pack, run_id, summary)


def _scan_contact_rules(store: Any, pack: RulePack, run_id: int, summary: ScanSummary) -> None:
    stale: list[Contact] = store.pending(CONTACTS_STAGE, pack.version)
    accounts = {c.account_id for c in stale}
    if not accounts:
        return
    everyone = [c for c in store.contacts() if c.account_id in accounts]
    summary.accounts_checked = len(accounts)
    try:
        by_contact = pack.scan_contacts(everyone)
    except Exception as exc:
        log.exception("frequency rules failed")
        store.record_failure(run_id, path="", stage=CONTACTS_STAGE, error=str(exc))
        summary.failed.append(("(frequency)", str(exc)))
        return
    for contact in everyone:
        found = by_contact.get(contact.id if contact.id is not None else 0, [])
        try:
            store.save_findings(contact.id, found, CONTACTS_STAGE, pack.version, run_id)
        except Exception as exc:
            log.exception("saving frequency findings of %s failed", contact.external_id)
            store.record_failure(
                run_id, path=contact_location(contact), stage=CONTACTS_STAGE, error=str(exc)
            )
            summary.failed.append((contact.external_id, str(exc)))
            continue
        summary.contact_findings += len(found)
        summary.by_category.update(f.category.value for f in found)
