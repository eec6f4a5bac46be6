"""`gpuplan fit` and `gpuplan select`, run in process on declared hardware."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from gpuplan.cli.models import fit, select
from tests.models.seed_registry import write_seed_registry

app = typer.Typer()
app.command("fit")(fit)
app.command("select")(select)
runner = CliRunner()


@pytest.fixture(autouse=True)
def _no_user_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No developer registry or profile files, no project pyproject: the packaged data only."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def run_json(*args: str) -> Any:
    """Parse stdout only: profile warnings go to stderr and must not break --json."""
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_fit_lists_what_fits_a_declared_gpu() -> None:
    doc = run_json("fit", "--hardware", "RTX 4090")
    keys = {(m["model_id"], m["quantization"]) for m in doc["models"]}
    assert ("gpt-oss-20b", "MXFP4") in keys
    assert ("llama-3.3-70b", "Q4_K_M") not in keys
    assert all(m["fits"] for m in doc["models"])
    qwen = next(m for m in doc["models"] if m["model_id"] == "qwen2.5-vl-7b")
    assert qwen["max_context"] >= 4096 and qwen["context"] == 4096
    florence = next(m for m in doc["models"] if m["model_id"] == "florence-2-large")
    assert florence["max_context"] is None and florence["vram_source"] == "weights_only"


def test_fit_all_says_why_not_and_splits_over_gpus() -> None:
    one = run_json("fit", "--hardware", "RTX 4090", "--all", "--role", "chat")
    llama = next(
        m
        for m in one["models"]
        if (m["model_id"], m["quantization"]) == ("llama-3.3-70b", "Q4_K_M")
    )
    assert llama["fits"] is False and "largest GPU" in llama["reason"]
    assert all("chat" in m["roles"] for m in one["models"])
    two = run_json("fit", "--hardware", "2x RTX 4090", "--role", "chat")
    llama = next(
        m
        for m in two["models"]
        if (m["model_id"], m["quantization"]) == ("llama-3.3-70b", "Q4_K_M")
    )
    assert llama["gpus"] == 2


def test_fit_table() -> None:
    code, output = run("fit", "--hardware", "RTX 4090")
    assert code == 0
    assert "gpt-oss-20b" in output and "variants fit" in output


def test_select_role_prints_seed_document() -> None:
    doc = run_json("select", "--role", "keywords", "--hardware", "RTX 4090")
    assert set(doc) == {"role", "profile", "max_vram_mb", "model_selection_bias", "top_n", "models"}
    assert doc["profile"] == "balanced_24gb" and doc["top_n"] == 3
    assert len(doc["models"]) == 3
    assert doc["models"][0]["id"] == "florence-2-large"


def test_select_honours_profile_and_overrides() -> None:
    doc = run_json(
        "select", "--role", "chat", "--profile", "constrained_16gb", "--hardware", "RTX 4090"
    )
    assert (doc["profile"], doc["max_vram_mb"]) == ("constrained_16gb", 14000)
    assert doc["model_selection_bias"] == "vram_efficient"
    doc = run_json(
        "select",
        "--role",
        "chat",
        "--hardware",
        "RTX 4090",
        "--max-vram-mb",
        "8000",
        "--prefer",
        "q4_k_m",
        "--bias",
        "quality",
        "--top-n",
        "5",
    )
    assert doc["max_vram_mb"] == 8000 and doc["model_selection_bias"] == "quality"
    assert all(m["vram_estimate_mb"] <= 8000 for m in doc["models"])
    assert len(doc["models"]) == 5


def test_select_explain() -> None:
    doc = run_json(
        "select", "--role", "caption", "--explain", "gpt-oss-20b", "--hardware", "RTX 4090"
    )
    assert doc["status"] == "no_role_support"
    code, output = run(
        "select", "--role", "chat", "--explain", "llama-3.3-70b", "--hardware", "RTX 4090"
    )
    assert code == 0 and "rejected" in output and "exceeds the VRAM budget" in output


def test_select_roles_jointly() -> None:
    doc = run_json("select", "--roles", "chat,embedding,caption", "--hardware", "RTX 4090")
    assert doc["roles"] == ["chat", "embedding", "caption"]
    assert doc["total_vram_mb"] <= doc["max_vram_mb"]
    assert len(doc["models"]) <= doc["max_concurrent_models"]
    code, output = run("select", "--roles", "chat,embedding", "--hardware", "RTX 4090")
    assert code == 0 and "model(s) loaded" in output


def test_select_roles_explain_says_the_trade_and_the_larger_supporting_model() -> None:
    args = ("select", "--roles", "chat,embedding,caption", "--hardware", "2x RTX 4090")
    doc = run_json(*args, "--explain", "llama-3.3-70b")
    assert doc["model_id"] == "llama-3.3-70b"
    assert doc["explanation"][0].startswith("chose ")
    assert " over llama-3.3-70b so that embedding and caption are served" in doc["explanation"][0]
    code, output = run(*args, "--explain", "qwen3-embedding-8b")
    assert code == 0 and "does not fit beside the chat model" in output
    code, output = run(*args, "--explain", "smollm2-1.7b")
    assert code == 0 and "is not in the set" in output


def test_select_with_a_user_registry(tmp_path: Path) -> None:
    path = write_seed_registry(tmp_path)
    doc = run_json(
        "select", "--role", "narration", "--registry", str(path), "--hardware", "RTX 4090"
    )
    assert "narrator-small" in [m["id"] for m in doc["models"]]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("select", "--role", "poetry"), "unknown role 'poetry'"),
        (("select", "--role", "chat", "--roles", "chat"), "exactly one of --role and --roles"),
        (("select", "--roles", "chat", "--explain", "llama-3.3-7b"), "closest ids: llama-3.3-70b"),
        (("select", "--role", "chat", "--bias", "fast"), "model_selection_bias"),
        (("fit", "--registry", "/nonexistent.toml"), "does not exist"),
    ],
)
def test_errors_are_one_line(args: tuple[str, ...], message: str) -> None:
    code, output = run(*args, "--hardware", "RTX 4090")
    assert code != 0
    assert "Error:" in output and message in output
    assert "Traceback" not in output
