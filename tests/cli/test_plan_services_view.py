"""`gpuplan plan --services FILE`: the view is about the file's services, not the selection."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from typer.testing import CliRunner

from gpuplan.cli.main import app
from gpuplan.cli.render.placement import keep_units, launch_warnings, render_launch
from gpuplan.launch.model import LaunchConfig

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SEED004 = (
    "--services",
    str(EXAMPLES / "seed004-services.yml"),
    "--hardware",
    "RTX A5500, RTX A400",
)


def run(*args: str) -> str:
    result = CliRunner().invoke(app, list(args), env={"GPUPLAN_DEPLOYMENT_PROFILE": ""})
    assert result.exit_code == 0, result.output
    return result.stdout


def test_services_view_labels_the_role_selection_instead_of_recommending_it() -> None:
    text = run("plan", *SEED004)
    assert "What fits" not in text
    assert "5 service(s) from" in text
    head, _, rest = text.partition("Without a services file, gpuplan would serve:")
    assert rest, text
    assert "qwen3-32b" not in head  # the selection appears only under its label
    assert "Engine settings for these picks" not in text


def test_an_empty_services_file_says_nothing_to_place_and_recommends_nothing(
    tmp_path: Path,
) -> None:
    empty = tmp_path / "none.yml"
    empty.write_text("services: []\n")
    text = run("plan", "--services", str(empty), "--hardware", "RTX 4090")
    assert "lists no services: nothing to place." in text
    assert "would serve" not in text and "What fits" not in text
    assert "chat " not in text


def test_json_keeps_its_fields_and_names_the_services_file() -> None:
    body = json.loads(run("plan", "--json", *SEED004))
    assert body["services_file"].endswith("seed004-services.yml")
    assert body["selection"]["picks"] and body["fitting"]  # kept: add, never rename
    plain = json.loads(run("plan", "--json", "--hardware", "RTX 4090"))
    assert plain["services_file"] is None


def test_units_stay_with_their_numbers_in_the_view_only() -> None:
    assert keep_units("Auto-adjusted to 3.5 GB. 650 MB, 22,516 MiB") == (
        "Auto-adjusted to 3.5\u00a0GB. 650\u00a0MB, 22,516\u00a0MiB"
    )
    text = run("plan", *SEED004)
    assert "Auto-adjusted to 3.5\u00a0GB." in text.replace("\n  ", " ")
    assert "\n  GB." not in text
    body = run("plan", "--json", *SEED004)
    assert "\u00a0" not in body and "Auto-adjusted to 3.5 GB." in body


def _config(*notes: str) -> LaunchConfig:
    return LaunchConfig.model_validate(
        {
            "service": "chat",
            "engine": "vllm",
            "engine_version": "0.33.0",
            "argv": ["vllm", "serve", "qwen3-8b"],
            "env": {},
            "port": 8000,
            "notes": list(notes),
        }
    )


def test_launch_notes_that_say_it_may_not_start_show_beside_the_line_in_yellow() -> None:
    notes = ("cannot start: vLLM needs a GPU", "may not start: 4 GB GPU", "TP 1 on GPU 0")
    assert launch_warnings(notes) == list(notes[:2])
    from gpuplan.planning import Plan

    console = Console(width=80, record=True, force_terminal=True, color_system="standard")

    class _Plan:  # render_launch reads only .launch
        launch = (_config(*notes),)

    plan: Plan = _Plan()  # type: ignore[assignment]
    console.print(render_launch(plan))
    text = console.export_text(clear=False)
    line = text.index("vllm serve qwen3-8b")
    assert line < text.index("cannot start: vLLM needs a GPU") < text.index("may not start")
    assert "TP 1 on GPU 0" not in text
    ansi = console.export_text(styles=True)
    assert "\x1b[33m⚠ cannot start" in ansi
