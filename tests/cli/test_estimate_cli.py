"""`gpuplan estimate` in process, on files the tests write."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from gpuplan.cli import estimate as estimate_cmd
from gpuplan.errors import ModelNotFoundError
from gpuplan.models.files import LocalModel
from tests.models.test_files import TINY_CONFIG, _hf_dir, write_gguf

app = typer.Typer()
app.command()(estimate_cmd.estimate)
runner = CliRunner()


@pytest.fixture()
def gguf_file(tmp_path: Path) -> Path:
    return write_gguf(tmp_path / "tiny-Q4_K_M.gguf")


def test_json_prints_the_estimate_fields(gguf_file: Path) -> None:
    result = runner.invoke(app, [str(gguf_file), "--context", "4096", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["engine"] == "llama.cpp"  # auto for a GGUF file
    assert data["quant"] == "q4_k_m" and data["context"] == 4096
    assert data["total_mb"] == sum(
        data[k] for k in ("weights_mb", "kv_cache_mb", "activation_mb", "overhead_mb")
    )
    assert data["weights_source"] == "file" and data["assumptions"]


def test_table_for_a_hf_dir_with_tensor_parallel(tmp_path: Path) -> None:
    directory = _hf_dir(tmp_path / "tiny-llama")
    result = runner.invoke(app, [str(directory), "--tp", "2", "-e", "vLLM", "-n", "4"])
    assert result.exit_code == 0, result.output
    assert "tiny-llama on vllm" in result.output and "per GPU of 2" in result.output
    assert "Assumptions" in result.output and "total" in result.output


def test_config_json_path_and_quant_override(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps(TINY_CONFIG))
    result = runner.invoke(app, [str(tmp_path / "config.json"), "-q", "AWQ", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["quant"] == "awq"


def test_unknown_source_is_one_error_line(tmp_path: Path) -> None:
    result = runner.invoke(app, [str(tmp_path / "nothing-here")])
    assert result.exit_code == 1
    assert result.output.startswith("Error:") and "Traceback" not in result.output


def test_corrupt_file_is_one_error_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF\x03\x00\x00\x00")
    result = runner.invoke(app, [str(bad)])
    assert result.exit_code == 1 and "bad.gguf" in result.output


def test_wrong_engine_for_the_quant(gguf_file: Path) -> None:
    result = runner.invoke(app, [str(gguf_file), "-e", "tensorrt-llm"])
    assert result.exit_code == 1 and "cannot load GGUF" in result.output


def test_resolve_source_hook(
    tmp_path: Path, gguf_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OLLAMA_MODELS", str(tmp_path / "no-store"))
    from_file = estimate_cmd.resolve_source(str(gguf_file))
    from_dir = estimate_cmd.resolve_source(str(gguf_file.parent))
    assert isinstance(from_file, LocalModel) and isinstance(from_dir, LocalModel)
    assert from_file.kind == "gguf"
    assert from_dir.id == "tiny-Q4_K_M"
    with pytest.raises(ModelNotFoundError):
        estimate_cmd.resolve_source("org/not-a-path")
