"""A tiny llama-architecture GGUF that llama.cpp really loads and serves, written here.

No download: ``write_tiny_llama(path)`` builds a 2-layer, width-64 llama model with
random weights and a SentencePiece-style vocabulary (control tokens, the 256 byte
tokens for byte fallback, and a few word pieces), so any prompt tokenizes and the
server streams tokens back. The output is gibberish by design; what the tests need is
a real engine doing real prefill and decode steps on this CPU. Tensor names come from
``gguf.MODEL_TENSORS`` / ``gguf.TENSOR_NAMES``, shapes follow llama.cpp's llama loader
(GGUF lists dimensions innermost first, so a numpy ``(rows, cols)`` array is
``{cols, rows}`` there). It loads in ~10 ms and takes ~1 MiB.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["TINY_CONTEXT", "TINY_VOCAB", "write_tiny_llama"]

TINY_CONTEXT = 2048
"""``llama.context_length`` of the tiny model: room for the tests' prompts plus replies."""

_WORDS = (
    "the", "a", "of", "and", "to", "in", "is", "it", "that", "GPU", "model", "token",
    "serve", "plan", "fast", "slow", "hello", "world", "test", "run",
)  # fmt: skip

TINY_VOCAB = 3 + 256 + len(_WORDS)
"""Tokens in the vocabulary: <unk>, <s>, </s>, 256 byte tokens, the word pieces."""


def write_tiny_llama(
    path: Path,
    *,
    n_layers: int = 2,
    n_embd: int = 64,
    n_head: int = 4,
    n_ff: int = 128,
    seed: int = 0,
) -> Path:
    """Write the tiny model to ``path`` and return it."""
    import gguf
    import numpy as np

    arch = gguf.MODEL_ARCH.LLAMA
    names = gguf.TENSOR_NAMES
    assert set(gguf.MODEL_TENSORS[arch]) >= {
        gguf.MODEL_TENSOR.TOKEN_EMBD,
        gguf.MODEL_TENSOR.OUTPUT_NORM,
        gguf.MODEL_TENSOR.OUTPUT,
        gguf.MODEL_TENSOR.ATTN_Q,
        gguf.MODEL_TENSOR.FFN_UP,
    }
    tokens, scores, types = _vocab(gguf)
    n_vocab = len(tokens)
    rng = np.random.default_rng(seed)

    def weight(*shape: int) -> Any:
        return (rng.standard_normal(shape) * 0.02).astype(np.float32)

    writer = gguf.GGUFWriter(str(path), gguf.MODEL_ARCH_NAMES[arch])
    writer.add_name("gpuplan-tiny-llama")
    writer.add_context_length(TINY_CONTEXT)
    writer.add_embedding_length(n_embd)
    writer.add_block_count(n_layers)
    writer.add_feed_forward_length(n_ff)
    writer.add_head_count(n_head)
    writer.add_head_count_kv(n_head)
    writer.add_rope_dimension_count(n_embd // n_head)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)

    writer.add_tokenizer_model("llama")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_unk_token_id(0)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)
    # A chat template the engines' /v1/chat/completions can render (ChatML-like).
    writer.add_chat_template(
        "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}<|assistant|>{% endif %}"
    )

    writer.add_tensor(names[gguf.MODEL_TENSOR.TOKEN_EMBD] + ".weight", weight(n_vocab, n_embd))
    for layer in range(n_layers):

        def name(tensor: object, layer: int = layer) -> str:
            return str(names[tensor]).format(bid=layer) + ".weight"  # type: ignore[index]

        writer.add_tensor(name(gguf.MODEL_TENSOR.ATTN_NORM), np.ones(n_embd, dtype=np.float32))
        writer.add_tensor(name(gguf.MODEL_TENSOR.ATTN_Q), weight(n_embd, n_embd))
        writer.add_tensor(name(gguf.MODEL_TENSOR.ATTN_K), weight(n_embd, n_embd))
        writer.add_tensor(name(gguf.MODEL_TENSOR.ATTN_V), weight(n_embd, n_embd))
        writer.add_tensor(name(gguf.MODEL_TENSOR.ATTN_OUT), weight(n_embd, n_embd))
        writer.add_tensor(name(gguf.MODEL_TENSOR.FFN_NORM), np.ones(n_embd, dtype=np.float32))
        writer.add_tensor(name(gguf.MODEL_TENSOR.FFN_GATE), weight(n_ff, n_embd))
        writer.add_tensor(name(gguf.MODEL_TENSOR.FFN_DOWN), weight(n_embd, n_ff))
        writer.add_tensor(name(gguf.MODEL_TENSOR.FFN_UP), weight(n_ff, n_embd))
    writer.add_tensor(
        names[gguf.MODEL_TENSOR.OUTPUT_NORM] + ".weight", np.ones(n_embd, dtype=np.float32)
    )
    writer.add_tensor(names[gguf.MODEL_TENSOR.OUTPUT] + ".weight", weight(n_vocab, n_embd))

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def _vocab(gguf: object) -> tuple[list[str], list[float], list[int]]:
    """SentencePiece layout: control tokens, byte-fallback tokens, then word pieces."""
    kinds = gguf.TokenType  # type: ignore[attr-defined]
    tokens = ["<unk>", "<s>", "</s>"]
    types = [int(kinds.UNKNOWN), int(kinds.CONTROL), int(kinds.CONTROL)]
    tokens += [f"<0x{byte:02X}>" for byte in range(256)]
    types += [int(kinds.BYTE)] * 256
    tokens += ["\u2581" + word for word in _WORDS]
    types += [int(kinds.NORMAL)] * len(_WORDS)
    scores = [0.0] * 259 + [-float(rank) for rank in range(len(_WORDS))]
    return tokens, scores, types
