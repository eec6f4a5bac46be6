"""A real tuning task in ``local`` mode: llama.cpp's server with the tiny model, two grid points.

Nothing is faked: each experiment starts the engine as a process, waits for health,
streams completions at two concurrency levels, stops it, and is scored. The checks are
on plausibility (CPU, 2-layer model: milliseconds per token) and on the score following
from the measured figures.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gpuplan.cli.main import app
from gpuplan.tuning.factory import TaskContext, build_task
from gpuplan.tuning.local import LocalExecutor
from gpuplan.tuning.persist import TuningStore
from gpuplan.tuning.report import result_rows, write_plot, write_winner_profile
from gpuplan.tuning.runner import load_result, run_task
from gpuplan.tuning.scoring import score_experiment
from tests.support.llama_server import LlamaBackend, LlamaServer

OUT_TOKENS = 12


def test_real_task_two_grid_points(
    tiny_gguf: Path, llama_backend: LlamaBackend, tmp_path: Path
) -> None:
    store = TuningStore(tmp_path / "tuning.sqlite3")
    context = TaskContext(
        model_name=str(tiny_gguf),
        base_runtime="llamacpp",
        deployment_mode="local",
        profiles=["quick-test"],
        task_name="tiny-e2e",
        slo_config={
            "ttft": {"threshold": 5.0, "weight": 1.0},
            "tpot": {"threshold": 1.0, "weight": 1.0},
            "latency": {"p90": {"threshold": 30.0, "weight": 1.0, "hard_fail": True}},
        },
        user_overrides={
            "parameters": {"parallel": [1, 2], "ctx-size": [1024], "threads": [1]},
            "optimization": {"timeout_per_iteration": 120},
            "benchmark": {
                "traffic_scenarios": [f"D(16,{OUT_TOKENS})"],
                "num_concurrency": [1, 2],
                "max_requests_per_iteration": 4,
                "max_time_per_iteration": 30,
            },
        },
    )
    build = build_task(context)
    store.create_task(build.config)
    executor = LocalExecutor(llamacpp=(llama_backend.kind, llama_backend.command))
    seen: list[tuple[str, int]] = []
    result = run_task(
        store, "tiny-e2e", executor, progress=lambda event, seq, *_: seen.append((event, seq))
    )

    assert seen == [("start", 1), ("done", 1), ("start", 2), ("done", 2)]
    assert [e.params["parallel"] for e in result.experiments] == [1, 2]
    for exp in result.experiments:
        assert exp.outcome.error is None, exp.outcome.error
        assert exp.score.status == "ok", exp.score.reason
        assert "--parallel" in exp.outcome.argv or llama_backend.kind != "llama-server"
        assert [lv.concurrency for lv in exp.outcome.levels] == [1, 2]
        for lv in exp.outcome.levels:
            assert lv.requests == 4 and lv.failed == 0
            assert lv.ttft_mean_s is not None and lv.tpot_mean_s is not None
            # Plausible on a CPU for a 2-layer width-64 model: > 0, well under a second.
            assert 0 < lv.ttft_mean_s < 5.0
            assert 0 < lv.tpot_mean_s < 1.0
            assert lv.latency_mean_s is not None and lv.ttft_mean_s < lv.latency_mean_s
            assert 0 < lv.latency_p50_s <= lv.latency_p90_s <= lv.latency_p99_s
            assert lv.output_tokens_per_s > 0
            if llama_backend.kind == "llama-server":
                assert lv.output_tokens_mean == OUT_TOKENS  # ignore_eos honoured
            else:
                assert lv.output_tokens_mean >= 1
            # The latency is the first token plus the decode steps after it.
            decode = lv.tpot_mean_s * (lv.output_tokens_mean - 1)
            assert lv.latency_mean_s == pytest.approx(lv.ttft_mean_s + decode, rel=0.25)
        # The score follows from the measurements: recomputed, it is the same.
        again = score_experiment(exp.outcome.levels, "minimize_latency", build.config.slo)
        assert again == exp.score
        means = [lv.latency_mean_s for lv in exp.outcome.levels]
        assert exp.score.objective_value == pytest.approx(sum(means) / len(means))  # type: ignore[arg-type]
        assert exp.score.penalty == 0 and exp.score.penalized_value == exp.score.objective_value

    best = result.best
    assert best is not None
    others = [e for e in result.experiments if e.seq != best.seq]
    assert all(best.score.penalized_value <= o.score.penalized_value for o in others)  # type: ignore[operator]
    assert load_result(store, "tiny-e2e").best_seq == best.seq

    paths = write_plot(result, build.config, tmp_path / "plot")
    assert [p.suffix for p in paths] == [".png", ".svg"]
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and paths[1].stat().st_size > 1000
    rows = result_rows(result)
    assert len(rows) == 4 and all(math.isfinite(float(r["p90_ms"])) for r in rows)

    # The winner is a deployment profile that `gpuplan plan` takes.
    profile = write_winner_profile(result, build.config, tmp_path / "tuned.json")
    planned = CliRunner().invoke(app, ["plan", "--hardware", "cpu", "--profile", str(profile)])
    assert planned.exit_code == 0, planned.output
    assert "tuned-tiny-e2e" in planned.output


def test_cli_runs_a_task_and_shows_it(
    tiny_gguf: Path, llama_backend: LlamaBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "cli.sqlite3"
    args = [
        "tune", "--model", str(tiny_gguf), "--runtime", "llamacpp", "--mode", "local",
        "--profile", "quick-test", "--task-name", "cli-tiny", "--db", str(db),
        "--set", "parameters.parallel=[1,2]", "--set", "parameters.ctx-size=1024",
        "--set", "benchmark.traffic_scenarios=[\"D(8,8)\"]",
        "--set", "benchmark.max_requests_per_iteration=2",
        "--plot", str(tmp_path / "cli-plot"), "--write-profile", str(tmp_path / "w.json"),
    ]  # fmt: skip
    if llama_backend.kind == "llama-server":  # else the CLI finds llama_cpp.server itself
        monkeypatch.setenv("GPUPLAN_LLAMA_SERVER", llama_backend.command[0])
    ran = CliRunner().invoke(app, args)
    assert ran.exit_code == 0, ran.output
    assert "Best:" in ran.output and "Plot:" in ran.output
    assert (tmp_path / "cli-plot.png").exists() and (tmp_path / "w.json").exists()
    shown = CliRunner().invoke(app, ["tune", "show", "cli-tiny", "--db", str(db), "--json"])
    assert shown.exit_code == 0, shown.output
    assert '"best_seq"' in shown.output


def test_poisson_arrivals_against_the_real_server(llama_server: LlamaServer) -> None:
    from gpuplan.tuning.loadgen import run_level_sync
    from gpuplan.tuning.space import parse_traffic

    records = run_level_sync(
        llama_server.base_url,
        llama_server.model_alias,
        parse_traffic("D(8,4)"),
        2,
        max_requests=6,
        max_time_s=30,
        request_rate=20.0,
        seed=1,
    )
    assert len(records) == 6 and all(r.ok for r in records), [r.error for r in records]
    starts = [r.start_s for r in records]
    assert starts == sorted(starts) and starts[-1] > starts[0]  # spread out, not a burst
    assert all(r.first_token_s is not None and r.output_tokens >= 1 for r in records)


def test_tokens_whose_text_the_server_withholds_are_still_served(
    llama_server: LlamaServer,
) -> None:
    """The CI failure of stop 7: a random model's byte tokens made replies with no text.

    Biasing the tiny model to byte 0xE2 (token 3 + 0xE2: a UTF-8 lead byte that never
    completes) makes llama-server withhold every token's text and send only the final
    chunk; the request is still served, its four tokens counted from ``usage``.
    """
    from gpuplan.tuning.loadgen import run_level_sync
    from gpuplan.tuning.space import parse_traffic

    (record,) = run_level_sync(
        llama_server.base_url,
        llama_server.model_alias,
        parse_traffic("D(8,4)"),
        1,
        max_requests=1,
        max_time_s=30,
        extra_body={"logit_bias": {str(3 + 0xE2): 100}},
    )
    assert record.ok, record.error
    assert record.output_tokens == 4 and record.first_token_s is not None
