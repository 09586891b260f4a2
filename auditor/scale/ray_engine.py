"""Starting or joining a Ray cluster, and the bounded window every Ray stage driver uses.

Why the driver writes the results, not the workers: workers then need no database credentials
or network path to the database (GPU nodes often have neither), the store sees one connection
per driver instead of one per worker, and the lease a driver took is dropped by the same
transaction that saves the result. One write per contact is small next to a transcription, so
the driver is not the bottleneck for transcription; for scanning it is the store that bounds the
rate either way.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from auditor.errors import AuditorError

log = logging.getLogger(__name__)

T = TypeVar("T")

EXTRA = "auditor[ray]"
LOCAL_OBJECT_STORE_BYTES = 256 * 1024 * 1024  # audio in flight is bounded by the window


class RayUnavailableError(AuditorError):
    """`--engine ray` without Ray installed, or a cluster that cannot be reached."""


@dataclass(frozen=True, slots=True)
class RayOptions:
    """How to reach Ray and how much to keep in flight.

    address: None starts a private local Ray for this run; "auto" joins the cluster
        this machine belongs to; "ray://host:10001" or "host:6379" joins a remote one.
    ship_audio: send each recording's bytes through Ray's object store, for workers that cannot
        read the input folder; otherwise workers open `source_path` on a shared file system.
    workers: transcription actors (each loads the model once); None: one per GPU in the
        cluster, else one per CPU the local Ray was given.
    local_cpus: CPUs a local Ray may use (ignored when joining a cluster).
    window: contacts in flight per actor; memory stays flat however long the backlog is.
    scan_batch: contacts per scanning task (amortises the per-task overhead of Ray).
    """

    address: str | None = None
    ship_audio: bool = False
    workers: int | None = None
    local_cpus: int = 2
    window: int = 2
    scan_batch: int = 16


def require_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise RayUnavailableError(
            f"--engine ray needs Ray, which is not installed: pip install '{EXTRA}'"
        ) from exc
    return ray


@contextmanager
def ray_session(options: RayOptions) -> Iterator[Any]:
    """Ray initialised for this run; a Ray this call started is shut down afterwards."""
    ray = require_ray()
    if ray.is_initialized():
        yield ray
        return
    # Ray prints its own banner and warnings to the terminal; the CLI owns the terminal.
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    kwargs: dict[str, Any] = {
        "include_dashboard": False,
        "log_to_driver": False,
        "configure_logging": False,
        "ignore_reinit_error": True,
    }
    if options.address is None:
        # A private Ray for this run only. Ray 2.60 still listens on every interface (with its
        # token authentication on); docs/scaling.md says how to fence it off.
        kwargs.update(
            address="local",
            num_cpus=options.local_cpus,
            object_store_memory=LOCAL_OBJECT_STORE_BYTES,
        )
        where = f"a private local Ray with {options.local_cpus} CPUs"
    else:
        kwargs["address"] = options.address
        where = f"the Ray cluster at {options.address}"
    try:
        ray.init(**kwargs)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise RayUnavailableError(f"cannot start or reach {where}: {exc}") from exc
    log.info("engine: %s (%s)", where, ray.cluster_resources())
    try:
        yield ray
    finally:
        ray.shutdown()


def cluster_gpus(ray: Any) -> int:
    return int(ray.cluster_resources().get("GPU", 0))


def windowed(
    ray: Any,
    items: Iterator[T],
    submit: Callable[[T], Any],
    window: int,
    on_done: Callable[[Any], None] | None = None,
) -> Iterator[tuple[T, Any]]:
    """Submit items as earlier ones finish, at most `window` at once; yield (item, result).

    The result is what the remote call returned, or the Ray error it ended with (a task that
    raised, or a worker that died more often than Ray retries it). Items are pulled from
    `items` only when there is room, so a lazy iterator (store leases) is leased just in time.
    """
    in_flight: dict[Any, T] = {}
    exhausted = False
    while True:
        while not exhausted and len(in_flight) < window:
            item = next(items, None)
            if item is None:
                exhausted = True
                break
            in_flight[submit(item)] = item
        if not in_flight:
            return
        done, _ = ray.wait(list(in_flight), num_returns=1)
        for ref in done:
            item = in_flight.pop(ref)
            if on_done is not None:
                on_done(ref)
            try:
                yield item, ray.get(ref)
            except ray.exceptions.RayError as exc:
                yield item, exc
