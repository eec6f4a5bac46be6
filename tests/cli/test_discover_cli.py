"""`gpuplan discover` and `--discover PATH` on `fit`, `select`, `plan`, in process.

One disk per test: a folder of GGUFs (one matching a user registry entry, one not, one
corrupt), a HF model directory, an Ollama store; HOME is an empty folder so no real
cache is read.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import gguf
import pytest
import typer
import yaml
from typer.testing import CliRunner

from gpuplan.cli.discover import discover
from gpuplan.cli.models import fit, select
from gpuplan.cli.plan import plan
from gpuplan.hardware import load_host
from gpuplan.memory.estimate import estimate
from gpuplan.models.files.gguf_model import read_gguf
from tests.models.test_discovered import TINY_ENTRY
from tests.models.test_files import _hf_dir, _ollama_store, write_gguf

app = typer.Typer()
app.command("discover")(discover)
app.command("fit")(fit)
app.command("select")(select)
app.command("plan")(plan)
runner = CliRunner()


@pytest.fixture()
def disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Models on disk, a user registry entry for one of them, and no real caches."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    for name in ("HF_HOME", "HF_HUB_CACHE", "OLLAMA_MODELS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    user = tmp_path / "config" / "gpuplan" / "models"
    user.mkdir(parents=True)
    (user / "tiny.yaml").write_text(yaml.safe_dump({"models": [TINY_ENTRY]}))

    ggufs = tmp_path / "ggufs"
    ggufs.mkdir()
    tiny = write_gguf(ggufs / "tiny-Q4_K_M.gguf")
    write_gguf(ggufs / "moe.gguf", experts=4)
    (ggufs / "broken.gguf").write_bytes(b"GGUF\x03\x00")
    hf = _hf_dir(tmp_path / "tiny-llama")
    ollama = _ollama_store(tmp_path / "ollama", tiny, name="smol", tag="1b")
    return {"ggufs": ggufs, "hf": hf, "ollama": ollama, "home": home, "tiny": tiny}


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    assert "Traceback" not in result.output
    return result.exit_code, result.stdout, result.stderr


def run_json(*args: str) -> Any:
    code, out, err = run(*args, "--json")
    assert code == 0, out + err
    return json.loads(out)


def discover_flags(disk: dict[str, Path]) -> list[str]:
    return [flag for key in ("ggufs", "hf", "ollama") for flag in ("--discover", str(disk[key]))]


LOCAL_IDS = {"local:tiny-Q4_K_M", "local:moe", "local:tiny-llama", "local:smol:1b"}


def test_fit_lists_discovered_models_with_their_own_costs(disk: dict[str, Path]) -> None:
    doc = run_json("fit", "--hardware", "RTX 4090", *discover_flags(disk))
    rows = {m["model_id"]: m for m in doc["models"]}
    assert set(rows) >= LOCAL_IDS
    tiny = rows["local:tiny-Q4_K_M"]
    assert tiny["roles"] == ["chat", "reasoning"]  # from the matched registry entry
    assert tiny["backend"] == "llamacpp" and tiny["vram_source"] == "estimator"
    assert tiny["context"] == tiny["max_context"] == 2048  # the entry's own limit
    # The figure is the estimator's on the exact header bytes, for this GPU's size.
    model = read_gguf(disk["tiny"])
    gpu = load_host("RTX 4090").gpus[0].vram_total_mb
    direct = estimate(
        model.arch, engine="llama.cpp", context=2048, weight_bytes=model.weights, gpu_memory_mb=gpu
    )
    assert tiny["vram_estimate_mb"] == direct.total_mb
    assert rows["local:moe"]["roles"] == ["chat"]
    assert rows["local:smol:1b"]["backend"] == "ollama"


def test_fit_reports_the_corrupt_file_as_a_warning(disk: dict[str, Path]) -> None:
    code, out, err = run("fit", "--hardware", "RTX 4090", "--discover", str(disk["ggufs"]))
    assert code == 0
    assert "broken.gguf" in err and "Warning" in err
    assert "local:moe" in out and "local:tiny" in out  # the table may wrap long ids


def test_select_ranks_discovered_models_by_inherited_or_guessed_priority(
    disk: dict[str, Path],
) -> None:
    doc = run_json(
        "select", "--role", "chat", "--hardware", "RTX 4090", "--top-n", "100",
        *discover_flags(disk),
    )  # fmt: skip
    by_id = {m["id"]: m for m in doc["models"]}
    assert set(by_id) >= LOCAL_IDS
    assert by_id["local:tiny-Q4_K_M"]["role_priority"] == 77
    assert by_id["local:moe"]["role_priority"] == 50


def test_plan_fits_discovered_models(disk: dict[str, Path]) -> None:
    body = run_json("plan", "--hardware", "RTX 4090", "--discover", str(disk["ggufs"]))
    fitting = {row["model_id"] for row in body["fitting"]}
    assert {"local:tiny-Q4_K_M", "local:moe"} <= fitting


def test_discover_json_lists_models_and_problems(disk: dict[str, Path]) -> None:
    doc = run_json("discover", str(disk["ggufs"]), str(disk["hf"]), str(disk["ollama"]))
    rows = {m["id"]: m for m in doc["models"]}
    assert set(rows) == LOCAL_IDS
    reader = gguf.GGUFReader(disk["tiny"])
    assert rows["local:tiny-Q4_K_M"]["weights_bytes"] == sum(int(t.n_bytes) for t in reader.tensors)
    assert rows["local:tiny-Q4_K_M"]["matched"] == "tiny-chat"
    assert rows["local:tiny-llama"]["matched"] == "tiny-chat"  # by normalised name
    assert rows["local:tiny-llama"]["engine"] == "vllm"
    assert rows["local:moe"]["matched"] is None
    assert all(row["vram_estimate_mb"] > 0 for row in rows.values())
    assert len(doc["problems"]) == 1 and "broken.gguf" in doc["problems"][0]
    assert any("local:moe: roles guessed" in w for w in doc["warnings"])


def test_discover_table_shows_problems_as_lines(disk: dict[str, Path]) -> None:
    code, out, _ = run("discover", str(disk["ggufs"]))
    assert code == 0
    assert "guessed" in out and "tiny-chat" in out
    assert "✗" in out and "broken.gguf" in out


def test_discover_without_paths_on_an_empty_home_says_so(disk: dict[str, Path]) -> None:
    code, out, _ = run("discover")
    assert code == 0 and "No models found" in out and "GPUPLAN_MODEL_DIRS" in out
    assert run_json("discover")["models"] == []


def test_discover_without_paths_reads_the_default_places(
    disk: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OLLAMA_MODELS", str(disk["ollama"]))
    monkeypatch.setenv("GPUPLAN_MODEL_DIRS", f"{disk['ggufs']}{os.pathsep}/nope")
    doc = run_json("discover")
    assert {m["id"] for m in doc["models"]} == {"local:smol:1b", "local:tiny-Q4_K_M", "local:moe"}
    assert any("/nope" in p for p in doc["problems"])
