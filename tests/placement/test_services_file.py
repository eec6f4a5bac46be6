"""Services files: YAML/TOML/JSON, VRAM from the estimator, and one-line errors with lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gpuplan.errors import ServicesFileError
from gpuplan.placement.services import load_services, parse_services


def test_yaml_toml_and_json_read_alike(tmp_path: Path) -> None:
    yaml_text = (
        "services:\n  - name: chat\n    model: qwen3-8b\n    role: llm\n    gpu: 0\n"
        "  - name: zoo\n    models: [yolo26, clip-vit-large-patch14]\n"
    )
    toml_text = (
        '[[services]]\nname = "chat"\nmodel = "qwen3-8b"\nrole = "llm"\ngpu = 0\n\n'
        '[[services]]\nname = "zoo"\nmodels = ["yolo26", "clip-vit-large-patch14"]\n'
    )
    json_text = (
        '{"services": [{"name": "chat", "model": "qwen3-8b", "role": "llm", "gpu": 0},\n'
        ' {"name": "zoo", "models": ["yolo26", "clip-vit-large-patch14"]}]}'
    )
    read = []
    for suffix, text in (("yml", yaml_text), ("toml", toml_text), ("json", json_text)):
        path = tmp_path / f"services.{suffix}"
        path.write_text(text)
        read.append(load_services(path))
    assert read[0] == read[1] == read[2]
    chat, zoo = read[0]
    assert chat.vram_mb > 0 and chat.quantization and chat.gpu == 0 and chat.is_llm
    assert chat.tensor_parallel_sizes  # qwen3-8b has hf_config: sizes its heads divide
    # a zoo without a budget costs its members loaded together
    members = parse_services(
        "services:\n - {name: a, model: yolo26}\n - {name: b, model: clip-vit-large-patch14}",
        "yaml",
    )
    assert zoo.vram_mb == sum(s.vram_mb for s in members)
    assert zoo.adjustable and not chat.adjustable


@pytest.mark.parametrize(
    ("text", "fmt", "expected"),
    [
        (
            "services:\n  - name: a\n    vram_mb: 100\n  - name: b\n    vram_mb: lots\n",
            "yaml",
            "line 5: field services[1].vram_mb must be a whole number (got 'lots')",
        ),
        (
            "services:\n  - name: a\n    vram_mb: 100\n    colour: red\n",
            "yaml",
            "line 4: unknown field services[0].colour",
        ),
        ("services:\n  - name: a\n", "yaml", "line 2: field services[0] (a): no model"),
        (
            "services:\n  - name: a\n    vram_mb: 1\n  - name: a\n    vram_mb: 2\n",
            "yaml",
            "line 4: field services[1].name: 'a' is already services[0]",
        ),
        (
            "services:\n  - name: a\n    model: no-such-model\n",
            "yaml",
            "line 3: field services[0].model: ",
        ),
        (
            '[[services]]\nname = "a"\nvram_mb = 1\n\n[[services]]\nname = "b"\ngpu = -1\n'
            "vram_mb = 2\n",
            "toml",
            "line 7: field services[1].gpu must be at least 0",
        ),
        (
            '{"services": [\n  {"name": "a", "vram_mb": 1},\n  {"name": "b",\n   "gpu": "x",'
            ' "vram_mb": 2}\n]}',
            "json",
            "line 4: field services[1].gpu",
        ),
        ("services: [\n", "yaml", "is not valid YAML at line 2"),
        ("gpus: []\n", "yaml", "no list `services` at the top level"),
    ],
)
def test_bad_files_name_the_line_and_field(text: str, fmt: str, expected: str) -> None:
    with pytest.raises(ServicesFileError) as caught:
        parse_services(text, fmt, origin="s.yml")  # type: ignore[arg-type]
    message = str(caught.value)
    assert message.startswith("services file s.yml")
    assert expected in message, message
    assert caught.value.hint  # every error says how to fix it
    assert "\n" not in message


def test_missing_file_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ServicesFileError, match="does not exist"):
        load_services(tmp_path / "nope.yml")


def test_a_gguf_file_beside_the_services_file_is_costed_from_its_header(tmp_path: Path) -> None:
    from tests.models.test_files import write_gguf

    write_gguf(tmp_path / "tiny-Q4_K_M.gguf")
    path = tmp_path / "s.yml"
    path.write_text("services:\n  - name: local\n    model: ./tiny-Q4_K_M.gguf\n")
    (service,) = load_services(path)
    assert service.vram_mb > 0 and service.engine == "llamacpp"
    assert service.tensor_parallel_sizes  # llama.cpp splits layers: any size


def test_the_plans_selection_becomes_services() -> None:
    from gpuplan.placement.services import services_from_selection
    from gpuplan.selection.joint import LoadedModel

    models = [
        LoadedModel(
            model_id="qwen3-32b",
            quantization="BF16",
            vram_estimate_mb=70000,
            gpus=2,
            vram_per_gpu_mb=35000,
            roles=("chat",),
        ),
        LoadedModel(
            model_id="local:acme/embed",
            quantization="FP16",
            vram_estimate_mb=1200,
            roles=("embedding",),
        ),
    ]
    chat, embed = services_from_selection(models)
    assert chat.is_llm and chat.latency_sensitive and chat.gpus_needed == 2
    assert chat.vram_mb == 70000 and chat.quantization == "BF16"
    assert embed.name == "local-acme-embed" and embed.role == "embedding" and not embed.is_llm


@pytest.mark.parametrize(
    "name",
    ["a\ntouch INJ3 #", "../../pwned", "/tmp/abs", "a/b", "-lead", ".hidden", "x" * 64, "a b"],
)
def test_service_names_follow_composes_rule(name: str) -> None:
    text = f'services:\n  - name: "{name.encode("unicode_escape").decode()}"\n    vram_mb: 100\n'
    with pytest.raises(ServicesFileError) as caught:
        parse_services(text, "yaml", origin="f.yml")
    message = str(caught.value)
    assert "f.yml, line 2: field services[0].name" in message
    assert "\n" not in message.split(" (", 1)[0] and "Input should" not in message
    assert "Compose service name" in message


def test_compose_names_pass_and_plain_words_for_wrong_shapes() -> None:
    ok = parse_services(
        "services:\n  - name: ai.llm_2-x\n    vram_mb: 100\n", "yaml", origin="f.yml"
    )
    assert ok[0].name == "ai.llm_2-x"
    for text, expected in (
        ("services: 5\n", "field services must be a list (got 5)"),
        ("services: [5]\n", "field services[0] must be a table"),
    ):
        with pytest.raises(ServicesFileError) as caught:
            parse_services(text, "yaml", origin="f.yml")
        assert expected in str(caught.value) and "_Entry" not in str(caught.value)


def test_names_from_the_selection_are_compose_names() -> None:
    from types import SimpleNamespace

    from gpuplan.placement.model import SERVICE_NAME_PATTERN
    from gpuplan.placement.services import services_from_selection

    loaded = SimpleNamespace(
        model_id="hf:org/Model@v1 ../x",
        roles=("chat",),
        vram_estimate_mb=100,
        gpus=1,
        quantization=None,
    )
    (service,) = services_from_selection([loaded])
    import re

    assert re.fullmatch(SERVICE_NAME_PATTERN, service.name), service.name


@pytest.mark.parametrize("field", ["vram_mb", "vram_budget_override_mb"])
def test_vram_figures_are_bounded_by_physics(field: str) -> None:
    huge = _one(field, 99999999999999999999)
    with pytest.raises(ServicesFileError, match="too large"):
        parse_services(huge, "json", origin="f.json")
    text = _one(field, 99999999999999)
    with pytest.raises(ServicesFileError) as caught:
        parse_services(text, "json", origin="f.json")
    message = str(caught.value)
    assert f"field services[0].{field} must be at most 8388608" in message
    assert "8 TiB" in message and "Input should" not in message
    ok = _one(field, 8388608)
    assert parse_services(ok, "json", origin="f.json")[0].budget_mb == 8388608


def test_an_alias_bomb_or_aliased_list_reads_in_plain_words() -> None:
    rows = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for prev, name in zip("abcdef", "bcdefg", strict=True):
        rows.append(f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]")
    with pytest.raises(ServicesFileError, match="aliases"):
        parse_services("\n".join([*rows, "services: [*g]"]) + "\n", "yaml", origin="f.yml")
    with pytest.raises(ServicesFileError) as caught:
        parse_services("a: &a [1, 2]\nservices: [*a]\n", "yaml", origin="f.yml")
    assert "services[0] must be a table" in str(caught.value)
    assert "_Entry" not in str(caught.value) and "Input should" not in str(caught.value)


def _one(field: str, value: int) -> str:
    return json.dumps({"services": [{"name": "x", field: value}]})
