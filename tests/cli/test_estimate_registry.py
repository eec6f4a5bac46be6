"""`gpuplan estimate REGISTRY_ID`: the registry's facts through the same estimator."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from gpuplan.cli.main import app
from gpuplan.memory.estimate import estimate
from gpuplan.memory.vram import arch_of
from gpuplan.models.registry import load_registry


def test_registry_id_is_estimated_at_its_first_variant_on_its_engine() -> None:
    result = CliRunner().invoke(app, ["estimate", "gpt-oss-20b", "--context", "16384", "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    entry = load_registry().get("gpt-oss-20b")
    expected = estimate(arch_of(entry), quant="mxfp4", engine="vllm", context=16384)
    assert body["quant"] == "mxfp4" and body["engine"] == "vllm"
    assert body["total_mb"] == expected.total_mb
    assert body["total_mb"] == sum(
        body[k] for k in ("weights_mb", "kv_cache_mb", "activation_mb", "overhead_mb")
    )


def test_quant_flag_overrides_the_registry_default() -> None:
    runner = CliRunner()
    bf16 = json.loads(runner.invoke(app, ["estimate", "llama-3.1-8b", "--json"]).stdout)
    fp8 = json.loads(
        runner.invoke(app, ["estimate", "llama-3.1-8b", "--quant", "fp8", "--json"]).stdout
    )
    assert fp8["weights_mb"] < bf16["weights_mb"] * 0.6


def test_unknown_id_names_the_closest_ids_without_a_traceback() -> None:
    result = CliRunner().invoke(app, ["estimate", "llama-3.1-8bb"])
    assert result.exit_code == 1
    assert "closest ids: llama-3.1-8b" in result.output
    assert "Traceback" not in result.output
