"""Models found on disk become registry entries: matching, guessed roles, exact costing.

Files are written by the real writers (gguf's GGUFWriter, safetensors' save_file) through
``tests.models.test_files``'s helpers; the registry side is built in memory.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gguf
import pytest
from pydantic import ValidationError

from gpuplan.memory.estimate import estimate
from gpuplan.memory.vram import variant_vram
from gpuplan.models.arch import VisionSpec
from gpuplan.models.discovered import (
    GUESSED_PRIORITY,
    DiscoveredEntry,
    entries_from_discovery,
    match_entry,
    normalise_name,
)
from gpuplan.models.files import LocalModel
from gpuplan.models.files.discover import discover
from gpuplan.models.files.gguf_model import read_gguf
from gpuplan.models.files.hf_dir import read_hf_model
from gpuplan.models.registry import ModelEntry, Registry, load_registry
from gpuplan.selection.fit import fit_variant
from tests.models.test_files import TINY_CONFIG, _hf_dir, _ollama_store, write_gguf

TINY_ENTRY: dict[str, Any] = {
    "id": "tiny-chat",
    "name": "Tiny Chat",
    "backend": "vllm",
    "family": "tinyllama",
    "parameters_b": 0.002,
    "context_length": 2048,
    "role_priority": {"chat": 77, "reasoning": 61},
    "source": "tests",
    "hf_config": TINY_CONFIG,
    "variants": [
        {"quantization": "FP16", "repo": "acme/tiny-llama"},
        {"quantization": "Q4_K_M", "backend": "llamacpp", "file": "tiny-Q4_K_M.gguf"},
    ],
}
"""A registry entry whose shape (hidden size 256) is the test files' own."""


def tiny_registry(*extra: dict[str, Any]) -> Registry:
    return Registry(entries=tuple(ModelEntry.model_validate(e) for e in (TINY_ENTRY, *extra)))


def one(models: list[LocalModel], registry: Registry) -> tuple[DiscoveredEntry, tuple[str, ...]]:
    entries, warnings = entries_from_discovery(models, registry)
    assert len(entries) == 1, warnings
    return entries[0], warnings


@pytest.fixture()
def gguf_model(tmp_path: Path) -> LocalModel:
    return read_gguf(write_gguf(tmp_path / "tiny-Q4_K_M.gguf"))


# ----------------------------------------------------------------------------- matching


def test_gguf_matched_by_file_name_inherits_the_entry(gguf_model: LocalModel) -> None:
    entry, warnings = one([gguf_model], tiny_registry())
    assert warnings == ()
    assert entry.id == "local:tiny-Q4_K_M" and entry.matched == "tiny-chat"
    assert (entry.name, entry.family) == ("Tiny Chat", "tinyllama")
    assert entry.role_priority == {"chat": 77, "reasoning": 61} and entry.kv_cache
    assert entry.context_length == 2048  # the registry's, below the file's 4096
    assert entry.backend == "llamacpp" and entry.variants[0].quantization == "Q4_K_M"


def test_weights_are_the_exact_header_bytes(gguf_model: LocalModel) -> None:
    entry, _ = one([gguf_model], tiny_registry())
    variant = entry.variants[0]
    reader = gguf.GGUFReader(gguf_model.path)
    assert variant.weight_bytes is not None
    assert variant.weight_bytes.total_bytes == sum(int(t.n_bytes) for t in reader.tensors)
    assert variant.weight_bytes == gguf_model.weights
    assert entry.parameters_b * 1e9 == pytest.approx(sum(int(t.n_elements) for t in reader.tensors))


def test_hf_cache_model_matched_by_repo_id(tmp_path: Path) -> None:
    snapshot = _hf_dir(tmp_path / "hub" / "models--Acme--Tiny-Llama" / "snapshots" / "abc")
    assert snapshot.is_dir()
    found = discover(tmp_path / "hub")
    entry, warnings = one(list(found.models), tiny_registry())
    assert warnings == () and entry.matched == "tiny-chat"
    assert entry.id == "local:Acme/Tiny-Llama" and entry.backend == "vllm"
    assert entry.variants[0].quantization == "FP16"
    assert entry.variants[0].repo == "Acme/Tiny-Llama"


