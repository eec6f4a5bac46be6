"""Hostile profile files: refused with one line by every command, never a crash or a hang."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hostile.conftest import Gpuplan
from tests.hostile.test_documents import SELF_ALIAS, alias_bomb

HEADER = "profile: hostile\nmax_vram_mb: 20000\n"


def bad_profiles(tmp_path: Path) -> dict[str, Path]:
    files = {
        "self-alias": (HEADER + SELF_ALIAS, "contains itself"),
        "alias-bomb": (
            HEADER
            + "engine:\n"
            + "".join("  " + line + "\n" for line in alias_bomb().splitlines()),
            "aliases are expanded",
        ),
    }
    paths = {}
    for name, (text, _) in files.items():
        path = tmp_path / f"{name}.yaml"
        path.write_text(text)
        paths[name] = path
    return paths


WORDS = {"self-alias": "contains itself", "alias-bomb": "aliases are expanded"}


@pytest.mark.parametrize("kind", sorted(WORDS))
def test_every_command_refuses_the_file(tmp_path: Path, gpuplan: Gpuplan, kind: str) -> None:
    path = bad_profiles(tmp_path)[kind]
    validate = gpuplan("profile", "validate", str(path))
    assert validate.exit_code == 1 and WORDS[kind] in validate.output
    for args in (
        ("profile", "show", str(path), "-H", "RTX 4090"),
        ("plan", "-H", "RTX 4090", "--profile", str(path)),
    ):
        run = gpuplan(*args)
        assert run.exit_code != 0, args
        assert WORDS[kind] in run.stderr, (args, run.output)
    env = gpuplan("plan", "-H", "RTX 4090", env={"GPUPLAN_DEPLOYMENT_PROFILE": str(path)})
    assert env.exit_code == 0 and WORDS[kind] in env.output  # a warning, then auto-selection


def test_broken_files_in_profile_directories_warn_and_go_on(
    tmp_path: Path, gpuplan: Gpuplan, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = bad_profiles(tmp_path)
    user = tmp_path / "xdg" / "gpuplan" / "profiles"
    project = tmp_path / "proj" / "configs" / "deployment"
    user.mkdir(parents=True)
    project.mkdir(parents=True)
    (user / "self.yaml").write_text(paths["self-alias"].read_text())
    (project / "bomb.yaml").write_text(paths["alias-bomb"].read_text())
    monkeypatch.chdir(tmp_path / "proj")
    env = {"XDG_CONFIG_HOME": str(tmp_path / "xdg"), "COLUMNS": "200"}
    listed = gpuplan("profile", "list", env=env)
    assert listed.exit_code == 0
    plan = gpuplan("plan", "-H", "RTX 4090", env=env)
    assert plan.exit_code == 0
    assert "skipped a broken profile file" in plan.output
    assert "self.yaml" in plan.output and "bomb.yaml" in plan.output


def test_absurd_budget_is_refused(tmp_path: Path, gpuplan: Gpuplan) -> None:
    for value in ("99999999999999999999999", "99999999999999999"):
        path = tmp_path / "huge.toml"
        path.write_text(f'profile = "huge"\nmax_vram_mb = {value}\n')
        run = gpuplan("profile", "validate", str(path))
        assert run.exit_code == 1, value
        assert "max_vram_mb" in run.output or "too large" in run.output
        assert "Input should" not in run.output


def test_a_huge_profile_is_not_read(tmp_path: Path, gpuplan: Gpuplan) -> None:
    path = tmp_path / "big.toml"
    path.write_text('profile = "big"\n' + "# padding\n" * 2_000_000)
    run = gpuplan("profile", "validate", str(path))
    assert run.exit_code == 1 and "larger than 4 MiB" in run.output


def test_non_utf8_profile_says_how_to_fix(tmp_path: Path, gpuplan: Gpuplan) -> None:
    path = tmp_path / "latin.toml"
    path.write_bytes('profile = "latin"\ndescription = "caf\xe9"\n'.encode("latin-1"))
    run = gpuplan("profile", "validate", str(path))
    assert run.exit_code == 1
    assert "save it again as UTF-8" in run.output and "codec" not in run.output


def test_jargon_does_not_leak(tmp_path: Path, gpuplan: Gpuplan) -> None:
    path = tmp_path / "types.toml"
    path.write_text('profile = "types"\npreferred_quantizations = 3\n[engine]\ndevice = 5\n')
    run = gpuplan("profile", "validate", str(path))
    assert run.exit_code == 1
    assert "preferred_quantizations: must be a list (got 3)" in run.output
    assert "Input should" not in run.output and "tuple" not in run.output
