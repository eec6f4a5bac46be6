"""The model registry: the packaged data, layering of user files, and errors that say where."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gpuplan.errors import ModelError
from gpuplan.memory.vram import arch_of
from gpuplan.models.quant import normalize_quant
from gpuplan.models.registry import (
    PACKAGED_REGISTRY,
    REGISTRY_ENV,
    ROLES,
    load_registry,
    parse_registry_document,
    parse_role,
    registry_files,
    user_registry_dir,
)
from gpuplan.selection.candidates import build_candidates, planning_context
from tests.conftest import VRAM_DATA

ONE_MODEL = """
[[models]]
id = "{id}"
name = "{name}"
backend = "vllm"
family = "test"
parameters_b = 1.0
role_priority = {{ chat = {priority} }}
source = "test"
[[models.variants]]
quantization = "FP8"
vram_estimate_mb = 1000
vram_estimate_source = "test"
"""


def model_toml(model_id: str = "m", name: str = "M", priority: int = 50) -> str:
    return ONE_MODEL.format(id=model_id, name=name, priority=priority)


@pytest.fixture(scope="module")
def packaged():
    return load_registry(user=False, env={})


# --- the packaged registry --------------------------------------------------------------


SEED_VARIANTS = {
    "qwen3-vl-8b": "FP8",
    "qwen2.5-vl-7b": "Q4_K_M",
    "florence-2-large": "FP16",
    "siglip-large-patch16-384": "FP32",
    "gpt-oss-20b": "MXFP4",
    "nemotron-3-nano-30b-a3b": "Q4_K_M",
    "yolo26": "FP32",
    "clip-vit-large-patch14": "FP16",
}


def test_packaged_registry_holds_the_seed_models(packaged) -> None:
    for model_id, quantization in SEED_VARIANTS.items():
        assert packaged.get(model_id).variant(quantization).quantization == quantization
    assert all(origin == PACKAGED_REGISTRY for origin in packaged.origins.values())


def test_packaged_registry_covers_every_role_with_several_models(packaged) -> None:
    assert len(packaged) >= 40
    assert packaged.roles() == ROLES
    for role in ROLES:
        assert len(packaged.by_role(role)) >= 3, role


def test_every_packaged_entry_names_its_source_and_valid_quantizations(packaged) -> None:
    for entry in packaged:
        assert entry.source.startswith("https://"), entry.id
        for variant in entry.variants:
            normalize_quant(variant.quantization)
            if variant.vram_estimate_mb is not None:
                assert variant.vram_estimate_source, entry.id


def test_every_decoder_has_architecture_facts_the_estimator_reads(packaged) -> None:
    for entry in packaged:
        if entry.kv_cache and not all(v.vram_estimate_mb for v in entry.variants):
            assert entry.hf_config is not None, entry.id
            arch = arch_of(entry)
            declared = entry.parameters_b * 1e9
            # Counted parameters within 10 % of the model card's figure.
            assert abs(arch.counted_parameters - declared) / declared < 0.10, (
                entry.id,
                arch.counted_parameters,
            )


def test_every_packaged_variant_is_costed(packaged) -> None:
    candidates = build_candidates(packaged)
    assert len(candidates) == sum(len(e.variants) for e in packaged)
    for candidate in candidates:
        assert candidate.vram_estimate_mb > 0
    sources = {c.vram_source for c in candidates}
    assert sources == {"estimator", "weights_only", "registry"}


MEASURED_IDS = {
    "llama-3.1-8b": "meta-llama/Llama-3.1-8B-Instruct",
    "llama-3.2-3b": "meta-llama/Llama-3.2-3B-Instruct",
    "qwen2.5-14b": "Qwen/Qwen2.5-14B-Instruct",
    "qwen3-32b": "Qwen/Qwen3-32B",
    "qwen3-235b-a22b": "Qwen/Qwen3-235B-A22B",
    "phi-4": "microsoft/phi-4",
    "mixtral-8x7b": "mistralai/Mixtral-8x7B-Instruct-v0.1",
    "gemma-2-9b": "google/gemma-2-9b-it",
    "gpt-oss-20b": "openai/gpt-oss-20b",
    "llama-4-scout-17b-16e": "meta-llama/Llama-4-Scout-17B-16E-Instruct",
}
FACTS = (
    "num_hidden_layers",
    "hidden_size",
    "num_attention_heads",
    "num_key_value_heads",
    "intermediate_size",
    "vocab_size",
    "tie_word_embeddings",
    "moe_intermediate_size",
    "num_experts_per_tok",
)


@pytest.mark.parametrize("model_id", sorted(MEASURED_IDS))
def test_architecture_facts_agree_with_the_measured_data_set(packaged, model_id: str) -> None:
    measured = json.loads((VRAM_DATA / "measured.json").read_text())["models"]
    facts = measured[MEASURED_IDS[model_id]]
    config = dict(packaged.get(model_id).hf_config)
    config.update(config.pop("text_config", {}))
    for key in FACTS:
        if key in facts:
            assert config.get(key) == facts[key], (model_id, key)
    experts = config.get("num_experts", config.get("num_local_experts"))
    assert experts == facts.get("num_experts"), model_id
    assert packaged.get(model_id).parameters_b == pytest.approx(facts["total_params_b"], rel=0.01)


def test_planning_context_is_capped_and_none_without_kv(packaged) -> None:
    assert planning_context(packaged.get("gemma-2-9b"), 32768) == 8192
    assert planning_context(packaged.get("llama-3.1-8b"), 4096) == 4096
    assert planning_context(packaged.get("florence-2-large"), 4096) is None


# --- layering: packaged, user dir, env, explicit paths -----------------------------------


def test_user_file_replaces_a_packaged_entry_whole_and_in_place(tmp_path: Path) -> None:
    models = tmp_path / "gpuplan" / "models"
    models.mkdir(parents=True)
    (models / "mine.toml").write_text(model_toml("gpt-oss-20b", "My gpt-oss", 10))
    env = {"XDG_CONFIG_HOME": str(tmp_path)}
    registry = load_registry(env=env)
    entry = registry.get("gpt-oss-20b")
    assert (entry.name, entry.role_priority) == ("My gpt-oss", {"chat": 10})
    assert entry.hf_config is None  # replaced whole, not merged
    assert registry.origins["gpt-oss-20b"] == str(models / "mine.toml")
    packaged_order = [e.id for e in load_registry(user=False, env={})]
    assert [e.id for e in registry] == packaged_order


def test_layers_apply_in_order_later_wins(tmp_path: Path) -> None:
    user = tmp_path / "gpuplan" / "models"
    user.mkdir(parents=True)
    (user / "a.toml").write_text(model_toml("x", "from user a"))
    (user / "b.yaml").write_text(
        "models:\n  - id: y\n    name: from user b\n    backend: ollama\n    family: t\n"
        "    parameters_b: 1\n    role_priority: {caption: 40}\n    source: test\n"
        "    variants:\n      - {quantization: Q4_K_M, vram_estimate_mb: 900, "
        "vram_estimate_source: test}\n"
    )
    env_file = tmp_path / "env.toml"
    env_file.write_text(model_toml("x", "from env"))
    explicit = tmp_path / "explicit.yml"
    explicit.write_text(
        "models:\n  - id: y\n    name: from explicit\n    backend: vllm\n    family: t\n"
        "    parameters_b: 1\n    role_priority: {caption: 41}\n    source: test\n"
        "    variants: [{quantization: FP8, vram_estimate_mb: 1, vram_estimate_source: t}]\n"
    )
    env = {"XDG_CONFIG_HOME": str(tmp_path), REGISTRY_ENV: str(env_file)}
    assert registry_files([explicit], env=env) == [
        user / "a.toml",
        user / "b.yaml",
        env_file,
        explicit,
    ]
    registry = load_registry([explicit], packaged=False, env=env)
    assert registry.get("x").name == "from env"
    assert registry.get("y").name == "from explicit"
    assert registry.files == (
        str(user / "a.toml"),
        str(user / "b.yaml"),
        str(env_file),
        str(explicit),
    )


def test_user_dir_defaults_to_dot_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert user_registry_dir({}) == tmp_path / ".config" / "gpuplan" / "models"
    assert user_registry_dir({"XDG_CONFIG_HOME": "/x"}) == Path("/x/gpuplan/models")


def test_a_directory_path_reads_its_registry_files(tmp_path: Path) -> None:
    (tmp_path / "1.toml").write_text(model_toml("a"))
    (tmp_path / "2.yaml").write_text("models: []\n")
    (tmp_path / "notes.txt").write_text("ignored")
    registry = load_registry([tmp_path], packaged=False, user=False, env={})
    assert [e.id for e in registry] == ["a"]


# --- errors name the file, the field and the fix -----------------------------------------


def write(tmp_path: Path, text: str, name: str = "bad.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def load_error(path: Path) -> str:
    with pytest.raises(ModelError) as info:
        load_registry([path], packaged=False, user=False, env={})
    return str(info.value)


def test_missing_field_names_file_entry_and_field(tmp_path: Path) -> None:
    path = write(tmp_path, model_toml("m").replace('family = "test"\n', ""))
    message = load_error(path)
    assert str(path) in message
    assert "models[0] (m).family" in message
    assert "add the field" in message


def test_unknown_role_names_the_choices(tmp_path: Path) -> None:
    path = write(tmp_path, model_toml().replace("chat =", "poetry ="))
    message = load_error(path)
    assert "models[0] (m).role_priority.poetry" in message


def test_priority_out_of_range(tmp_path: Path) -> None:
    message = load_error(write(tmp_path, model_toml(priority=140)))
    assert "role_priority" in message and "use 0-100" in message


def test_misspelled_key_is_not_ignored(tmp_path: Path) -> None:
    path = write(tmp_path, model_toml().replace("parameters_b", "params_b"))
    message = load_error(path)
    assert "params_b" in message and "check its spelling" in message


def test_unknown_quantization(tmp_path: Path) -> None:
    message = load_error(write(tmp_path, model_toml().replace('"FP8"', '"Q4_K_Q"')))
    assert "models[0] (m).variants[0].quantization" in message
    assert "unknown quantization 'Q4_K_Q'" in message


def test_fixed_figure_needs_a_source(tmp_path: Path) -> None:
    text = model_toml().replace('vram_estimate_source = "test"\n', "")
    assert "vram_estimate_source" in load_error(write(tmp_path, text))


def test_duplicate_quantization_in_one_model(tmp_path: Path) -> None:
    text = model_toml() + (
        '[[models.variants]]\nquantization = "fp8"\nvram_estimate_mb = 1\n'
        'vram_estimate_source = "t"\n'
    )
    assert "listed twice" in load_error(write(tmp_path, text))


def test_duplicate_id_in_one_file(tmp_path: Path) -> None:
    message = load_error(write(tmp_path, model_toml("a") + model_toml("a")))
    assert "models[1]: id 'a' already used by models[0]" in message


def test_bad_id(tmp_path: Path) -> None:
    message = load_error(write(tmp_path, model_toml("Big Model")))
    assert "models[0] (Big Model).id" in message and "lowercase" in message


def test_a_json_registry_file_works_like_toml(tmp_path: Path) -> None:
    import json
    import tomllib

    data = tomllib.loads(model_toml("tiny-json"))
    path = write(tmp_path, json.dumps(data), "extra.json")
    registry = load_registry([path], packaged=False, user=False, env={})
    assert [e.id for e in registry] == ["tiny-json"]


def test_syntax_errors(tmp_path: Path) -> None:
    assert "not valid TOML" in load_error(write(tmp_path, "[[models]\n"))
    assert "not valid YAML at line" in load_error(write(tmp_path, "models: [\n", "bad.yaml"))


def test_wrong_shapes(tmp_path: Path) -> None:
    assert "'models' must be a list" in load_error(write(tmp_path, "models = 3\n"))
    assert "unknown top-level key" in load_error(write(tmp_path, "model = []\n"))
    assert "must be a table" in load_error(write(tmp_path, "- 1\n", "list.yaml"))
    assert "not TOML, YAML or JSON" in load_error(write(tmp_path, "{}", "x.txt"))
    assert "not valid JSON at line 1" in load_error(write(tmp_path, "{", "x.json"))
    assert "does not exist" in load_error(tmp_path / "missing.toml")


def test_parse_document_is_pure() -> None:
    entries = parse_registry_document({"models": []}, origin="memory")
    assert entries == ()


def test_parse_role_accepts_spellings_and_suggests() -> None:
    assert parse_role("Object-Detection") == "object_detection"
    with pytest.raises(ModelError, match="did you mean 'caption'"):
        parse_role("captions")
