"""Beyond one machine: the same stages driven over a Ray cluster, on a shared store.

`auditor run --engine ray` hands transcription to Ray actors (one model load per worker, a GPU
each when the cluster has them) and scanning to Ray tasks over batches of contacts. The driver
leases contacts from the store, keeps a bounded window of them in flight, and writes each result
to the store as it arrives, so several drivers and any number of workers share one database.
Ray is an optional extra: `pip install 'auditor[ray]'`.
"""

from auditor.scale.ray_engine import RayOptions, require_ray

__all__ = ["RayOptions", "require_ray"]
