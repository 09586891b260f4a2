"""What a report says about a rule: its title and the clause it enforces.

Read from the rule packs when the engine is installed; a rule the packs do not know (renamed,
from a folder no longer present) is shown by its id, never dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from auditor.errors import AuditorError

log = logging.getLogger(__name__)

RuleMeta = dict[str, dict[str, str]]


def _cite_text(cites: Any) -> str:
    parts = []
    for cite in cites or []:
        law = getattr(cite, "law", None) or (cite.get("law") if isinstance(cite, dict) else "")
        article = getattr(cite, "article", None) or (
            cite.get("article", "") if isinstance(cite, dict) else ""
        )
        summary = getattr(cite, "summary", None) or (
            cite.get("summary", "") if isinstance(cite, dict) else ""
        )
        head = " ".join(p for p in (law, article) if p)
        parts.append(f"{head}: {summary}" if summary else head)
    return "; ".join(p for p in parts if p)


def _packs(rules: str) -> list[Any]:
    try:
        from auditor.engine.loader import load_pack_folder, pack_folders
    except ImportError:
        try:
            from auditor.engine import load_pack
        except ImportError:
            log.info("rule engine not installed; findings are shown by rule id")
            return []
        loaded = load_pack(rules)
        return loaded if isinstance(loaded, list) else [loaded]
    return [load_pack_folder(folder) for folder in pack_folders(rules)]


def load_rule_meta(
    rules: str | None = "all", overrides: Mapping[str, Mapping[str, str]] | None = None
) -> RuleMeta:
    """rule id → {"title", "cite"} from the packs named by `rules`, then `overrides` on top."""
    meta: RuleMeta = {}
    if rules:
        try:
            packs = _packs(rules)
        except AuditorError as exc:
            # A broken pack must not stop a report: the findings are already stored.
            log.warning("rule metadata unavailable (%s); findings are shown by rule id", exc)
            packs = []
        for pack in packs:
            for item in getattr(pack, "rules", []):
                rule = getattr(item, "rule", item)
                rule_id = getattr(rule, "id", None)
                if rule_id:
                    meta[rule_id] = {
                        "title": str(getattr(rule, "title", "") or rule_id),
                        "cite": _cite_text(getattr(rule, "cite", [])),
                    }
    for rule_id, values in (overrides or {}).items():
        meta[rule_id] = {
            "title": str(values.get("title") or rule_id),
            "cite": str(values.get("cite") or ""),
        }
    return meta


def describe_rule(meta: RuleMeta, rule_id: str) -> dict[str, str]:
    found = meta.get(rule_id)
    if found is None:
        return {"title": rule_id, "cite": "", "known": ""}
    return {"title": found["title"], "cite": found["cite"], "known": "1"}
