"""The two engines behind `auditor run --engine`: the same stages, the same store rows.

`local` runs transcription in a process pool on this machine and scanning in this process;
`ray` runs both on a Ray cluster (a private local one by default). Either way the stage driver
leases contacts from the store, so any mix of engines and processes can share one database.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from auditor.progress import Progress
from auditor.scale.ray_engine import RayOptions, ray_session, require_ray

ENGINES = ("local", "ray")


class Engine(Protocol):
    name: str

    def transcribe(
        self, store: Any, options: Any, run_id: int, workers: int, progress: Progress | None
    ) -> Any: ...

    def scan(self, store: Any, pack: Any, run_id: int, progress: Any) -> Any: ...


class LocalEngine:
    name = "local"

    def transcribe(
        self, store: Any, options: Any, run_id: int, workers: int, progress: Progress | None
    ) -> Any:
        from auditor.transcribe.stage import transcribe_pending

        return transcribe_pending(store, options, run_id, workers=workers, progress=progress)

    def scan(self, store: Any, pack: Any, run_id: int, progress: Any) -> Any:
        from auditor.engine.stage import scan_pending

        return scan_pending(store, pack, run_id, progress=progress)


class RayEngine:
    name = "ray"

    def __init__(self, options: RayOptions) -> None:
        self.options = options

    def transcribe(
        self, store: Any, options: Any, run_id: int, workers: int, progress: Progress | None
    ) -> Any:
        from dataclasses import replace

        from auditor.scale.ray_transcribe import transcribe_pending_ray

        ray_options = self.options
        if ray_options.workers is None and workers > 1:
            ray_options = replace(ray_options, workers=workers)
        return transcribe_pending_ray(store, options, run_id, ray_options, progress=progress)

    def scan(self, store: Any, pack: Any, run_id: int, progress: Any) -> Any:
        from auditor.scale.ray_scan import scan_pending_ray

        return scan_pending_ray(store, pack, run_id, self.options, progress=progress)


@contextmanager
def open_engine(name: str, ray_options: RayOptions | None = None) -> Iterator[Engine]:
    """The engine called `name`; Ray is started (or joined) once for all stages of a run."""
    if name == "local":
        yield LocalEngine()
        return
    if name != "ray":
        raise ValueError(f"unknown engine {name!r}: choose one of {', '.join(ENGINES)}")
    require_ray()
    options = ray_options or RayOptions()
    with ray_session(options):
        yield RayEngine(options)
