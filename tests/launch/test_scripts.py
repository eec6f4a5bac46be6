"""Per-service launch files: JSON with the plan's launch contract, a script a shell can run."""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path

from gpuplan.launch import render
from gpuplan.launch.scripts import launch_files
from tests.launch.cases import requests_for


def test_json_carries_the_launch_contract_and_the_script_execs_the_same_argv(
    tmp_path: Path,
) -> None:
    request = requests_for("vllm", "one_gpu")[0].model_copy(
        update={"overrides": {"chat-template": "{{ 'it''s' }} $HOME"}}
    )
    config = render(request)
    files = launch_files(config)
    assert sorted(files) == ["chat.sh", "chat.vllm.json"]
    data = json.loads(files["chat.vllm.json"])
    assert {"engine", "engine_version", "argv", "env", "image"} <= set(data)
    assert data["argv"] == list(config.argv)
    script = files["chat.sh"]
    exec_line = next(line for line in script.splitlines() if line.startswith("exec "))
    assert shlex.split(exec_line)[1:] == list(config.argv)  # quoting survives a shell
    # run it with a stand-in `vllm` that prints its argv and environment
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "vllm").write_text(
        '#!/bin/sh\nprintf "%s\\n" "$@"\necho "CUDA=$CUDA_VISIBLE_DEVICES"\n'
    )
    (bindir / "vllm").chmod(0o755)
    (tmp_path / "chat.sh").write_text(script)
    done = subprocess.run(
        ["sh", str(tmp_path / "chat.sh")],
        env={"PATH": f"{bindir}:/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    lines = done.stdout.splitlines()
    assert lines[:-1] == list(config.argv[1:])
    assert lines[-1] == f"CUDA={config.env['CUDA_VISIBLE_DEVICES']}"


def test_ollama_modelfile_is_named_after_its_service() -> None:
    config = render(requests_for("ollama", "one_gpu")[0])
    files = launch_files(config)
    assert "chat.Modelfile" in files
    assert "ollama create chat -f chat.Modelfile" in files["chat.sh"]
    assert "ollama pull llama3.1:8b-instruct-q4_K_M" in files["chat.sh"]


def test_untrusted_text_cannot_leave_a_comment_or_the_output_folder() -> None:
    import pytest

    from gpuplan.errors import LaunchError

    config = render(requests_for("vllm", "one_gpu")[0])
    hostile = config.model_copy(update={"notes": ("fine\ntouch INJ3 #\r\x1b[2J",)})
    script = launch_files(hostile)["chat.sh"]
    assert "\ntouch INJ3" not in script
    assert all(
        line.startswith(("#", "set ", "cd ", "export ", "exec ")) or not line
        for line in script.splitlines()[1:]
    ), script
    for stem in ("../../pwned", "/tmp/abs", "a/b", "a\nb", ".."):
        with pytest.raises(LaunchError, match="not a plain file name"):
            launch_files(config.model_copy(update={"service": stem}))
