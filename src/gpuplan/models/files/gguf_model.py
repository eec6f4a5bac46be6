"""A GGUF header (or a split GGUF's headers) → ModelArch + exact WeightBytes.

The layer composition is read from the tensor *names* (``blk.N.attn_k``,
``blk.N.ffn_up_exps``, ``blk.N.ssm_in``…), which llama.cpp fixes for every
architecture, so dense, MoE, hybrid and MLA models need no per-architecture table;
only what names cannot say (the sliding-window pattern of Gemma and gpt-oss, Llama
4's chunked attention) comes from llama.cpp's per-architecture defaults below.
"""

from __future__ import annotations

import contextlib
import re
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from gguf import MODEL_ARCH_NAMES, LlamaFileType
from pydantic import ValidationError

from gpuplan.errors import ModelError, ModelFileError
from gpuplan.models.arch import (
    MAX_LAYERS,
    HybridSpec,
    MixerKind,
    MLASpec,
    ModelArch,
    MoESpec,
    SlidingSpec,
)
from gpuplan.models.files import LocalModel
from gpuplan.models.files.gguf_header import (
    GGUFHeader,
    GGUFTensorInfo,
    SkippedArray,
    metadata_int,
    read_gguf_header,
    split_paths,
)
from gpuplan.models.quant import normalize_quant
from gpuplan.models.weight_bytes import WeightBytes
from gpuplan.problems import first_problem, shown

_BLOCK = re.compile(r"^blk\.(\d+)\.(.+)$")
_PER_EXPERT = re.compile(r"^ffn_(gate|up|down)\.\d+\.weight$")
_ATTENTION = ("attn_k.", "attn_qkv.", "attn_kv_a_mqa.", "attn_k_b.")
_STATE = ("ssm_in.", "ssm_conv1d.", "ssm_a", "ssm_x.")
_DENSE = ("ffn_up.weight", "ffn_down.weight", "ffn_gate.weight")

SWA_PATTERN: dict[str, int] = {"gemma2": 2, "gemma3": 6, "cohere2": 4, "gpt-oss": 2, "gemma3n": 5}
"""llama.cpp's ``set_swa_pattern`` per architecture: layer i slides if i % p < p - 1."""


def _is_expert(name: str) -> bool:
    match = _BLOCK.match(name)
    return match is not None and ("_exps." in match[2] or _PER_EXPERT.match(match[2]) is not None)


def _layer_roles(tensors: Sequence[GGUFTensorInfo]) -> dict[int, set[str]]:
    roles: dict[int, set[str]] = defaultdict(set)
    for tensor in tensors:
        match = _BLOCK.match(tensor.name)
        if match is None:
            continue
        layer, rest = int(match[1]), match[2]
        if rest.startswith(_ATTENTION):
            roles[layer].add("attention")
        if rest.startswith(_STATE):
            roles[layer].add("state")
        if "_exps." in rest or _PER_EXPERT.match(rest):
            roles[layer].add("moe")
        elif rest in _DENSE:
            roles[layer].add("dense")
        if rest == "ffn_gate.weight":
            roles[layer].add("gated")
    return roles


def _vocab(md: Mapping[str, Any], tensors: Sequence[GGUFTensorInfo], arch: str) -> int | None:
    for tensor in tensors:
        if tensor.name == "token_embd.weight" and len(tensor.dims) >= 2:
            return tensor.dims[1]
    tokens = md.get("tokenizer.ggml.tokens")
    if isinstance(tokens, SkippedArray):
        return tokens.length
    if isinstance(tokens, list):
        return len(tokens)
    return metadata_int(md, f"{arch}.vocab_size")


