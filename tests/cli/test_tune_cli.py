"""`gpuplan tune`: dry runs, profiles, errors, show — in process."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from gpuplan.cli.main import app
from gpuplan.cli.tune import parse_set


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_profiles_lists_the_six() -> None:
    code, out = run("tune", "profiles", "--json")
    assert code == 0
    names = [p["name"] for p in json.loads(out)]
    assert names == ["quick-test", "balanced", "low-latency", "high-throughput",
                     "cost-optimization", "production"]  # fmt: skip


def test_dry_run_prints_generated_config_and_commands() -> None:
    code, out = run(
        "tune", "--model", "m", "--runtime", "vllm", "--profile", "balanced",
        "--set", "optimization.max_iterations=2", "--mode", "docker", "--hardware", "2x RTX 4090",
        "--dry-run", "--json",
    )  # fmt: skip
    assert code == 0, out
    body = json.loads(out)
    generated = body["generated_config"]
    assert generated["parameters"]["tensor-parallel-size"] == [1, 2]  # 2 GPUs declared
    assert generated["optimization"]["max_iterations"] == 2
    assert body["provenance"]["optimization.max_iterations"] == "tuning layer user_patch"
    assert len(body["plan"]) == 2 and body["plan"][0]["argv"][0] == "docker"
    hardware = generated["deployment"]["hardware"]
    assert hardware["gpus"] == 2 and hardware["source"] == "declared"
    assert hardware["deployment_profile"]  # the profile gpuplan picks for this hardware
    assert body["provenance"]["deployment.hardware.gpus"] == "tuning layer hardware"


def test_dry_run_table() -> None:
    code, out = run("tune", "-m", "m.gguf", "-r", "llamacpp", "-p", "quick-test", "--dry-run")
    assert code == 0, out
    assert "profile:quick-test:quick-test-params" in out
    assert "llama-server --model m.gguf" in out


def test_errors_are_one_line() -> None:
    code, out = run("tune", "-m", "m", "-r", "sglang", "-p", "high-throughput",
                    "--total-gpus", "2", "--dry-run")  # fmt: skip
    assert code == 1 and out.startswith("Error: parameters.tp-size: none of [4, 8] fits")
    code, out = run("tune", "-m", "m", "-r", "nope", "--dry-run")
    assert code == 1 and "not a tuning runtime" in out
    code, out = run("tune", "--dry-run")
    assert code == 2


def test_ome_without_dry_run_says_why(tmp_path: Path) -> None:
    code, out = run("tune", "-m", "m", "-r", "vllm", "--mode", "ome", "--hardware", "1x H100",
                    "--db", str(tmp_path / "db.sqlite3"))  # fmt: skip
    assert code == 1 and "does not apply them to a cluster" in out


def test_show_lists_and_unknown_task(tmp_path: Path) -> None:
    db = str(tmp_path / "db.sqlite3")
    code, out = run("tune", "show", "--db", db, "--json")
    assert code == 0 and json.loads(out) == []
    code, out = run("tune", "show", "nope", "--db", db)
    assert code == 1 and "no tuning task 'nope'" in out


def test_parse_set_nests_and_parses_json() -> None:
    assert parse_set(["a.b=5", "a.c=[1,2]", "d=text"]) == {"a": {"b": 5, "c": [1, 2]}, "d": "text"}
