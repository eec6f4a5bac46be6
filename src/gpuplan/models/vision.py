"""Vision towers from a config.json's ``vision_config``: parameters, and how vLLM splits them.

Each family is counted tensor by tensor as its transformers / vLLM model defines it,
because the towers differ in ways a generic ViT formula misses (Llama 3.2 Vision's
second "global" encoder and tile embeddings, Qwen2.5-VL's gated MLP and patch merger,
Gemma 3's SigLIP with its 4096 position embeddings and projector, Llama 4's
pixel-shuffle adapter). The published totals these counts were checked against are
in tests/models/test_vision.py.

Under tensor parallelism vLLM shards the encoder blocks and most projectors of these
towers (its default ``mm_encoder_tp_mode="weights"``: ``QKVParallelLinear`` /
``ColumnParallelLinear`` / ``RowParallelLinear`` in qwen2_5_vl.py, mllama4.py,
siglip.py, mllama.py) and holds the embeddings, norms and replicated projectors whole
on every GPU. ``VisionSpec.tp_sharded_parameters`` is the sharded part; a tower of an
unknown family is assumed replicated (never an underestimate).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gpuplan.models.arch import VisionSpec

__all__ = ["cross_attention_tokens", "vision_spec"]


def _int(section: Mapping[str, Any], *keys: str) -> int | None:
    for key in keys:
        value = section.get(key)
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    return None


def _layer(h: int, inter: int, *, gated: bool, bias: bool, norm: int) -> int:
    """One pre-norm ViT block: q/k/v/o, the MLP, two norms of ``norm`` parameters each."""
    attention = 4 * h * h + (4 * h if bias else 0)
    mlp = (3 if gated else 2) * h * inter + ((2 if gated else 1) * inter + h if bias else 0)
    return attention + mlp + 2 * norm


def vision_spec(config: Mapping[str, Any], text_hidden: int) -> VisionSpec | None:
    """The vision tower of a multimodal config.json, or None for a text-only model."""
    vision = config.get("vision_config")
    if not isinstance(vision, Mapping):
        return None
    kind = str(vision.get("model_type") or config.get("model_type") or "")
    hidden = _int(vision, "embed_dim", "hidden_size", "width")
    if "embed_dim" in vision and "hidden_size" in vision:
        hidden = _int(vision, "embed_dim")  # Qwen2-VL: hidden_size is the merger's output
    depth = _int(vision, "depth", "num_hidden_layers", "num_layers", "layers")
    if not hidden or not depth:
        return None
    inter = _int(vision, "intermediate_size")
    if inter is None:
        ratio = vision.get("mlp_ratio")
        inter = int(hidden * float(ratio)) if isinstance(ratio, int | float) else 4 * hidden
    out = _int(vision, "out_hidden_size") or text_hidden
    if kind.startswith("mllama"):
        sharded, replicated = _mllama(vision, hidden, inter, depth, text_hidden)
    elif kind.startswith("llama4"):
        sharded, replicated = _llama4(vision, hidden, inter, depth, text_hidden)
    elif kind.startswith(("qwen2_5_vl", "qwen2_vl", "qwen3_vl")):
        sharded, replicated = _qwen_vl(vision, kind, hidden, inter, depth, out)
    elif kind.startswith(("siglip", "gemma3")):
        sharded, replicated = _siglip(vision, hidden, inter, depth)
        if kind.startswith("gemma3") or config.get("model_type") == "gemma3":
            # Gemma3MultiModalProjector: mm_input_projection_weight + mm_soft_emb_norm,
            # plain parameters (replicated in vLLM's gemma3_mm.py)
            replicated += hidden * text_hidden + hidden
    else:
        return _generic(vision, hidden, inter, depth, out)
    return VisionSpec(
        hidden_size=hidden,
        num_layers=depth,
        intermediate_size=inter,
        parameters=sharded + replicated,
        tp_sharded_parameters=sharded,
    )


def _generic(
    vision: Mapping[str, Any], hidden: int, inter: int, depth: int, out: int
) -> VisionSpec:
    """A ViT of unknown family: blocks + patch embedding + a merge/projector; replicated."""
    gated = str(vision.get("hidden_act", "")).lower() in ("silu", "swiglu")
    patch = _int(vision, "patch_size", "spatial_patch_size") or 14
    temporal = _int(vision, "temporal_patch_size") or 1
    merge = _int(vision, "spatial_merge_size") or 1
    shuffle = vision.get("pixel_shuffle_ratio")
    if isinstance(shuffle, int | float) and shuffle > 0:
        merge = max(merge, round(1 / float(shuffle)))
    merged = hidden * merge * merge
    out = _int(vision, "projector_output_dim") or out
    blocks = depth * (4 * hidden * hidden + (3 if gated else 2) * hidden * inter)
    embed = 3 * patch * patch * temporal * hidden
    return VisionSpec(
        hidden_size=hidden,
        num_layers=depth,
        intermediate_size=inter,
        parameters=blocks + embed + merged * merged + merged * out,
    )


def _qwen_vl(
    vision: Mapping[str, Any], kind: str, h: int, inter: int, depth: int, out: int
) -> tuple[int, int]:
    """Qwen2-VL / Qwen2.5-VL / Qwen3-VL (transformers ``Qwen2_5_VisionTransformer`` …).

    Qwen2.5-VL: RMSNorm blocks with a gated SiLU MLP (biases everywhere), a Conv3d patch
    embedding without bias, and a merger ln_q → Linear(4h, 4h) → GELU → Linear(4h, out).
    Qwen2-VL: LayerNorm blocks with a plain GELU MLP of mlp_ratio × h. Qwen3-VL: LayerNorm
    blocks with a plain MLP, a learned position embedding of num_position_embeddings, a
    Conv3d with bias, and one extra "deepstack" merger (norm over 4h) per
    deepstack_visual_indexes entry.
    """
    patch = _int(vision, "patch_size", "spatial_patch_size") or 14
    temporal = _int(vision, "temporal_patch_size") or 2
    channels = _int(vision, "in_chans", "in_channels") or 3
    merged = h * (_int(vision, "spatial_merge_size") or 2) ** 2
    norm = h if kind.startswith("qwen2_5_vl") else 2 * h  # RMSNorm vs LayerNorm
    block = _layer(h, inter, gated=kind.startswith("qwen2_5_vl"), bias=True, norm=norm)
    merger = merged * merged + merged + merged * out + out
    sharded = depth * (block - 2 * norm) + merger
    replicated = depth * 2 * norm + channels * temporal * patch * patch * h + norm
    if kind.startswith("qwen3_vl"):
        positions = _int(vision, "num_position_embeddings") or 2304
        replicated += h + positions * h  # Conv3d bias, learned positions
        deepstack = vision.get("deepstack_visual_indexes")
        extra = len(deepstack) if isinstance(deepstack, list) else 0
        sharded += extra * merger
        replicated += extra * 2 * merged
    return sharded, replicated


def _siglip(vision: Mapping[str, Any], h: int, inter: int, depth: int) -> tuple[int, int]:
    """SigLIP / SigLIP 2 vision tower (transformers ``SiglipVisionTransformer``).

    LayerNorm blocks (weight + bias) with biased q/k/v/o and a two-matrix GELU MLP; a
    Conv2d patch embedding with bias; (image / patch)² learned positions; a
    post-layernorm; and, unless ``vision_use_head`` is false (Gemma 3), the
    attention-pooling head: probe, nn.MultiheadAttention, LayerNorm and an MLP.
    """
    patch = _int(vision, "patch_size") or 14
    image = _int(vision, "image_size") or 224
    positions = _int(vision, "num_patches") or (image // patch) ** 2
    channels = _int(vision, "num_channels") or 3
    block = _layer(h, inter, gated=False, bias=True, norm=2 * h)
    sharded = depth * (block - 4 * h)
    replicated = depth * 4 * h + channels * patch * patch * h + h + positions * h + 2 * h
    if vision.get("vision_use_head", True) is not False:
        mlp = 2 * h * inter + inter + h
        sharded += mlp
        replicated += h + 4 * h * h + 4 * h + 2 * h  # probe, MultiheadAttention, LayerNorm
    return sharded, replicated


def _llama4(
    vision: Mapping[str, Any], h: int, inter: int, depth: int, text_hidden: int
) -> tuple[int, int]:
    """Llama 4's vision tower (``Llama4VisionModel``) and ``Llama4MultiModalProjector``.

    Blocks with biased q/k/v/o, a biased fc1/fc2 GELU MLP and LayerNorms; an unfold
    patch embedding (Linear without bias); class and (image / patch)² + 1 position
    embeddings; pre/post LayerNorms; the pixel-shuffle adapter (fc1 intermediate →
    projector_input_dim, fc2 projector_input_dim → projector_output_dim, no bias) and
    the projector vision_output_dim → text hidden. Defaults are Llama4VisionConfig's.
    """
    patch = _int(vision, "patch_size") or 14
    image = _int(vision, "image_size") or 336
    channels = _int(vision, "num_channels") or 3
    adapter_in = _int(vision, "projector_input_dim") or 4096
    adapter_out = _int(vision, "projector_output_dim") or 4096
    output_dim = _int(vision, "vision_output_dim") or adapter_out
    block = _layer(h, inter, gated=False, bias=True, norm=2 * h)
    sharded = depth * (block - 4 * h) + channels * patch * patch * h
    sharded += inter * adapter_in + adapter_in * adapter_out + output_dim * text_hidden
    positions = (image // patch) ** 2 + 1
    replicated = depth * 4 * h + h + positions * h + 4 * h
    return sharded, replicated


def _mllama(
    vision: Mapping[str, Any], h: int, inter: int, depth: int, text_hidden: int
) -> tuple[int, int]:
    """Mllama's (Llama 3.2 Vision) tower: transformers' ``MllamaVisionModel``.

    A local encoder of ``num_hidden_layers`` and a gated "global" one of
    ``num_global_layers`` (q/k/v/o without bias, a biased fc1/fc2 MLP, LayerNorms); a
    patch Conv2d without bias; class, position and gated tile-position embeddings of
    ``(max_aspect_ratio_id + 1) × max_num_tiles × (patches + 1) × h``, the
    pre/post-tile aspect-ratio embeddings; and the projector ``vision_output_dim``
    (h × (1 + len(intermediate_layers_indices)), 7680 for 11B) → text hidden, with bias.
    """
    global_layers = _int(vision, "num_global_layers") or 0
    patch = _int(vision, "patch_size") or 14
    image = _int(vision, "image_size") or 560
    positions = (image // patch) ** 2 + 1
    tiles = _int(vision, "max_num_tiles") or 4
    ratios = vision.get("supported_aspect_ratios")
    aspect_ids = (len(ratios) if isinstance(ratios, list) else 8) + 1
    block = 4 * h * h + 2 * h * inter + inter + h
    sharded = (depth + global_layers) * block + 3 * patch * patch * h
    output_dim = _int(vision, "vision_output_dim") or h
    sharded += output_dim * text_hidden + text_hidden
    norms = (depth + global_layers) * 4 * h + global_layers * 2 + 4 * h
    embeddings = h + positions * h + 1 + aspect_ids * tiles * positions * h
    embeddings += 2 * (aspect_ids * tiles * h + 1)
    return sharded, norms + embeddings


def cross_attention_tokens(config: Mapping[str, Any]) -> int:
    """Encoder tokens a cross-attention layer caches per sequence (Mllama), 0 if none.

    vLLM sizes the encoder sequence as max_num_tiles × ((image_size // 14)² + 1) per
    image (``get_max_mllama_image_tokens`` in vllm/model_executor/models/mllama.py):
    4 × 1601 = 6404 for Llama 3.2 Vision.
    """
    vision = config.get("vision_config")
    if not isinstance(vision, Mapping) or not str(vision.get("model_type", "")).startswith(
        "mllama"
    ):
        return 0
    image = _int(vision, "image_size") or 560
    tiles = _int(vision, "max_num_tiles") or 4
    return tiles * ((image // 14) ** 2 + 1)
