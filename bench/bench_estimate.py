"""Time reading a 70B-class GGUF header and estimating its memory.

Writes a Llama-3-70B-shaped Q4_K_M GGUF (80 layers, 8192 wide, 128256-token vocab
with its tokenizer arrays, llama.cpp's Q4_K_M tensor types) whose data section is a
sparse hole: ~40 GiB apparent size, a few MiB on disk. gguf's writer lays out
header → KV → tensor infos → aligned data, so writing the first three and
truncating the file to its full length gives a valid file without writing data.

    .venv/bin/python bench/bench_estimate.py [--runs 20] [--path /tmp/llama-70b.gguf]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import timeit
from collections.abc import Callable
from pathlib import Path

import gguf
import numpy as np

from gpuplan.memory.estimate import estimate
from gpuplan.models.files.gguf_header import read_gguf_header
from gpuplan.models.files.gguf_model import read_gguf

Q = gguf.GGMLQuantizationType
LAYERS, HIDDEN, HEADS, KV_HEADS, FFN, VOCAB = 80, 8192, 64, 8, 28672, 128256
MERGES = 280_147  # Llama 3's BPE merge count


def _use_more_bits(i: int, n: int) -> bool:
    """llama.cpp's rule for which layers Q4_K_M promotes to Q6_K."""
    return i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2


def write_sparse_70b(path: Path) -> int:
    """Write the header, then extend the file over its (unwritten) data. Returns bytes."""
    writer = gguf.GGUFWriter(path, "llama")
    writer.add_name("Llama-3-70B-shaped bench model")
    writer.add_block_count(LAYERS)
    writer.add_context_length(131072)
    writer.add_embedding_length(HIDDEN)
    writer.add_feed_forward_length(FFN)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv(KV_HEADS)
    writer.add_rope_freq_base(500000.0)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q4_K_M)
    writer.add_tokenizer_model("gpt2")
    writer.add_token_list([f"token-{i}" for i in range(VOCAB)])
    writer.add_token_types([1] * VOCAB)
    writer.add_token_merges([f"a{i} b{i}" for i in range(MERGES)])
    f32 = np.dtype(np.float32)

    def tensor(name: str, shape: tuple[int, ...], qtype: Q) -> None:
        block, size = gguf.GGML_QUANT_SIZES[qtype]
        n_bytes = int(np.prod(shape)) // block * size
        writer.add_tensor_info(name, shape, f32, n_bytes, raw_dtype=qtype)

    tensor("token_embd.weight", (VOCAB, HIDDEN), Q.Q4_K)
    for i in range(LAYERS):
        promoted = Q.Q6_K if _use_more_bits(i, LAYERS) else Q.Q4_K
        tensor(f"blk.{i}.attn_norm.weight", (HIDDEN,), Q.F32)
        tensor(f"blk.{i}.attn_q.weight", (HIDDEN, HIDDEN), Q.Q4_K)
        tensor(f"blk.{i}.attn_k.weight", (1024, HIDDEN), Q.Q4_K)
        tensor(f"blk.{i}.attn_v.weight", (1024, HIDDEN), promoted if promoted == Q.Q6_K else Q.Q5_K)
        tensor(f"blk.{i}.attn_output.weight", (HIDDEN, HIDDEN), Q.Q4_K)
        tensor(f"blk.{i}.ffn_norm.weight", (HIDDEN,), Q.F32)
        tensor(f"blk.{i}.ffn_gate.weight", (FFN, HIDDEN), Q.Q4_K)
        tensor(f"blk.{i}.ffn_up.weight", (FFN, HIDDEN), Q.Q4_K)
        tensor(f"blk.{i}.ffn_down.weight", (HIDDEN, FFN), promoted)
    tensor("output_norm.weight", (HIDDEN,), Q.F32)
    tensor("output.weight", (VOCAB, HIDDEN), Q.Q6_K)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    writer.close()
    header_end = path.stat().st_size
    alignment = gguf.GGUF_DEFAULT_ALIGNMENT
    data_offset = -(-header_end // alignment) * alignment
    data = sum(
        -(-info.nbytes // alignment) * alignment
        for shard in writer.tensors
        for info in shard.values()
    )
    with path.open("r+b") as handle:
        handle.truncate(data_offset + data)
    return data_offset + data


def _median_ms(fn: Callable[[], object], runs: int) -> float:
    return statistics.median(timeit.repeat(fn, number=1, repeat=runs)) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=20, help="timed repetitions (median)")
    parser.add_argument("--path", type=Path, help="where to write the file (default: a temp dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.path or Path(tmp) / "llama-3-70b-Q4_K_M.gguf"
        size = write_sparse_70b(path)
        on_disk = path.stat().st_blocks * 512
        header = read_gguf_header(path)
        model = read_gguf(path)
        assert model.weights is not None
        print(
            f"file: {path.name}: {size / 2**30:.2f} GiB apparent, {on_disk / 2**20:.1f} MiB on disk"
        )
        print(
            f"header: {header.header_bytes / 2**20:.1f} MiB, {len(header.tensors)} tensors, "
            f"{model.arch.total_parameters / 1e9:.2f} B parameters, "
            f"weights {model.weights.total_bytes / 2**30:.2f} GiB ({model.quant})"
        )
        timings = {
            "read_gguf_header": lambda: read_gguf_header(path),
            "read_gguf (header → arch + bytes)": lambda: read_gguf(path),
            "estimate (llama.cpp, 8k)": lambda: estimate(
                model.arch, engine="llama.cpp", context=8192, weight_bytes=model.weights
            ),
            "estimate (vllm, 128k × 8, TP4)": lambda: estimate(
                model.arch,
                engine="vllm",
                quant="awq",
                context=131072,
                concurrency=8,
                tensor_parallel=4,
            ),
            "read + estimate": lambda: estimate(
                read_gguf(path).arch, engine="llama.cpp", context=8192
            ),
        }
        for label, fn in timings.items():
            print(f"{label:36s} median {_median_ms(fn, args.runs):8.2f} ms over {args.runs} runs")
        reader_ms = _median_ms(lambda: gguf.GGUFReader(path), max(3, args.runs // 4))
        print(f"{'gguf.GGUFReader (reference)':36s} median {reader_ms:8.2f} ms")
        result = estimate(model.arch, engine="llama.cpp", context=8192, weight_bytes=model.weights)
        print(
            f"llama.cpp 8k: weights {result.weights_mb:,} + KV {result.kv_cache_mb:,} + "
            f"compute {result.activation_mb:,} + overhead {result.overhead_mb:,} = "
            f"{result.total_mb:,} MiB"
        )


if __name__ == "__main__":
    main()
