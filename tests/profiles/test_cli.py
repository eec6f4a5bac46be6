"""`gpuplan profile …` in process, on a small typer app that mounts the profile group."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from gpuplan.cli.profile import app as profile_app
from gpuplan.profiles.schema import schema_text

root = typer.Typer()
root.add_typer(profile_app, name="profile")


@root.callback()
def _root() -> None:
    """Test root."""


runner = CliRunner()


def run(*args: str, env: dict[str, str] | None = None):
    result = runner.invoke(root, ["profile", *args], env={"COLUMNS": "200", **(env or {})})
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def test_show_json_is_the_config_profile_document():
    result = run("show", "--json", "--hardware", "RTX 4080")
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert document["active_profile"]["name"] == "constrained_16gb"
    assert document["total_usable_vram_mb"] == 16376 - 2048
    assert document["manual_override"] is None
    assert document["provenance"]["strategy"]["origin"]["kind"] == "builtin"


def test_show_explain_prints_value_source_and_rule():
    result = run("show", "--explain", "-H", "H100-80GB")
    assert result.exit_code == 0
    out = result.stdout
    assert "dynamic_77gb" in out and "single-gpu-24gb" in out
    assert "derives dynamic_77gb from the real usable VRAM" in out
    assert "gpuplan/profiles/data/deployment/onprem_gpu_bf16_flash.json" in out


def test_explain_json():
    result = run("explain", "--json", "-H", "2x RTX 4080")
    rows = {row["field"]: row for row in json.loads(result.stdout)["rows"]}
    assert rows["max_vram_mb"]["value"] == "28000"
    assert "profiles.toml" in rows["max_vram_mb"]["source"]


def test_engine_flag_overrides_profile():
    result = run("show", "gpu_8bit", "--json", "-H", "RTX 4090", "--quantization-bits", "8")
    document = json.loads(result.stdout)
    assert document["provenance"]["engine.quantization_bits"]["origin"]["label"] == (
        "--quantization-bits"
    )
    assert document["manual_override"] == "gpu_8bit"


def test_unknown_profile_exits_2_and_lists_available():
    result = run("show", "huge_512gb", "-H", "RTX 4090")
    assert result.exit_code == 2
    assert "huge_512gb" in result.stderr and "balanced_24gb" in result.stderr


def test_env_unknown_profile_warns_and_auto_selects():
    result = run("show", "--json", "-H", "RTX 4090", env={"GPUPLAN_DEPLOYMENT_PROFILE": "nope"})
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert document["active_profile"]["name"] == "balanced_24gb"
    assert any("nope" in w for w in document["warnings"])


def test_manual_override_warns_on_stderr():
    result = run("show", "-H", "RTX 4080", env={"GPUPLAN_DEPLOYMENT_PROFILE": "balanced_24gb"})
    assert result.exit_code == 0
    assert "may exceed available VRAM" in result.stderr


def test_list_marks_active_and_json():
    result = run("list", "--json", "-H", "8x H100-80GB")
    data = json.loads(result.stdout)
    active = [p for p in data["profiles"] if p["active"]]
    assert [p["name"] for p in active] == ["dynamic_621gb"]
    assert len(data["profiles"]) == 12
    text = run("list", "-H", "RTX 4090").stdout
    assert "balanced_24gb" in text and "generous_96gb" in text


def test_schema_prints_the_schema():
    assert run("schema").stdout == schema_text()


def test_validate_builtin_style_files_pass(tmp_path):
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"profile": "good", "engine": {"device": "cuda"}}))
    result = run("validate", str(good))
    assert result.exit_code == 0
    assert "ok" in result.stdout


BROKEN = {
    "syntax.toml": ("max_vram_mb = \n[engine\n", "invalid TOML", "(syntax)"),
    "syntax.json": ('{\n  "max_vram_mb": 1,\n}\n', "invalid JSON", "(syntax)"),
    "syntax.yaml": ("engine:\n  device: [cpu\n", "invalid YAML", "(syntax)"),
    "types.toml": ('max_vram_mb = "lots"\n', "whole number", "max_vram_mb"),
    "unknown.yaml": ("max_vram: 1000\n", "did you mean 'max_vram_mb'", "max_vram"),
    "bits.json": (
        '{"engine": {"quantization_bits": 4, "quantization_method": "bnb-8bit"}}',
        "do not go with",
        "engine.quantization_bits",
    ),
    "cpu_flash.toml": (
        '[engine]\ndevice = "cpu"\nattention_impl = "flash"\n',
        "needs a GPU",
        "engine.attention_impl",
    ),
    "strategy.toml": (
        'strategy = "load_unload"\nmax_concurrent_models = 3\n',
        "needs exactly 1",
        "max_concurrent_models",
    ),
    "tp.json": (
        '{"gpu_count": 2, "engine": {"tensor_parallel_size": 4}}',
        "exceeds gpu_count",
        "engine.tensor_parallel_size",
    ),
    "flash.yaml": (
        "engine:\n  enable_flash_attention: true\n  attention_impl: sdpa\n",
        "enable_flash_attention is true",
        "engine.attention_impl",
    ),
    "method.toml": (
        '[engine]\nquantization_method = "magic"\n',
        "use one of",
        "engine.quantization_method",
    ),
    "notatable.yaml": ("- a\n- b\n", "must be a table", "(top level)"),
    "suffix.ini": ("x=1\n", "unsupported file type", "(file)"),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_validate_broken_files(tmp_path, name):
    text, problem, field = BROKEN[name]
    path = tmp_path / name
    path.write_text(text)
    result = run("validate", str(path))
    assert result.exit_code == 1
    out = result.stdout
    assert str(path) in out and "invalid" in out
    assert problem in out and field in out and "fix:" in out


def test_validate_json_reports_lines(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text(
        'description = "x"\n\n[engine]\nquantization_bits = 4\nquantization_method = "dynamic"\n'
    )
    result = run("validate", "--json", str(path))
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    (issue,) = data["files"][0]["issues"]
    assert (issue["field"], issue["line"], issue["file"]) == (
        "engine.quantization_bits",
        4,
        str(path),
    )
    assert "8" in issue["fix"]


def test_validate_pyproject_and_missing_file(tmp_path):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        "[tool.gpuplan.deployment_profiles.balanced_24gb]\nmax_concurrent_models = 1\n"
    )
    result = run("validate", str(pyproject), str(tmp_path / "nope.json"))
    assert result.exit_code == 1
    out = result.stdout
    # merged over the built-in: concurrent_limited with one model is a contradiction
    assert "concurrent_limited" in out and f"{pyproject}:2" in out
    assert "no such file" in out


def test_validate_warns_about_hardware_fit(tmp_path):
    path = tmp_path / "big.json"
    path.write_text('{"max_vram_mb": 50000}')
    result = run("validate", str(path), "-H", "RTX 4090")
    assert result.exit_code == 0
    assert "may exceed available VRAM" in result.stdout


def test_unknown_engine_key_is_a_warning_not_a_failure(tmp_path):
    path = tmp_path / "fwd.yaml"
    path.write_text("engine:\n  device: cuda\n  kv_cache_dtpye: fp8\n")
    result = run("validate", str(path))
    assert result.exit_code == 0
    assert "warning" in result.stdout and "engine.kv_cache_dtpye" in result.stdout


def test_every_command_has_help():
    for command in ("list", "show", "explain", "schema", "validate"):
        result = run(command, "--help")
        assert result.exit_code == 0 and "--json" in result.stdout


def test_pyproject_profile_in_project_is_used(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.gpuplan]\ndeployment_profile = "lab"\n\n'
        "[tool.gpuplan.deployment_profiles.lab]\nmax_vram_mb = 12000\n"
    )
    result = run("show", "--json", "-H", "RTX 4090")
    document = json.loads(result.stdout)
    assert document["active_profile"]["name"] == "lab"
    assert document["manual_override"] == "lab"
    origin = document["provenance"]["max_vram_mb"]["origin"]
    assert origin["kind"] == "pyproject" and origin["line"] == 5
    assert Path(origin["file"]).name == "pyproject.toml"
