"""Every reader, fuzzed: a result or the project's own error, within a time and memory bound.

Readers: documents (tests/hostile/test_documents.py), hardware files
(test_hardware_files.py), and here profiles, registries, config.json, GGUF
headers and safetensors headers. The bound is generous for a loaded 2-core CI
machine (5 s, 200 MiB per example); an alias bomb, a recursion or a
quadratic blow-up breaks it by orders of magnitude.
"""

from __future__ import annotations

import json
import resource
import struct
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gpuplan.errors import GpuplanError
from gpuplan.models.files.gguf_model import read_gguf
from gpuplan.models.files.safetensors_header import read_safetensors_header
from gpuplan.models.hf_config import parse_hf_config
from gpuplan.models.registry import parse_registry_document, read_registry_file
from gpuplan.profiles.sources import read_profile_file
from tests.hostile.test_models import LLAMA, header_gguf

FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def bounded(call: Callable[[], object]) -> None:
    """``call`` returns or raises a GpuplanError, within 5 s and 200 MiB of new peak memory."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    try:
        call()
    except GpuplanError as error:
        assert str(error) and "\n" not in str(error)
        assert "Input should" not in str(error) and "[key]" not in str(error)
    assert time.monotonic() - started < 5
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200 * 1024


NUMBERS = st.one_of(
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
    st.text(max_size=12),
    st.lists(st.integers(-5, 2**40), max_size=4),
)

# -- profiles ------------------------------------------------------------------------------------

PROFILE_FIELDS = ("max_vram_mb", "max_concurrent_models", "preferred_quantizations", "strategy",
                  "model_selection_bias", "gpu_count", "headroom_mb", "category", "engine",
                  "tensor_parallel_threshold_mb", "grace_period_seconds", "flying")  # fmt: skip


@FUZZ
@given(
    st.dictionaries(st.sampled_from(PROFILE_FIELDS), NUMBERS, max_size=6),
    st.sampled_from(["json", "yaml"]),
)
def test_fuzz_profiles(tmp_path: Path, data: dict[str, Any], fmt: str) -> None:
    path = tmp_path / f"fuzz.{fmt}"
    path.write_text(json.dumps(data) if fmt == "json" else yaml.safe_dump(data))
    bounded(lambda: read_profile_file(path, "path"))


@FUZZ
@given(st.binary(max_size=400))
def test_fuzz_profile_bytes(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "fuzz.yaml"
    path.write_bytes(raw)
    entry = read_profile_file(path, "path")  # issues, never an exception
    assert all("\n" not in issue.problem for issue in entry.issues)


# -- registries ----------------------------------------------------------------------------------

ENTRY_FIELDS = ("parameters_b", "active_parameters_b", "context_length", "role_priority",
                "variants", "hf_config", "kv_cache", "dtype", "id", "bogus")  # fmt: skip
BASE_ENTRY = {
    "id": "x", "name": "X", "backend": "vllm", "family": "llama", "source": "t",
    "parameters_b": 8, "role_priority": {"chat": 50}, "variants": [{"quantization": "BF16"}],
}  # fmt: skip


@FUZZ
@given(st.dictionaries(st.sampled_from(ENTRY_FIELDS), NUMBERS, max_size=4))
def test_fuzz_registry_entries(changes: dict[str, Any]) -> None:
    document = {"models": [{**BASE_ENTRY, **changes}]}
    bounded(lambda: parse_registry_document(document, origin="fuzz.toml"))


@FUZZ
@given(st.dictionaries(st.sampled_from([*LLAMA, "num_local_experts"]), NUMBERS, max_size=3))
def test_fuzz_registry_files(tmp_path: Path, changes: dict[str, Any]) -> None:
    hf = {k: v for k, v in {**LLAMA, **changes}.items() if v is not None}
    path = tmp_path / "fuzz.json"
    path.write_text(json.dumps({"models": [{**BASE_ENTRY, "hf_config": hf}]}))
    bounded(lambda: read_registry_file(path))


# -- config.json ---------------------------------------------------------------------------------


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from(
            [*LLAMA, "num_local_experts", "num_experts_per_tok", "sliding_window", "head_dim",
             "kv_lora_rank", "text_config", "tie_word_embeddings", "layer_types"]
        ),
        NUMBERS,
        max_size=5,
    )
)  # fmt: skip
def test_fuzz_config_json(changes: dict[str, Any]) -> None:
    bounded(lambda: parse_hf_config({**LLAMA, **changes}))


# -- GGUF ----------------------------------------------------------------------------------------

GGUF_COUNTS = ("block_count", "embedding_length", "context_length", "attention.head_count",
               "attention.head_count_kv", "feed_forward_length", "expert_count",
               "expert_used_count", "attention.sliding_window")  # fmt: skip


@FUZZ
@given(
    st.dictionaries(st.sampled_from(GGUF_COUNTS), st.integers(0, 2**32 - 1), max_size=4),
    st.sampled_from(["llama", "qwen3moe", "gemma3", "zebra"]),
)
def test_fuzz_gguf_counts(tmp_path: Path, counts: dict[str, int], arch: str) -> None:
    path = header_gguf(tmp_path / "fuzz.gguf", arch=arch, counts=counts)
    bounded(lambda: read_gguf(path))


# -- safetensors ---------------------------------------------------------------------------------

TENSOR = st.fixed_dictionaries(
    {"dtype": st.sampled_from(["F16", "BF16", "F32", "I8", "F8_E4M3", "X"]),
     "shape": st.lists(st.integers(-1, 2**40), max_size=4),
     "data_offsets": st.lists(st.integers(-1, 2**40), min_size=0, max_size=3)}
)  # fmt: skip
JSONISH = st.recursive(
    NUMBERS,
    lambda kids: (
        st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=4), kids, max_size=3)
    ),
    max_leaves=20,
)


@FUZZ
@given(
    st.one_of(
        st.dictionaries(st.text(max_size=20), TENSOR, max_size=4),
        JSONISH,
        st.integers(1, 3000).map(lambda n: "[" * n + "]" * n),
    ),
    st.integers(0, 4096),
)
def test_fuzz_safetensors_headers(tmp_path: Path, header: Any, data_bytes: int) -> None:
    raw = header.encode() if isinstance(header, str) else json.dumps(header).encode()
    path = tmp_path / "fuzz.safetensors"
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"\0" * data_bytes)
    bounded(lambda: read_safetensors_header(path))


def test_a_huge_block_count_is_refused_before_any_per_layer_work(tmp_path: Path) -> None:
    """Found by the fuzz test above: 2**31 layers with a sliding window hung the reader."""
    counts = {"block_count": 2**31, "attention.sliding_window": 4096}
    path = header_gguf(tmp_path / "huge.gguf", arch="gemma3", counts=counts)
    started = time.monotonic()
    with pytest.raises(GpuplanError, match="block_count is 2,147,483,648"):
        read_gguf(path)
    assert time.monotonic() - started < 5
