"""The scan stage on Ray: tasks over batches of contacts, then the frequency rules once.

Text, procedure and hours rules look at one contact at a time, so they spread over tasks; the
driver leases each batch from the store, reads its transcripts, and saves each contact's
findings as its batch returns. Frequency rules compare contacts of one account with each other:
they run afterwards in the driver over every stored contact of the accounts with something new,
exactly as the local engine runs them, and replace those contacts' findings idempotently.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from auditor.engine.pack import RulePack
from auditor.engine.stage import TEXT_STAGE, ScanSummary, contact_location, scan_contact_rules
from auditor.models import Contact, Finding, Segment
from auditor.progress import Progress, no_progress
from auditor.scale.ray_engine import RayOptions, ray_session, windowed
from auditor.store.leases import release_dead_leases, worker_name

log = logging.getLogger(__name__)

RETRIES = 3  # a task whose worker process dies is run again this often

# The compiled pack of each rule-set version, once per worker process: unpickling it costs about
# half a second, far more than scanning a batch.
_packs: dict[str, RulePack] = {}


@dataclass(slots=True)
class ContactScan:
    contact_id: int
    findings: list[Finding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # rule time-outs, recorded as failures
    failure: str | None = None  # the scan of this contact raised


def scan_batch(
    pack_box: list[Any], version: str, batch: list[tuple[Contact, list[Segment]]]
) -> list[ContactScan]:
    """Runs in a Ray worker. The pack comes boxed in a list so Ray hands over the reference
    rather than unpickling the pack for every task."""
    pack = _packs.get(version)
    if pack is None:
        import ray

        pack = _packs[version] = ray.get(pack_box[0])
    results = []
    for contact, segments in batch:
        assert contact.id is not None
        errors: list[str] = []
        try:
            found = pack.scan(contact, segments, errors=errors)
        except Exception as exc:  # one bad contact must not fail its batch
            log.exception("scan of contact %s failed", contact.external_id)
            results.append(ContactScan(contact.id, failure=f"{type(exc).__name__}: {exc}"))
            continue
        results.append(ContactScan(contact.id, found, errors))
    return results


def _batches(contacts: Iterator[Contact], size: int) -> Iterator[list[Contact]]:
    while batch := list(itertools.islice(contacts, size)):
        yield batch


def scan_pending_ray(
    store: Any,
    pack: RulePack,
    run_id: int,
    ray_options: RayOptions,
    progress: Progress | None = None,
) -> ScanSummary:
    """`scan_pending` with the per-contact rules in Ray tasks; the same summary and store rows."""
    summary = ScanSummary(ruleset_version=pack.version)
    with ray_session(ray_options) as ray:
        pending: list[Contact] = store.pending(TEXT_STAGE, pack.version)
        ticks = iter((progress or no_progress)(pending, "scan"))
        if pending:
            release_dead_leases(store, TEXT_STAGE)
            size = max(1, ray_options.scan_batch)
            cpus = int(ray.cluster_resources().get("CPU", 1))
            window = max(2, cpus * max(1, ray_options.window))
            leased = store.claimed(
                TEXT_STAGE, pack.version, worker_name("ray-scan"), batch=size * window
            )
            pack_box = [ray.put(pack)]
            task = ray.remote(scan_batch).options(num_cpus=1, max_retries=RETRIES)

            def submit(batch: list[Contact]) -> Any:
                pairs = [(c, store.segments(c.id)) for c in batch]
                return task.remote(pack_box, pack.version, pairs)

            for batch, result in windowed(ray, _batches(leased, size), submit, window):
                by_id = {c.id: c for c in batch}
                if isinstance(result, ray.exceptions.RayError):
                    died = f"the scan task died {RETRIES + 1} times: {type(result).__name__}"
                    result = [ContactScan(int(c.id or 0), failure=died) for c in batch]
                for scanned in result:
                    contact = by_id[scanned.contact_id]
                    if scanned.failure is not None:
                        store.record_failure(
                            run_id, contact_location(contact), TEXT_STAGE, scanned.failure
                        )
                        store.release(scanned.contact_id, TEXT_STAGE)
                        summary.failed.append((contact.external_id, scanned.failure))
                    else:
                        store.save_findings(
                            scanned.contact_id, scanned.findings, TEXT_STAGE, pack.version, run_id
                        )
                        for error in scanned.errors:
                            store.record_failure(
                                run_id, contact_location(contact), TEXT_STAGE, error
                            )
                            summary.failed.append((contact.external_id, error))
                        summary.contacts_scanned += 1
                        summary.findings += len(scanned.findings)
                        summary.by_category.update(f.category.value for f in scanned.findings)
                    next(ticks, None)
    # After every text scan of this driver: the frequency rules see every stored contact.
    scan_contact_rules(store, pack, run_id, summary)
    log.info("scan (ray): %s", summary.describe())
    return summary