def test_hf_dir_matched_by_normalised_name(tmp_path: Path) -> None:
    model = read_hf_model(_hf_dir(tmp_path / "Tiny_Llama"))
    assert normalise_name(model.id) == normalise_name("acme/tiny-llama") == "tiny-llama"
    assert match_entry(model, tiny_registry()) is not None


@pytest.mark.parametrize(
    ("name", "normal"),
    [
        ("meta-llama/Llama-3.1-8B-Instruct", "llama-3.1-8b-instruct"),
        ("Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf", "meta-llama-3.1-8b-instruct-q4-k-m"),
        ("big-00001-of-00003.gguf", "big"),
        ("nomic-embed-text:latest", "nomic-embed-text"),
        ("gemma3:4b", "gemma3-4b"),
    ],
)
def test_normalise_name(name: str, normal: str) -> None:
    assert normalise_name(name) == normal


def test_ollama_name_without_latest_matches_the_packaged_embedder(
    tmp_path: Path, gguf_model: LocalModel
) -> None:
    """The packaged nomic-embed-text entry lists the Ollama tag without ':latest'."""
    store = _ollama_store(tmp_path / "ollama", Path(gguf_model.path), name="nomic-embed-text")
    found = discover(store)
    registry = load_registry(user=False)
    entry, warnings = one(list(found.models), registry)
    assert warnings == ()
    assert entry.id == "local:nomic-embed-text:latest"
    assert entry.matched == "nomic-embed-text-v1.5" and entry.backend == "ollama"
    assert entry.role_priority == {"embedding": 74} and not entry.kv_cache
    figure = variant_vram(entry, entry.variants[0], None)
    assert figure.source == "weights_only"
    assert "exact tensor bytes" in figure.assumptions[0]


def test_a_name_match_of_another_width_is_refused(tmp_path: Path) -> None:
    wide = {**TINY_CONFIG, "hidden_size": 4096}
    registry = Registry(entries=(ModelEntry.model_validate({**TINY_ENTRY, "hf_config": wide}),))
    model = read_gguf(write_gguf(tmp_path / "tiny-Q4_K_M.gguf"))
    entry, warnings = one([model], registry)
    assert entry.matched is None and entry.role_priority == {"chat": GUESSED_PRIORITY}
    assert "hidden size is 256, not 4096" in warnings[0]
    assert "guessed" in warnings[1]


# ----------------------------------------------------------------------------- guessed roles


def _vision(model: LocalModel) -> LocalModel:
    tower = VisionSpec(hidden_size=64, num_layers=2, intermediate_size=128, parameters=10_000)
    return model.model_copy(update={"arch": model.arch.model_copy(update={"vision": tower})})


def _encoder(model: LocalModel) -> LocalModel:
    arch = model.arch.model_copy(update={"architecture": "XLMRobertaModel"})
    return model.model_copy(update={"arch": arch, "id": "my-encoder"})


def _embedder(model: LocalModel) -> LocalModel:
    return model.model_copy(update={"id": "Qwen3-Embedding-tiny"})


@pytest.mark.parametrize(
    ("change", "roles", "kv_cache"),
    [
        (lambda m: m, {"chat"}, True),
        (_vision, {"caption", "description", "vision_general", "chat"}, True),
        (_encoder, {"embedding"}, False),
        (_embedder, {"embedding"}, True),
    ],
    ids=["decoder", "vision", "encoder", "decoder-embedder"],
)
def test_unmatched_models_get_modest_guessed_roles(
    gguf_model: LocalModel, change: Any, roles: set[str], kv_cache: bool
) -> None:
    model = change(gguf_model.model_copy(update={"id": "unknown-model"}))
    entry, warnings = one([model], Registry())
    assert entry.matched is None and set(entry.role_priority) == roles
    assert set(entry.role_priority.values()) == {GUESSED_PRIORITY}
    assert entry.kv_cache is kv_cache
    assert any("roles guessed" in w for w in warnings)
    assert entry.name == model.id and entry.family == "llama"


