"""Convert a CTranslate2 Whisper model (faster-whisper's format) into an openai-whisper checkpoint.

The offline model ships only in CTranslate2 format; converting it lets the reference back end run
on the very same weights, so the two back ends can be compared on one model with no download.

model.bin (CTranslate2 binary version 6, little-endian, no padding): u32 version, a string
"WhisperSpec", u32 revision, u32 variable count, then per variable: name, u8 rank, u32 dims, u8
dtype id, u32 byte count, raw data; then u32 alias count and (alias, target) name pairs. A string
is a u16 length (including a trailing NUL), the bytes, the NUL. Variable names follow
ctranslate2/specs/whisper_spec.py and transformer_spec.py.
"""

from __future__ import annotations

import json
import logging
import os
import re
import struct
import tempfile
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from auditor.errors import ModelError

log = logging.getLogger(__name__)

_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}
_BFLOAT16 = 5
_MEL_BINS_BY_CONV_INPUT = {80: 80, 128: 128}


def _string(handle: BinaryIO) -> str:
    (length,) = struct.unpack("<H", handle.read(2))
    return handle.read(length)[:-1].decode("utf-8")


def read_ctranslate2(path: str | Path) -> dict[str, np.ndarray]:
    """Every variable of a CTranslate2 model.bin, aliases resolved, as numpy arrays."""
    variables: dict[str, np.ndarray] = {}
    with open(path, "rb") as handle:
        (version,) = struct.unpack("<I", handle.read(4))
        if version < 5:
            raise ModelError(f"{path}: CTranslate2 binary version {version} is not supported")
        spec = _string(handle)
        if spec != "WhisperSpec":
            raise ModelError(f"{path}: a {spec} model, not Whisper")
        handle.read(4)  # revision
        (count,) = struct.unpack("<I", handle.read(4))
        for _ in range(count):
            name = _string(handle)
            (rank,) = struct.unpack("<B", handle.read(1))
            shape = struct.unpack(f"<{rank}I", handle.read(4 * rank))
            dtype_id, size = struct.unpack("<BI", handle.read(5))
            raw = handle.read(size)
            if dtype_id == _BFLOAT16:
                bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
                array = bits.view(np.float32)
            elif dtype_id in _DTYPES:
                array = np.frombuffer(raw, dtype=np.dtype(_DTYPES[dtype_id]).newbyteorder("<"))
            else:
                raise ModelError(f"{path}: {name}: unknown dtype id {dtype_id}")
            variables[name] = array.reshape(shape)
        (aliases,) = struct.unpack("<I", handle.read(4))
        for _ in range(aliases):
            alias, target = _string(handle), _string(handle)
            variables[alias] = variables[target]
    return variables