def _sliding(md: Mapping[str, Any], arch: str, layers: int) -> SlidingSpec | None:
    if arch == "llama4":
        return SlidingSpec(window=8192, sliding_layers=layers - layers // 4, chunked=True)
    window = metadata_int(md, f"{arch}.attention.sliding_window")
    if not window:
        return None
    pattern = md.get(f"{arch}.attention.sliding_window_pattern")
    if isinstance(pattern, list) and len(pattern) == layers:
        return SlidingSpec(window=window, sliding_layers=sum(1 for v in pattern if v))
    period = pattern if isinstance(pattern, int) and pattern > 0 else SWA_PATTERN.get(arch)
    if period is None:
        return SlidingSpec(window=window, sliding_layers=layers)  # every layer slides
    # Layers i with i % period < period - 1 slide: period - 1 of every full period, plus
    # the first ones of a last, partial period (arithmetic, so no loop over the layers).
    full, rest = divmod(layers, period)
    return SlidingSpec(window=window, sliding_layers=full * (period - 1) + min(rest, period - 1))


def _hybrid(md: Mapping[str, Any], arch: str, state_layers: int) -> HybridSpec | None:
    if state_layers == 0:
        return None
    inner = metadata_int(md, f"{arch}.ssm.inner_size") or 0
    d_state = metadata_int(md, f"{arch}.ssm.state_size") or 0
    kernel = metadata_int(md, f"{arch}.ssm.conv_kernel") or 4
    groups = metadata_int(md, f"{arch}.ssm.group_count")
    mixer: MixerKind
    if "qwen3next" in arch or "qwen35" in arch:
        mixer, conv = "gated_deltanet", 2 * (groups or 1) * d_state + inner
    elif groups:
        mixer, conv = "mamba2", inner + 2 * groups * d_state
    elif inner:
        mixer, conv = "mamba", inner
    else:
        mixer, conv = "unknown", 0
    # llama.cpp keeps both the conv and the recurrent state in f32.
    per_layer = (kernel - 1) * conv * 4 + inner * d_state * 4 if inner else 64 * 2**20
    return HybridSpec(
        mixer=mixer, state_layers=state_layers, state_bytes_per_sequence=per_layer * state_layers
    )


def _moe(
    md: Mapping[str, Any], arch: str, tensors: Sequence[GGUFTensorInfo], moe_layers: int, ffn: int
) -> MoESpec | None:
    experts = metadata_int(md, f"{arch}.expert_count") or 0
    if experts <= 1 or moe_layers == 0:
        return None
    width = metadata_int(md, f"{arch}.expert_feed_forward_length") or ffn
    shared = metadata_int(md, f"{arch}.expert_shared_count") or 0
    shared_width = (metadata_int(md, f"{arch}.expert_shared_feed_forward_length") or width) * shared
    if not shared:
        for tensor in tensors:
            if tensor.name.endswith("ffn_up_shexp.weight") and len(tensor.dims) >= 2:
                shared, shared_width = 1, tensor.dims[1]
                break
    return MoESpec(
        num_experts=experts,
        experts_per_token=metadata_int(md, f"{arch}.expert_used_count") or 2,
        expert_intermediate_size=width,
        num_shared_experts=shared,
        shared_intermediate_size=shared_width,
        moe_layers=moe_layers,
    )


def _mla(md: Mapping[str, Any], arch: str, head_dim: int) -> MLASpec | None:
    kv_lora = metadata_int(md, f"{arch}.attention.kv_lora_rank")
    if not kv_lora:
        return None
    rope = metadata_int(md, f"{arch}.rope.dimension_count") or 64
    key_mla = metadata_int(md, f"{arch}.attention.key_length_mla") or head_dim
    return MLASpec(
        kv_lora_rank=kv_lora,
        qk_rope_head_dim=rope,
        qk_nope_head_dim=max(key_mla - rope, 0),
        v_head_dim=metadata_int(md, f"{arch}.attention.value_length_mla") or 128,
        q_lora_rank=metadata_int(md, f"{arch}.attention.q_lora_rank"),
    )


def gguf_arch(header: GGUFHeader, tensors: Sequence[GGUFTensorInfo] | None = None) -> ModelArch:
    """The ModelArch a GGUF header describes (``tensors``: all shards' tensors, if split)."""
    md, arch = header.metadata, header.architecture
    tensors = header.tensors if tensors is None else tensors
    roles = _layer_roles(tensors)
    layers = metadata_int(md, f"{arch}.block_count") or (max(roles) + 1 if roles else 0)
    hidden = metadata_int(md, f"{arch}.embedding_length")
    vocab = _vocab(md, tensors, arch)
    if not layers or not hidden or not vocab:
        raise ModelFileError(
            f"{header.path}: GGUF metadata lacks {arch}.block_count, {arch}.embedding_length "
            "or a vocabulary",
            hint="the file may be a LoRA adapter, a vision projector (mmproj) or not a model",
        )
    if layers > MAX_LAYERS:  # checked before any per-layer work: 2**31 layers would never end
        raise ModelFileError(
            f"{header.path}: GGUF metadata says {arch}.block_count is {layers:,}; no model has "
            f"more than {MAX_LAYERS:,} layers",
            hint="the header is corrupt; re-download or re-convert the file",
        )
    quant = file_quant(md, tensors)
    for key in _NONZERO_KEYS:
        if f"{arch}.{key}" in md and not metadata_int(md, f"{arch}.{key}"):
            raise ModelFileError(
                f"{header.path}: GGUF metadata says {arch}.{key} is "
                f"{shown(md[f'{arch}.{key}'])}; a model needs a positive count",
                hint="the header is corrupt; re-download or re-convert the file",
            )
    try:
        return _build(header, arch, md, tensors, roles, layers, hidden, vocab, quant)
    except ValidationError as error:
        raise ModelFileError(
            f"{header.path}: metadata describes an impossible model: "
            f"{first_problem(error.errors())}",
            hint="the header is corrupt; re-download or re-convert the file",
        ) from None


_NONZERO_KEYS = (
    "block_count",
    "embedding_length",
    "context_length",
    "attention.head_count",
    "attention.head_count_kv",
)
"""Counts that are absent (then derived) or positive: a 0 is a corrupt header."""


def _build(
    header: GGUFHeader,
    arch: str,
    md: Mapping[str, Any],
    tensors: Sequence[GGUFTensorInfo],
    roles: dict[int, set[str]],
    layers: int,
    hidden: int,
    vocab: int,
    quant: str | None,
) -> ModelArch:
    heads = metadata_int(md, f"{arch}.attention.head_count") or 1
    kv_raw = md.get(f"{arch}.attention.head_count_kv")
    kv_heads = metadata_int(md, f"{arch}.attention.head_count_kv") or heads
    key = metadata_int(md, f"{arch}.attention.key_length") or hidden // heads
    value = metadata_int(md, f"{arch}.attention.value_length") or key
    attention_layers = sum(1 for r in roles.values() if "attention" in r)
    if isinstance(kv_raw, list) and not attention_layers:
        attention_layers = sum(1 for v in kv_raw if v)
    if not roles:
        attention_layers = layers
    ffn = metadata_int(md, f"{arch}.feed_forward_length") or 0
    moe_layers = sum(1 for r in roles.values() if "moe" in r)
    dense_layers = sum(1 for r in roles.values() if "dense" in r)
    state_layers = sum(1 for r in roles.values() if "state" in r)
    hybrid = _hybrid(md, arch, state_layers)
    return ModelArch(
        architecture=arch,
        model_type=arch,
        num_layers=layers,
        hidden_size=hidden,
        num_attention_heads=heads,
        num_kv_heads=kv_heads,
        head_dim=max(key, value),
        vocab_size=vocab,
        intermediate_size=ffn,
        tied_embeddings=not any(t.name == "output.weight" for t in tensors),
        attention_layers=attention_layers,
        dense_layers=dense_layers,
        gated_mlp=any("gated" in r for r in roles.values()) or not dense_layers,
        moe=_moe(md, arch, tensors, moe_layers, ffn),
        sliding=None if hybrid else _sliding(md, arch, layers),
        mla=_mla(md, arch, key),
        hybrid=hybrid,
        max_position_embeddings=metadata_int(md, f"{arch}.context_length"),
        checkpoint_quant=quant,
        parameters=sum(t.n_elements for t in tensors),
    )


def file_quant(md: Mapping[str, Any], tensors: Sequence[GGUFTensorInfo]) -> str | None:
    """The canonical quant of a GGUF: its general.file_type, else its dominant tensor type."""
    file_type = md.get("general.file_type")
    candidates: list[str] = []
    if isinstance(file_type, int) and not isinstance(file_type, bool):
        with contextlib.suppress(ValueError):
            candidates.append(LlamaFileType(file_type).name)
    by_type: Counter[str] = Counter()
    for tensor in tensors:
        if len(tensor.dims) >= 2:
            by_type[tensor.type_name] += tensor.n_bytes
    candidates.extend(name for name, _ in by_type.most_common(1))
    for name in candidates:
        try:
            return normalize_quant(name)
        except ModelError:
            continue
    return None


def gguf_weights(headers: Sequence[GGUFHeader], quant: str | None) -> WeightBytes:
    """Exact tensor bytes of one or more GGUF shards, by role and by ggml type."""
    by_type: Counter[str] = Counter()
    embedding = output = experts = total = params = 0
    names: set[str] = set()
    for header in headers:
        for tensor in header.tensors:
            by_type[tensor.type_name] += tensor.n_bytes
            total += tensor.n_bytes
            params += tensor.n_elements
            names.add(tensor.name)
            if tensor.name == "token_embd.weight":
                embedding += tensor.n_bytes
            elif tensor.name == "output.weight":
                output += tensor.n_bytes
            elif _is_expert(tensor.name):
                experts += tensor.n_bytes
    return WeightBytes(
        total_bytes=total,
        parameters=params,
        token_embedding_bytes=embedding,
        output_bytes=output,
        expert_bytes=experts,
        tied_embeddings="output.weight" not in names,
        bytes_by_dtype=dict(by_type),
        quant=quant,
        files=tuple(str(h.path) for h in headers),
        notes=tuple(note for h in headers for note in h.notes),
    )


def read_gguf(path: str | Path) -> LocalModel:
    """A GGUF file (or the first part of a split GGUF) as a LocalModel, from headers only."""
    path = Path(path)
    first = read_gguf_header(path)
    paths = split_paths(path, first)
    headers = [first] + [read_gguf_header(p) for p in paths[1:]]
    tensors = [t for h in headers for t in h.tensors]
    arch = gguf_arch(first, tensors)
    weights = gguf_weights(headers, arch.checkpoint_quant)
    match = re.match(r"^(.*)-\d{5}-of-\d{5}$", path.stem)
    name = first.metadata.get("general.name")
    notes = [f"general.name: {name}"] if isinstance(name, str) and name else []
    if first.architecture not in _KNOWN_ARCHITECTURES:
        notes.append(
            f"architecture {first.architecture!r} is unknown to llama.cpp's gguf library: "
            "estimated as a plain transformer from its header"
        )
    return LocalModel(
        id=match[1] if match else path.stem,
        kind="gguf",
        path=str(path),
        arch=arch,
        weights=weights,
        quant=arch.checkpoint_quant,
        notes=tuple(notes),
    )


_KNOWN_ARCHITECTURES = frozenset(MODEL_ARCH_NAMES.values())
