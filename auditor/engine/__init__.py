"""The rule engine: load a rule pack, scan contacts, return findings with evidence.

from auditor.engine import load_pack
pack = load_pack("cn")
findings = pack.scan(contact, segments)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from auditor.engine.pack import RulePack, load_pack

__all__ = ["RulePack", "load_pack"]


def __getattr__(name: str) -> Any:
    # Imported lazily so `auditor.textmask` (which uses the recognizers) does not pull the whole
    # engine in, and the engine can use textmask without a cycle.
    if name in __all__:
        from auditor.engine import pack

        return getattr(pack, name)
    raise AttributeError(name)