# ----------------------------------------------------------------------------- ids


def test_ids_cannot_collide_with_the_registry_or_each_other(gguf_model: LocalModel) -> None:
    twin = gguf_model.model_copy(update={"path": "/elsewhere/tiny-Q4_K_M.gguf"})
    entries, warnings = entries_from_discovery([gguf_model, twin], tiny_registry())
    assert [e.id for e in entries] == ["local:tiny-Q4_K_M", "local:tiny-Q4_K_M-2"]
    assert "found twice" in warnings[0]
    with pytest.raises(ValidationError):
        ModelEntry.model_validate({**TINY_ENTRY, "id": "local:tiny-Q4_K_M"})


def test_a_model_that_cannot_be_an_entry_is_left_out_with_a_warning(
    gguf_model: LocalModel,
) -> None:
    odd = gguf_model.model_copy(update={"id": "odd", "quant": "q9_xyz"})
    registry_stand_in = gguf_model.model_copy(update={"id": "x", "kind": "registry"})
    entries, warnings = entries_from_discovery([odd, registry_stand_in, gguf_model], Registry())
    assert [e.id for e in entries] == ["local:tiny-Q4_K_M"]
    assert "left out" in warnings[0] and "q9_xyz" in warnings[0]
    assert "left out" in warnings[1] and "registry entry" in warnings[1]


def test_hf_dir_without_weights_is_costed_from_parameters(tmp_path: Path) -> None:
    directory = tmp_path / "config-only"
    directory.mkdir()
    (directory / "config.json").write_text(json.dumps(TINY_CONFIG))
    entry, warnings = one([read_hf_model(directory)], Registry())
    assert entry.variants[0].weight_bytes is None and entry.variants[0].weights_mb is None
    assert any("no weight files" in w for w in warnings)
    figure = variant_vram(entry, entry.variants[0], 1024)
    assert figure.source == "estimator" and "parameters" in figure.assumptions[0]


# ----------------------------------------------------------------------------- costing


@pytest.mark.parametrize("kind", ["gguf", "hf"])
def test_cost_is_the_estimate_from_the_headers(tmp_path: Path, kind: str) -> None:
    """Exactly what `gpuplan estimate PATH` says on the same engine: no loss on the way."""
    if kind == "gguf":
        model, engine = read_gguf(write_gguf(tmp_path / "m.gguf")), "llama.cpp"
    else:
        model, engine = read_hf_model(_hf_dir(tmp_path / "m")), "vllm"
    entry, _ = one([model], Registry())
    figure = variant_vram(entry, entry.variants[0], 3000)
    direct = estimate(model.arch, engine=engine, context=3000, weight_bytes=model.weights)
    assert direct.weights_source == "file"
    assert figure.vram_mb == direct.total_mb and figure.source == "estimator"
    assert figure.assumptions[0].startswith("weights: exact tensor bytes")


def test_fit_searches_the_longest_context_of_a_discovered_model(gguf_model: LocalModel) -> None:
    entry, _ = one([gguf_model.model_copy(update={"id": "free"})], Registry())
    variant = entry.variants[0]
    roomy = fit_variant(entry, variant, [24_000])
    assert roomy.fits and roomy.max_context == 4096 and roomy.vram_source == "estimator"
    small, full = (variant_vram(entry, variant, n).vram_mb for n in (512, 4096))
    assert small < full
    tight = fit_variant(entry, variant, [(small + full) // 2], context=512)
    assert tight.fits and tight.max_context is not None
    assert 512 <= tight.max_context < 4096
