"""Hostile model files and registries: bounded, one clear line, and discovery goes on."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import gguf
import numpy as np
import pytest

from gpuplan.errors import ModelError, ModelFileError
from gpuplan.models.files.gguf_model import read_gguf
from gpuplan.models.files.safetensors_header import read_safetensors_header
from gpuplan.models.hf_config import parse_hf_config
from gpuplan.models.registry import load_registry
from tests.hostile.conftest import Gpuplan

LLAMA = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "num_hidden_layers": 32,
    "hidden_size": 4096,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "intermediate_size": 14336,
    "vocab_size": 128256,
    "max_position_embeddings": 131072,
}

# -- config.json ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"hidden_size": 1e300}, "hidden_size: must be at most"),
        ({"num_hidden_layers": 99_999_999_999_999}, "num_hidden_layers: must be at most"),
        ({"num_hidden_layers": "32"}, "num_hidden_layers is '32', not a positive whole number"),
        ({"num_hidden_layers": 0}, "num_hidden_layers is 0"),
        ({"max_position_embeddings": 10**17}, "max_position_embeddings: must be at most"),
        (
            {"model_type": "mixtral", "num_local_experts": 10**9, "num_experts_per_tok": 2},
            "num_experts: must be at most",
        ),
    ],
)
def test_config_json_sizes_are_bounded(
    tmp_path: Path, gpuplan: Gpuplan, change: dict[str, Any], words: str
) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({**LLAMA, **change}))
    with pytest.raises(ModelError, match=words):
        parse_hf_config(json.loads(config.read_text()))
    run = gpuplan("estimate", str(config))
    assert run.exit_code == 1 and words in run.stderr
    assert "Input should" not in run.stderr and "OverflowError" not in run.output


def test_discover_reports_a_bad_directory_and_goes_on(tmp_path: Path, gpuplan: Gpuplan) -> None:
    good, bad, deep = tmp_path / "good", tmp_path / "bad", tmp_path / "deep"
    for directory, config in ((good, LLAMA), (bad, {**LLAMA, "hidden_size": 1e300}), (deep, LLAMA)):
        directory.mkdir()
        (directory / "config.json").write_text(json.dumps(config))
    write_safetensors_header(deep / "model.safetensors", "[" * 100_000 + "]" * 100_000)
    run = gpuplan("discover", str(tmp_path), "--json", env={"COLUMNS": "200"})
    assert run.exit_code == 0, run.output
    report = json.loads(run.stdout)
    assert [m["path"].rsplit("/", 1)[-1] for m in report["models"]] == ["good"]
    assert len(report["problems"]) == 2
    assert any("nested deeper" in p for p in report["problems"])
    assert any("hidden_size" in p for p in report["problems"])


def test_discover_of_a_missing_or_corrupt_file_fails(tmp_path: Path, gpuplan: Gpuplan) -> None:
    assert gpuplan("discover", str(tmp_path / "missing.gguf")).exit_code == 1
    corrupt = tmp_path / "corrupt.gguf"
    corrupt.write_bytes(b"not a gguf at all")
    run = gpuplan("discover", str(corrupt))
    assert run.exit_code == 1 and "not a GGUF file" in run.output


# -- safetensors ---------------------------------------------------------------------------------


def write_safetensors_header(path: Path, header: str) -> Path:
    raw = header.encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw)
    return path


def test_a_deeply_nested_safetensors_header_is_refused(tmp_path: Path, gpuplan: Gpuplan) -> None:
    path = write_safetensors_header(tmp_path / "model.safetensors", "[" * 50_000 + "]" * 50_000)
    with pytest.raises(ModelFileError, match="nested deeper"):
        read_safetensors_header(path)
    (tmp_path / "config.json").write_text(json.dumps(LLAMA))
    run = gpuplan("estimate", str(tmp_path))
    assert run.exit_code == 1 and "nested deeper" in run.stderr


# -- GGUF ----------------------------------------------------------------------------------------


def header_gguf(path: Path, *, arch: str = "llama", counts: dict[str, int] | None = None) -> Path:
    """A GGUF with the given ``{arch}.…`` counts (defaults: a tiny llama) and one tensor."""
    values = {
        "block_count": 2,
        "embedding_length": 256,
        "context_length": 4096,
        "attention.head_count": 4,
        "attention.head_count_kv": 2,
        "feed_forward_length": 512,
        **(counts or {}),
    }
    writer = gguf.GGUFWriter(path, arch)
    for key, value in values.items():
        writer.add_uint32(f"{arch}.{key.replace('__', '.')}", value)
    writer.add_token_list([f"t{i}" for i in range(64)])
    writer.add_tensor("token_embd.weight", np.zeros((64, 256), np.float16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("attention.head_count", 0, "attention.head_count is 0"),
        ("context_length", 0, "context_length is 0"),
        ("block_count", 2**31, "block_count is 2,147,483,648; no model has more than 4,096"),
    ],
)
def test_impossible_gguf_counts_are_refused(
    tmp_path: Path, key: str, value: int, words: str
) -> None:
    path = header_gguf(tmp_path / "m.gguf", counts={key: value})
    with pytest.raises(ModelFileError, match=words):
        read_gguf(path)


def test_an_unknown_gguf_architecture_is_said(tmp_path: Path) -> None:
    model = read_gguf(header_gguf(tmp_path / "m.gguf", arch="zebra"))
    assert any("architecture 'zebra' is unknown" in note for note in model.notes)


def test_a_cut_gguf_is_listed_as_incomplete(tmp_path: Path, gpuplan: Gpuplan) -> None:
    path = header_gguf(tmp_path / "m.gguf")
    size = path.stat().st_size
    with path.open("r+b") as handle:
        handle.truncate(size - 16 * 1024)
    run = gpuplan("discover", str(path), env={"COLUMNS": "200"})
    assert run.exit_code == 0
    assert "incomplete download" in run.output


# -- registries ----------------------------------------------------------------------------------

ENTRY = """[[models]]
id = "x"
name = "X"
backend = "vllm"
family = "llama"
source = "test"
variants = [{quantization = "BF16"}]
"""


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ("parameters_b = 1e300\nrole_priority = {chat = 50}", "parameters_b: must be at most"),
        ("parameters_b = 8\nrole_priority = {flying = 50}", "role_priority.flying: must be one"),
        (
            "parameters_b = 8\ncontext_length = 100000000000000000\nrole_priority = {chat = 50}",
            "context_length: must be at most",
        ),
        (
            "parameters_b = 8\nactive_parameters_b = 9\nrole_priority = {chat = 50}",
            "the active parameters are part of the total",
        ),
        (
            "parameters_b = 8\nrole_priority = {chat = 50}\nhf_config = {num_hidden_layers = "
            "99999999999999, hidden_size = 4096, num_attention_heads = 32, vocab_size = 32000}",
            "models[0] (x).hf_config: config.json describes an impossible model: "
            "num_hidden_layers: must be at most 4096",
        ),
        (
            'parameters_b = 8\nrole_priority = {chat = 50}\nhf_config = {num_hidden_layers = "x",'
            " hidden_size = 4096, num_attention_heads = 32, vocab_size = 32000}",
            "num_hidden_layers is 'x', not a positive whole number",
        ),
    ],
)
def test_registry_values_are_bounded(
    tmp_path: Path, gpuplan: Gpuplan, extra: str, words: str
) -> None:
    path = tmp_path / "reg.toml"
    path.write_text(ENTRY + extra + "\n")
    for command in ("fit", "plan", "estimate"):
        args = [command, "--registry", str(path)] + (
            ["llama-3.1-8b"] if command == "estimate" else ["-H", "RTX 4090"]
        )
        run = gpuplan(*args)
        assert run.exit_code == 1, (command, run.output)
        line = run.stderr.strip()
        assert str(path) in line and words in line, (command, line)
        assert "Input should" not in line and "[key]" not in line


def test_registry_file_problems_say_what_is_wrong(tmp_path: Path, gpuplan: Gpuplan) -> None:
    missing = gpuplan("fit", "--registry", str(tmp_path / "nonexistent"))
    assert missing.exit_code == 1 and "does not exist" in missing.stderr
    assert "not TOML, YAML or JSON" not in missing.stderr
    latin = tmp_path / "latin.toml"
    latin.write_bytes('[[models]]\nid = "caf\xe9"\n'.encode("latin-1"))
    run = gpuplan("fit", "--registry", str(latin))
    assert run.exit_code == 1 and "save it again as UTF-8" in run.stderr
    assert "codec" not in run.stderr


def test_a_broken_user_registry_warns_and_plans_on(tmp_path: Path, gpuplan: Gpuplan) -> None:
    models = tmp_path / "gpuplan" / "models"
    models.mkdir(parents=True)
    (models / "bad.toml").write_text(ENTRY + "parameters_b = 1e300\nrole_priority = {chat = 5}\n")
    env = {"XDG_CONFIG_HOME": str(tmp_path), "COLUMNS": "200"}
    run = gpuplan("plan", "-H", "RTX 4090", env=env)
    assert run.exit_code == 0, run.output
    assert "Warning:" in run.stderr and "bad.toml" in run.stderr
    assert gpuplan("fit", "-H", "RTX 4090", "--registry", str(models / "bad.toml")).exit_code == 1


# -- estimate ------------------------------------------------------------------------------------


@pytest.mark.parametrize("model_id", [entry.id for entry in load_registry(user=False)])
def test_estimate_answers_for_every_built_in_model(gpuplan: Gpuplan, model_id: str) -> None:
    run = gpuplan("estimate", model_id, "--json")
    assert run.exit_code == 0, run.output
    assert json.loads(run.stdout)["total_mb"] > 0


def test_estimate_and_plan_take_a_registry(tmp_path: Path, gpuplan: Gpuplan) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(
        ENTRY.replace('id = "x"', 'id = "my-embedder"')
        + "parameters_b = 0.3\nkv_cache = false\nrole_priority = {embedding = 99}\n"
    )
    run = gpuplan("estimate", "my-embedder", "--registry", str(path), "--json")
    assert run.exit_code == 0, run.output
    assert json.loads(run.stdout)["vram_source"] == "weights_only"
    plan = gpuplan(
        "plan", "-H", "RTX 4090", "--roles", "embedding", "--registry", str(path), "--json"
    )
    assert plan.exit_code == 0, plan.output
    assert "my-embedder" in plan.stdout


@pytest.mark.parametrize("size", ["3", "1000"])
def test_estimate_refuses_a_split_the_engine_refuses(gpuplan: Gpuplan, size: str) -> None:
    run = gpuplan("estimate", "llama-3.1-8b", "--tensor-parallel", size)
    assert run.exit_code == 1
    assert "cannot split 32 attention heads" in run.stderr
