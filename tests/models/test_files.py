"""Reading models from disk: GGUF and safetensors headers written by the real writers
(gguf's GGUFWriter, safetensors' save_file), a HF model dir and hub cache, an Ollama
store — and every way a header can be truncated or corrupt: a clear ModelFileError
naming the file, never a crash.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import gguf
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.numpy import save_file

from gpuplan.errors import ModelError, ModelFileError, ModelNotFoundError
from gpuplan.memory.estimate import estimate
from gpuplan.models.files.discover import discover
from gpuplan.models.files.gguf_header import read_gguf_header
from gpuplan.models.files.gguf_model import read_gguf
from gpuplan.models.files.hf_dir import default_hf_cache, read_hf_model
from gpuplan.models.files.ollama_store import default_store, read_ollama_model
from gpuplan.models.files.safetensors_header import (
    read_safetensors_header,
    safetensors_weights,
)

Q = gguf.GGMLQuantizationType
HIDDEN, FFN, VOCAB = 256, 512, 1000


def _quant_tensor(rows: int, cols: int, qtype: Q) -> np.ndarray:
    """A zero tensor of ``rows × cols`` weights in a ggml block type, as raw bytes."""
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    return np.zeros((rows, cols // block * size), dtype=np.uint8)


def write_gguf(
    path: Path,
    *,
    arch: str = "llama",
    layers: int = 2,
    tied: bool = False,
    experts: int = 0,
    qtype: Q = Q.Q4_K,
    extra_kv: dict[str, int] | None = None,
    split_max_tensors: int = 0,
) -> Path:
    """A small but structurally real GGUF model (llama.cpp tensor names)."""
    writer = gguf.GGUFWriter(path, arch, split_max_tensors=split_max_tensors)
    writer.add_block_count(layers)
    writer.add_embedding_length(HIDDEN)
    writer.add_feed_forward_length(FFN)
    writer.add_head_count(4)
    writer.add_head_count_kv(2)
    writer.add_context_length(4096)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q4_K_M)
    writer.add_tokenizer_model("llama")
    writer.add_token_list([f"tok{i}" for i in range(VOCAB)])
    if experts:
        writer.add_expert_count(experts)
        writer.add_expert_used_count(2)
    for key, value in (extra_kv or {}).items():
        writer.add_uint32(key.format(arch=arch), value)
    writer.add_tensor("token_embd.weight", _quant_tensor(VOCAB, HIDDEN, Q.Q4_K), raw_dtype=Q.Q4_K)
    for i in range(layers):
        for name, (rows, cols) in {
            "attn_q": (HIDDEN, HIDDEN), "attn_k": (128, HIDDEN), "attn_v": (128, HIDDEN),
            "attn_output": (HIDDEN, HIDDEN),
        }.items():  # fmt: skip
            writer.add_tensor(
                f"blk.{i}.{name}.weight", _quant_tensor(rows, cols, qtype), raw_dtype=qtype
            )
        if experts:
            for name, shape in (
                ("gate", (FFN, HIDDEN)),
                ("up", (FFN, HIDDEN)),
                ("down", (HIDDEN, FFN)),
            ):
                raw = np.zeros((experts, *_quant_tensor(*shape, qtype).shape), dtype=np.uint8)
                writer.add_tensor(f"blk.{i}.ffn_{name}_exps.weight", raw, raw_dtype=qtype)
            writer.add_tensor(
                f"blk.{i}.ffn_gate_inp.weight", np.zeros((experts, HIDDEN), np.float32)
            )
        else:
            for name, (rows, cols) in {
                "ffn_gate": (FFN, HIDDEN), "ffn_up": (FFN, HIDDEN), "ffn_down": (HIDDEN, FFN),
            }.items():  # fmt: skip
                writer.add_tensor(
                    f"blk.{i}.{name}.weight", _quant_tensor(rows, cols, qtype), raw_dtype=qtype
                )
        writer.add_tensor(f"blk.{i}.attn_norm.weight", np.ones(HIDDEN, np.float32))
    writer.add_tensor("output_norm.weight", np.ones(HIDDEN, np.float32))
    if not tied:
        writer.add_tensor("output.weight", _quant_tensor(VOCAB, HIDDEN, Q.Q6_K), raw_dtype=Q.Q6_K)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


# ----------------------------------------------------------------------------- GGUF


def test_gguf_round_trip_exact_bytes(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "tiny-Q4_K_M.gguf")
    model = read_gguf(path)
    arch, weights = model.arch, model.weights
    assert weights is not None
    assert (arch.num_layers, arch.hidden_size, arch.vocab_size) == (2, HIDDEN, VOCAB)
    assert (arch.num_attention_heads, arch.num_kv_heads, arch.head_dim) == (4, 2, 64)
    assert arch.attention_layers == 2 and arch.dense_layers == 2 and arch.moe is None
    assert not arch.tied_embeddings
    assert model.quant == "q4_k_m" and model.id == "tiny-Q4_K_M"
    # Every tensor's bytes agree with gguf's own reader.
    reader = gguf.GGUFReader(path)
    assert weights.total_bytes == sum(int(t.n_bytes) for t in reader.tensors)
    assert weights.parameters == sum(int(t.n_elements) for t in reader.tensors)
    assert weights.token_embedding_bytes == VOCAB * HIDDEN // 256 * 144
    assert weights.output_bytes == VOCAB * HIDDEN // 256 * 210
    assert set(weights.bytes_by_dtype) == {"Q4_K", "Q6_K", "F32"}


def test_gguf_tied_embeddings_and_llama_cpp_placement(tmp_path: Path) -> None:
    model = read_gguf(write_gguf(tmp_path / "tied.gguf", tied=True))
    assert model.arch.tied_embeddings and model.weights is not None
    result = estimate(model.arch, engine="llama.cpp", context=4096, weight_bytes=model.weights)
    assert result.weights_source == "file"
    # Tied: the output layer is a GPU copy of token_embd, so the GPU holds every byte.
    assert result.weights_mb == -(-model.weights.total_bytes // 2**20)


def test_gguf_moe_experts_counted(tmp_path: Path) -> None:
    model = read_gguf(write_gguf(tmp_path / "moe.gguf", experts=4))
    moe = model.arch.moe
    assert moe is not None and model.weights is not None
    assert (moe.num_experts, moe.experts_per_token, moe.moe_layers) == (4, 2, 2)
    assert model.arch.dense_layers == 0
    per_expert = (2 * FFN * HIDDEN + HIDDEN * FFN) // 256 * 144
    assert model.weights.expert_bytes == 2 * 4 * per_expert


def test_gguf_sliding_window_pattern_from_architecture(tmp_path: Path) -> None:
    path = write_gguf(
        tmp_path / "g3.gguf",
        arch="gemma3",
        layers=12,
        extra_kv={"{arch}.attention.sliding_window": 512},
    )
    sliding = read_gguf(path).arch.sliding
    assert sliding is not None and sliding.window == 512
    assert sliding.sliding_layers == 10  # llama.cpp's pattern 6: 5 of every 6 layers slide


def test_split_gguf_sums_every_part(tmp_path: Path) -> None:
    write_gguf(tmp_path / "big.gguf", layers=4, split_max_tensors=12)
    parts = sorted(tmp_path.glob("big-*-of-*.gguf"))
    assert len(parts) > 1
    model = read_gguf(parts[0])
    assert model.weights is not None and model.id == "big"
    total = sum(int(t.n_bytes) for p in parts for t in gguf.GGUFReader(p).tensors)
    assert model.weights.total_bytes == total
    parts[-1].unlink()
    with pytest.raises(ModelFileError, match="missing"):
        read_gguf(parts[0])


def test_gguf_header_only_on_a_sparse_40_gib_file(tmp_path: Path) -> None:
    """The data section is never touched: a sparse file 'holding' 40 GiB is read only up
    to its header. Every read goes through the header cursor, which stops where the
    tensor data begins (checked by position, not by timing it)."""
    path = write_gguf(tmp_path / "sparse.gguf")
    with path.open("r+b") as handle:
        handle.truncate(40 * 2**30)
    header = read_gguf_header(path)
    assert header.file_size == 40 * 2**30
    assert 0 < header.header_bytes <= header.data_offset < 2**20
    assert header.notes == ()


def test_gguf_with_a_truncated_data_section_still_estimates(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "partial.gguf")
    header = read_gguf_header(path)
    with path.open("r+b") as handle:
        handle.truncate(header.data_offset + 100)
    model = read_gguf(path)
    assert model.weights is not None and "incomplete download" in model.weights.notes[0]


def _header_end(path: Path) -> int:
    return read_gguf_header(path).header_bytes


@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_gguf(tmp_path_factory.mktemp("gguf") / "tiny.gguf")


@pytest.mark.parametrize("fraction", [0.0, 0.001, 0.01, 0.05, 0.2, 0.5, 0.8, 0.95, 0.999])
def test_truncated_gguf_header_is_a_clear_error(
    tmp_path: Path, tiny_gguf: Path, fraction: float
) -> None:
    cut = int(_header_end(tiny_gguf) * fraction)
    path = tmp_path / "cut.gguf"
    path.write_bytes(tiny_gguf.read_bytes()[:cut])
    with pytest.raises(ModelFileError) as raised:
        read_gguf(path)
    assert str(path) in str(raised.value)


@pytest.mark.parametrize(
    ("offset", "payload", "message"),
    [
        (0, b"GGML", "not a GGUF file"),
        (4, (99).to_bytes(4, "little"), "version 99"),
        (4, (3).to_bytes(4, "big"), "big-endian"),
        (8, (2**60).to_bytes(8, "little"), "corrupt"),
    ],
)
def test_corrupt_gguf_header_is_a_clear_error(
    tmp_path: Path, tiny_gguf: Path, offset: int, payload: bytes, message: str
) -> None:
    data = bytearray(tiny_gguf.read_bytes())
    data[offset : offset + len(payload)] = payload
    path = tmp_path / "bad.gguf"
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match=message):
        read_gguf(path)


def test_empty_and_missing_gguf(tmp_path: Path) -> None:
    empty = tmp_path / "empty.gguf"
    empty.touch()
    with pytest.raises(ModelFileError, match="empty"):
        read_gguf(empty)
    with pytest.raises(ModelFileError, match="no such file"):
        read_gguf(tmp_path / "absent.gguf")


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_fuzzed_gguf_headers_never_crash(tiny_gguf: Path, data: st.DataObject) -> None:
    """Random byte damage inside the header: a parse or a ModelFileError, nothing else."""
    raw = bytearray(tiny_gguf.read_bytes())
    end = _header_end(tiny_gguf)
    for _ in range(data.draw(st.integers(1, 8))):
        raw[data.draw(st.integers(0, end - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.one_of(st.none(), st.integers(0, len(raw))))
    path = tiny_gguf.with_name("fuzz.gguf")
    path.write_bytes(bytes(raw[:cut] if cut is not None else raw))
    with contextlib.suppress(ModelError):
        read_gguf(path)


# ----------------------------------------------------------------------------- safetensors


def _write_checkpoint(directory: Path, *, shards: int = 1) -> dict[str, np.ndarray[Any, Any]]:
    tensors: dict[str, np.ndarray[Any, Any]] = {
        "model.embed_tokens.weight": np.zeros((VOCAB, HIDDEN), np.float16),
        "model.layers.0.self_attn.q_proj.weight": np.zeros((HIDDEN, HIDDEN), np.float16),
        "model.layers.0.mlp.experts.0.up_proj.weight": np.zeros((FFN, HIDDEN), np.float16),
        "model.layers.0.input_layernorm.weight": np.zeros(HIDDEN, np.float32),
        "visual.blocks.0.attn.qkv.weight": np.zeros((3 * 64, 64), np.float16),
        "lm_head.weight": np.zeros((VOCAB, HIDDEN), np.float16),
    }
    directory.mkdir(parents=True, exist_ok=True)
    names = sorted(tensors)
    if shards == 1:
        save_file(tensors, str(directory / "model.safetensors"))
        return tensors
    weight_map = {}
    for i in range(shards):
        part = {n: tensors[n] for n in names[i::shards]}
        file = f"model-{i + 1:05d}-of-{shards:05d}.safetensors"
        save_file(part, str(directory / file))
        weight_map.update(dict.fromkeys(part, file))
    (directory / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {"total_size": 0}, "weight_map": weight_map})
    )
    return tensors


def test_safetensors_exact_bytes_by_role(tmp_path: Path) -> None:
    tensors = _write_checkpoint(tmp_path / "ckpt", shards=2)
    files = sorted((tmp_path / "ckpt").glob("*.safetensors"))
    weights = safetensors_weights(files, quant=None)
    assert weights.total_bytes == sum(t.nbytes for t in tensors.values())
    assert weights.token_embedding_bytes == VOCAB * HIDDEN * 2
    assert weights.output_bytes == VOCAB * HIDDEN * 2 and not weights.tied_embeddings
    assert weights.expert_bytes == FFN * HIDDEN * 2
    assert weights.vision_bytes == 3 * 64 * 64 * 2
    assert weights.quant == "fp16"
    assert weights.bytes_by_dtype["F32"] == HIDDEN * 4


@pytest.mark.parametrize("cut", [0, 4, 8, 20, -1])
def test_truncated_safetensors_header_is_a_clear_error(tmp_path: Path, cut: int) -> None:
    _write_checkpoint(tmp_path / "ckpt")
    original = (tmp_path / "ckpt" / "model.safetensors").read_bytes()
    length = int.from_bytes(original[:8], "little")
    end = 8 + length - 5 if cut == -1 else cut
    path = tmp_path / "cut.safetensors"
    path.write_bytes(original[:end])
    with pytest.raises(ModelFileError) as raised:
        read_safetensors_header(path)
    assert str(path) in str(raised.value)


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"[]", "not a JSON object"),
        (b'{"w": {"dtype": "Q9", "shape": [2], "data_offsets": [0, 4]}}', "unknown dtype"),
        (b'{"w": {"dtype": "F16", "shape": [2], "data_offsets": [0, 6]}}', "needs 4 bytes"),
        (b'{"w": {"dtype": "F16", "shape": [2, -1], "data_offsets": [0, 4]}}', "shape"),
        (b'{"w": {"dtype": "F16", "shape": [4096], "data_offsets": [0, 8192]}}', "ends at byte"),
    ],
)
def test_corrupt_safetensors_header_is_a_clear_error(
    tmp_path: Path, header: bytes, message: str
) -> None:
    path = tmp_path / "bad.safetensors"
    path.write_bytes(len(header).to_bytes(8, "little") + header + b"\0" * 4)
    with pytest.raises(ModelFileError, match=message):
        read_safetensors_header(path)


def test_safetensors_header_length_beyond_the_file(tmp_path: Path) -> None:
    path = tmp_path / "huge.safetensors"
    path.write_bytes((2**40).to_bytes(8, "little") + b"{}")
    with pytest.raises(ModelFileError, match="does not fit"):
        read_safetensors_header(path)


# ----------------------------------------------------------------------------- HF dirs


TINY_CONFIG = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "hidden_size": HIDDEN,
    "intermediate_size": FFN,
    "num_hidden_layers": 1,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": VOCAB,
    "max_position_embeddings": 4096,
    "tie_word_embeddings": False,
    "torch_dtype": "float16",
}


def _hf_dir(directory: Path, shards: int = 1) -> Path:
    _write_checkpoint(directory, shards=shards)
    (directory / "config.json").write_text(json.dumps(TINY_CONFIG))
    return directory


def test_hf_model_dir_and_config_path(tmp_path: Path) -> None:
    directory = _hf_dir(tmp_path / "tiny-llama", shards=2)
    for source in (directory, directory / "config.json"):
        model = read_hf_model(source)
        assert model.kind == "hf" and model.id == "tiny-llama"
        assert model.arch.hidden_size == HIDDEN and model.quant == "fp16"
        assert model.weights is not None and len(model.weights.files) == 2


def test_hf_dir_without_weights_estimates_from_parameters(tmp_path: Path) -> None:
    directory = tmp_path / "config-only"
    directory.mkdir()
    (directory / "config.json").write_text(json.dumps(TINY_CONFIG))
    model = read_hf_model(directory)
    assert model.weights is None and "no safetensors" in model.notes[0]
    assert estimate(model.arch, context=1024).weights_source == "architecture"


@pytest.mark.parametrize(
    ("content", "message"),
    [("{", "not valid JSON"), ("[1]", "not a JSON object"), ('{"model_type": "llama"}', "lacks")],
)
def test_bad_config_json_is_a_clear_error(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "config.json").write_text(content)
    with pytest.raises(ModelFileError, match=message) as raised:
        read_hf_model(tmp_path)
    assert "config.json" in str(raised.value)


def test_index_naming_a_missing_shard(tmp_path: Path) -> None:
    directory = _hf_dir(tmp_path / "m", shards=2)
    next(directory.glob("model-00002-*.safetensors")).unlink()
    with pytest.raises(ModelFileError, match="missing shard"):
        read_hf_model(directory)


def test_hf_cache_discovery(tmp_path: Path) -> None:
    hub = tmp_path / "hub"
    repo = hub / "models--acme--tiny-llama"
    _hf_dir(repo / "snapshots" / "abc123")
    _hf_dir(repo / "snapshots" / "old999")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("abc123")
    (hub / "models--acme--no-config" / "snapshots" / "x").mkdir(parents=True)
    found = discover(hub)
    assert [m.id for m in found.models] == ["acme/tiny-llama"]
    assert found.models[0].path.endswith("abc123") and found.problems == ()


def test_a_folder_of_model_directories_is_discovered(tmp_path: Path) -> None:
    """The `--local-dir` layout: /models/<name>/config.json, one model per folder."""
    _hf_dir(tmp_path / "models" / "tiny-a")
    _hf_dir(tmp_path / "models" / "tiny-b")
    (tmp_path / "models" / "notes").mkdir()
    found = discover(tmp_path / "models")
    assert sorted(m.id for m in found.models) == ["tiny-a", "tiny-b"]
    assert found.problems == ()


def test_default_cache_locations() -> None:
    assert default_hf_cache({"HF_HUB_CACHE": "/x/hub"}) == Path("/x/hub")
    assert default_hf_cache({"HF_HOME": "/h"}) == Path("/h/hub")
    assert default_store({"OLLAMA_MODELS": "/o"}) == Path("/o")
    assert str(default_store({})).endswith(os.path.join(".ollama", "models"))


# ----------------------------------------------------------------------------- Ollama


def _ollama_store(root: Path, gguf_path: Path, *, name: str = "tiny", tag: str = "latest") -> Path:
    digest = "a" * 64 if name == "tiny" else name.encode().hex().ljust(64, "0")[:64]
    (root / "blobs").mkdir(parents=True, exist_ok=True)
    shutil.copy(gguf_path, root / "blobs" / f"sha256-{digest}")
    params = root / "blobs" / f"sha256-{'b' * 64}"
    params.write_text(json.dumps({"num_ctx": 8192}))
    manifest = root / "manifests" / "registry.ollama.ai" / "library" / name / tag
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(
        json.dumps(
            {
                "schemaVersion": 2,
                "layers": [
                    {
                        "mediaType": "application/vnd.ollama.image.model",
                        "digest": f"sha256:{digest}",
                    },
                    {
                        "mediaType": "application/vnd.ollama.image.params",
                        "digest": f"sha256:{'b' * 64}",
                    },
                ],
            }
        )
    )
    return root


def test_ollama_store_model(tmp_path: Path, tiny_gguf: Path) -> None:
    store = _ollama_store(tmp_path / "models", tiny_gguf)
    model = read_ollama_model(store, "tiny")
    assert model.kind == "ollama" and model.id == "tiny:latest"
    assert model.arch.hidden_size == HIDDEN and model.quant == "q4_k_m"
    assert "num_ctx 8192" in model.notes[-1]
    with pytest.raises(ModelNotFoundError):
        read_ollama_model(store, "absent:7b")


def test_ollama_store_discovery_reports_a_broken_blob(tmp_path: Path, tiny_gguf: Path) -> None:
    store = _ollama_store(tmp_path / "models", tiny_gguf)
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(tiny_gguf.read_bytes()[:100])
    _ollama_store(store, broken, name="broken", tag="1b")
    found = discover(store)
    assert [m.id for m in found.models] == ["tiny:latest"]
    assert len(found.problems) == 1 and "sha256-" in found.problems[0]


def test_ollama_manifest_with_a_missing_blob(tmp_path: Path, tiny_gguf: Path) -> None:
    store = _ollama_store(tmp_path / "models", tiny_gguf)
    next((store / "blobs").glob("sha256-aaaa*")).unlink()
    with pytest.raises(ModelFileError, match="ollama pull"):
        read_ollama_model(store, "tiny:latest")


# ----------------------------------------------------------------------------- discovery


def test_discover_a_folder_of_ggufs(tmp_path: Path, tiny_gguf: Path) -> None:
    folder = tmp_path / "ggufs"
    folder.mkdir()
    shutil.copy(tiny_gguf, folder / "a.gguf")
    write_gguf(folder / "b.gguf", split_max_tensors=10)
    (folder / "mmproj-model-f16.gguf").write_bytes(b"not read")
    (folder / "c.gguf").write_bytes(b"GGUF\x03\x00")
    found = discover(folder)
    assert sorted(m.id for m in found.models) == ["a", "b"]
    assert len(found.problems) == 1 and "c.gguf" in found.problems[0]


def test_discover_nothing(tmp_path: Path) -> None:
    assert discover(tmp_path / "nope").problems
    assert discover(tmp_path).models == ()
