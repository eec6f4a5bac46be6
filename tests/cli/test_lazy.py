"""The lazy command table matches the commands it stands for."""

from __future__ import annotations

import pytest

from gpuplan.cli.lazy import load_command
from gpuplan.cli.main import Commands


def _summary(help_text: str | None) -> str:
    return " ".join((help_text or "").strip().split("\n\n")[0].split())


@pytest.mark.parametrize("name", sorted(Commands.COMMANDS))
def test_summary_is_the_commands_own(name: str) -> None:
    entry = Commands.COMMANDS[name]
    command = load_command(name, entry)
    assert command.name == name
    assert entry.summary == (command.short_help or _summary(command.help))


def test_help_lists_every_command_without_loading_them(capsys: pytest.CaptureFixture[str]):
    from gpuplan.cli.main import app

    with pytest.raises(SystemExit) as exit_info:
        app(args=["--help"], prog_name="gpuplan")
    assert exit_info.value.code == 0
    listing = capsys.readouterr().out
    for name in Commands.COMMANDS:
        assert f"\n  {name} " in listing
