"""Read rule and pack files into typed models; every error names file, line, rule and field."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from auditor.engine.packs import rules_root
from auditor.engine.schema import PackSettings, Rule
from auditor.errors import RuleError

log = logging.getLogger(__name__)


_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class LoadedRule:
    rule: Rule
    path: Path
    pack: str  # the pack folder's name ("cn", "us")
    node: yaml.Node | None  # the composed YAML, to find the line of a field later


@dataclass(frozen=True)
class LoadedPack:
    settings: PackSettings
    path: Path
    rules: list[LoadedRule]


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """1-based line of the value at `loc` (a pydantic error location) in a composed YAML tree."""
    line = node.start_mark.line + 1 if node is not None else None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            nxt = None
            for k, v in node.value:
                if k.value == key:
                    nxt = v
                    line = k.start_mark.line + 1
                    break
            if nxt is None:
                return line
            node = nxt
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int):
            if key >= len(node.value):
                return line
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def _field_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _read_yaml(path: Path) -> tuple[Any, yaml.Node | None]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RuleError(f"{path}: cannot read the rule file: {exc}") from exc
    try:
        # Parse once with libyaml when present: the node tree keeps line numbers for errors.
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise RuleError(f"{where}: invalid YAML: {problem}") from exc
    return data, node


_UNION_TAGS = {"str", "int", "float", "bool", "list", "dict", "Example", "Cond", "Unless"}


def validation_message(
    path: Path, node: yaml.Node | None, rule_id: str, exc: ValidationError
) -> str:
    lines: list[str] = []
    errors = exc.errors()
    # For a field that is "a string or a mapping", report the mapping's complaint, not both.
    if len(errors) > 1:
        errors = [e for e in errors if not (e["loc"] and str(e["loc"][-1]) == "str")] or errors
    for err in errors:
        loc = tuple(
            part
            for part in err["loc"]
            if not (isinstance(part, str) and ("[" in part or part in _UNION_TAGS))
        )
        line = _line_of(node, loc)
        where = f"{path}:{line}" if line else str(path)
        field = _field_path(loc) or "(rule)"
        message = f"{where}: rule {rule_id}: {field}: {err['msg']}"
        if message not in lines:
            lines.append(message)
    return "; ".join(lines)


def load_rule_file(path: Path, pack: str = "") -> LoadedRule:
    data, node = _read_yaml(path)
    if not isinstance(data, dict):
        raise RuleError(f"{path}:1: a rule file holds one mapping (id, title, match, ...)")
    rule_id = str(data.get("id", "?"))
    try:
        rule = Rule.model_validate(data)
    except ValidationError as exc:
        raise RuleError(validation_message(path, node, rule_id, exc)) from exc
    if path.stem != rule.id:
        line = _line_of(node, ("id",))
        raise RuleError(
            f"{path}:{line}: rule {rule.id}: id: the file must be named {rule.id}.yaml "
            f"(one rule per file, named by its id)"
        )
    return LoadedRule(rule=rule, path=path, pack=pack, node=node)


def load_pack_settings(folder: Path) -> PackSettings:
    pack_file = folder / "pack.yaml"
    if not pack_file.is_file():
        raise RuleError(f"{folder}: not a rule pack: no pack.yaml")
    data, node = _read_yaml(pack_file)
    try:
        return PackSettings.model_validate(data)
    except ValidationError as exc:
        raise RuleError(validation_message(pack_file, node, "(pack)", exc)) from exc


def load_pack_folder(folder: Path) -> LoadedPack:
    settings = load_pack_settings(folder)
    rules = [
        load_rule_file(p, pack=folder.name)
        for p in sorted(folder.rglob("*.yaml"))
        if p.name != "pack.yaml"
    ]
    seen: dict[str, Path] = {}
    for loaded in rules:
        if loaded.rule.id in seen:
            raise RuleError(
                f"{loaded.path}: rule {loaded.rule.id}: id: duplicate id, also in "
                f"{seen[loaded.rule.id]}; an id is never reused"
            )
        seen[loaded.rule.id] = loaded.path
    return LoadedPack(settings=settings, path=folder, rules=rules)


def pack_folders(name_or_path: str | Path) -> list[Path]:
    """The pack folders a `--rules` value names: "cn", "us", "all" or a folder path."""
    root = rules_root()
    if isinstance(name_or_path, str) and name_or_path == "all":
        folders = sorted(p.parent for p in root.glob("*/pack.yaml"))
        if not folders:
            raise RuleError(f"{root}: no rule packs found (folders with a pack.yaml)")
        return folders
    if isinstance(name_or_path, str) and (root / name_or_path / "pack.yaml").is_file():
        return [root / name_or_path]
    path = Path(name_or_path)
    if (path / "pack.yaml").is_file():
        return [path]
    if path.is_dir():
        folders = sorted(p.parent for p in path.glob("*/pack.yaml"))
        if folders:
            return folders
        raise RuleError(f"{path}: not a rule pack (no pack.yaml here or in its sub-folders)")
    known = sorted(p.parent.name for p in root.glob("*/pack.yaml"))
    raise RuleError(
        f"{name_or_path}: no such rule pack; use one of {[*known, 'all']} or a folder path"
    )


MODELS_FOLDER = "models"


def pack_files(folder: Path, cards: bool = False) -> list[Path]:
    """The files a pack's findings depend on: pack.yaml, its rule files and its models (what
    `ruleset_version` hashes); with `cards`, also the models' Markdown cards (for exports)."""
    rules = sorted(p for p in folder.rglob("*.yaml") if p.name != "pack.yaml")
    models = sorted((folder / MODELS_FOLDER).glob("*.npz"))
    extra = sorted((folder / MODELS_FOLDER).glob("*.md")) if cards else []
    return [folder / "pack.yaml", *rules, *models, *extra]


# Bump when a change to the matching code changes findings for the same rule files (as the
# learned-classifier conditions did: 2). It is part of the version findings carry, so stores
# rescan after an upgrade instead of keeping findings the new engine would not make.
MATCHING_VERSION = 2


def ruleset_version(files: list[Path]) -> str:
    """Hash of the rule files' names and bytes, and of MATCHING_VERSION: the version findings
    are stamped with."""
    digest = hashlib.sha256(f"matching {MATCHING_VERSION}\0".encode())
    for path in sorted(files, key=lambda p: (p.parent.parent.name, p.parent.name, p.name)):
        digest.update(f"{path.parent.name}/{path.name}\0".encode())
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:16]