def _dequantized(variables: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """int8 and int16 weights times their per-row scale, back to float32."""
    out = {}
    for name, value in variables.items():
        if name.endswith("weight_scale"):
            continue
        scale = variables.get(f"{name}_scale")
        if value.dtype in (np.int8, np.int16) and scale is not None:
            value = value.astype(np.float32) / scale.astype(np.float32).reshape(-1, 1)
        out[name] = value
    return out


def _layer_count(variables: dict[str, np.ndarray], prefix: str) -> int:
    pattern = re.compile(rf"^{prefix}/layer_(\d+)/")
    return 1 + max(int(m.group(1)) for n in variables if (m := pattern.match(n)))


def to_openai_state_dict(
    variables: dict[str, np.ndarray],
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(dims, state dict) of openai-whisper's `Whisper` model for CTranslate2 `variables`."""
    v = _dequantized(variables)
    n_audio_layer = _layer_count(v, "encoder")
    n_text_layer = _layer_count(v, "decoder")
    conv1 = v["encoder/conv1/weight"]
    embeddings = v["decoder/embeddings/weight"]
    n_state = conv1.shape[0]
    n_head = int(v["encoder/num_heads"]) if "encoder/num_heads" in v else n_state // 64
    n_text_head = int(v["decoder/num_heads"]) if "decoder/num_heads" in v else n_head
    dims = {
        "n_mels": int(conv1.shape[1]),
        "n_audio_ctx": int(v["encoder/position_encodings/encodings"].shape[0]),
        "n_audio_state": int(n_state),
        "n_audio_head": n_head,
        "n_audio_layer": n_audio_layer,
        "n_vocab": int(embeddings.shape[0]),
        "n_text_ctx": int(v["decoder/position_encodings/encodings"].shape[0]),
        "n_text_state": int(embeddings.shape[1]),
        "n_text_head": n_text_head,
        "n_text_layer": n_text_layer,
    }
    state: dict[str, np.ndarray] = {}

    def put(name: str, value: np.ndarray) -> None:
        state[name] = np.ascontiguousarray(value)

    def norm(target: str, source: str) -> None:
        put(f"{target}.weight", v[f"{source}/gamma"])
        put(f"{target}.bias", v[f"{source}/beta"])

    def linear(target: str, source: str, bias: bool = True) -> None:
        put(f"{target}.weight", v[f"{source}/weight"])
        if bias:
            put(f"{target}.bias", v[f"{source}/bias"])

    def self_attention(target: str, source: str) -> None:
        # CTranslate2 fuses q, k, v into one projection stacked by rows; Whisper's key has no
        # bias (CTranslate2 stores zeros for it, dropped here).
        weight, bias = v[f"{source}/linear_0/weight"], v[f"{source}/linear_0/bias"]
        q, k, vv = np.split(weight, 3)
        qb, _, vb = np.split(bias, 3)
        put(f"{target}.query.weight", q)
        put(f"{target}.query.bias", qb)
        put(f"{target}.key.weight", k)
        put(f"{target}.value.weight", vv)
        put(f"{target}.value.bias", vb)
        linear(f"{target}.out", f"{source}/linear_1")

    def cross_attention(target: str, source: str) -> None:
        linear(f"{target}.query", f"{source}/linear_0")
        weight, bias = v[f"{source}/linear_1/weight"], v[f"{source}/linear_1/bias"]
        k, vv = np.split(weight, 2)
        _, vb = np.split(bias, 2)
        put(f"{target}.key.weight", k)
        put(f"{target}.value.weight", vv)
        put(f"{target}.value.bias", vb)
        linear(f"{target}.out", f"{source}/linear_2")

    def mlp(target: str, source: str) -> None:
        linear(f"{target}.0", f"{source}/linear_0")
        linear(f"{target}.2", f"{source}/linear_1")
        norm(f"{target}_ln", f"{source}/layer_norm")

    linear("encoder.conv1", "encoder/conv1")
    linear("encoder.conv2", "encoder/conv2")
    put("encoder.positional_embedding", v["encoder/position_encodings/encodings"])
    for i in range(n_audio_layer):
        src, dst = f"encoder/layer_{i}", f"encoder.blocks.{i}"
        self_attention(f"{dst}.attn", f"{src}/self_attention")
        norm(f"{dst}.attn_ln", f"{src}/self_attention/layer_norm")
        mlp(f"{dst}.mlp", f"{src}/ffn")
    norm("encoder.ln_post", "encoder/layer_norm")

    put("decoder.token_embedding.weight", embeddings)
    put("decoder.positional_embedding", v["decoder/position_encodings/encodings"])
    for i in range(n_text_layer):
        src, dst = f"decoder/layer_{i}", f"decoder.blocks.{i}"
        self_attention(f"{dst}.attn", f"{src}/self_attention")
        norm(f"{dst}.attn_ln", f"{src}/self_attention/layer_norm")
        cross_attention(f"{dst}.cross_attn", f"{src}/attention")
        norm(f"{dst}.cross_attn_ln", f"{src}/attention/layer_norm")
        mlp(f"{dst}.mlp", f"{src}/ffn")
    norm("decoder.ln", "decoder/layer_norm")
    return dims, state


def convert(model_dir: str | Path, output: str | Path) -> Path:
    """Write the openai-whisper checkpoint of the CTranslate2 model in `model_dir`, atomically.

    Weights keep their precision (float16 stays float16); openai-whisper casts them to the
    precision it runs in. Needs torch (the `auditor[openai-whisper]` extra).
    """
    try:
        import torch
    except ImportError as exc:
        raise ModelError(
            "converting a model needs torch: pip install 'auditor[openai-whisper]'"
        ) from exc
    folder = Path(model_dir)
    dims, state = to_openai_state_dict(read_ctranslate2(folder / "model.bin"))
    checkpoint: dict[str, Any] = {
        "dims": dims,
        "model_state_dict": {k: torch.from_numpy(a.copy()) for k, a in state.items()},
    }
    config_path = folder / "config.json"
    if config_path.is_file():
        heads = json.loads(config_path.read_text()).get("alignment_heads")
        if heads:
            checkpoint["alignment_heads"] = [[int(layer), int(head)] for layer, head in heads]
    target = Path(output)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        dir=target.parent, prefix=f".{target.name}.", delete=False
    ) as out:
        try:
            torch.save(checkpoint, out)
        except BaseException:
            os.unlink(out.name)
            raise
    os.replace(out.name, target)
    log.info("converted %s to %s (%d tensors)", folder, target, len(state))
    return target


def default_openai_checkpoint(model_dir: Path, cache: Path | None = None) -> Path:
    """The offline default model as an openai-whisper checkpoint, converted on first use; named
    by the model's hash so a changed model.bin gets a new conversion."""
    from auditor.transcribe.model import cache_root

    record = json.loads((model_dir / "assembled.json").read_text())
    target = (cache or cache_root()) / "models" / f"whisper-base-openai-{record['sha256'][:12]}.pt"
    if not target.is_file():
        convert(model_dir, target)
    return target
