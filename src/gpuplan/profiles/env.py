"""The edge of the profile stage: the filesystem and the environment.

Finds the project (the nearest directory above the working directory that holds
a pyproject.toml; else the working directory itself), its ``configs/deployment/``
directory, the user's ``$XDG_CONFIG_HOME/gpuplan`` (``~/.config/gpuplan``), reads
the ``deployment_profile`` settings and the ``GPUPLAN_DEPLOYMENT_PROFILE``
variable, and hands the pure resolver plain data.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gpuplan.documents import (
    DocumentReadError,
    DocumentSyntaxError,
    format_of,
    parse_document,
    read_text,
)
from gpuplan.hardware.model import Host
from gpuplan.profiles.catalog import Catalog, Locations, load_catalog
from gpuplan.profiles.lines import toml_key_lines
from gpuplan.profiles.provenance import Origin
from gpuplan.profiles.resolve import (
    ENV_VAR,
    Choice,
    ChoiceSource,
    Override,
    ProfileRequest,
    Resolution,
    resolve,
)
from gpuplan.profiles.sources import ProfileEntry, read_profile_file

PROJECT_PROFILES_DIR = Path("configs") / "deployment"
SETTING = "deployment_profile"


def find_pyproject(start: Path) -> Path | None:
    """The nearest pyproject.toml in ``start`` or above it."""
    for directory in (start, *start.parents):
        candidate = directory / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def user_config_dir(environ: Mapping[str, str]) -> Path:
    """``$XDG_CONFIG_HOME/gpuplan`` when that is an absolute path, else ``~/.config/gpuplan``."""
    xdg = environ.get("XDG_CONFIG_HOME", "")
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "gpuplan"
    home = environ.get("HOME")
    base = Path(home) if home else Path.home()
    return base / ".config" / "gpuplan"


def discover(cwd: Path | None = None, environ: Mapping[str, str] | None = None) -> Locations:
    cwd = cwd or Path.cwd()
    environ = os.environ if environ is None else environ
    pyproject = find_pyproject(cwd)
    root = pyproject.parent if pyproject is not None else cwd
    user = user_config_dir(environ)
    return Locations(
        pyproject=pyproject,
        project_dir=root / PROJECT_PROFILES_DIR,
        user_dir=user / "profiles",
        user_config=user / "config.toml",
    )


def looks_like_path(value: str) -> bool:
    """A --profile value is a path when it has a separator, a ~, or a profile file suffix."""
    return (
        "/" in value
        or os.sep in value
        or value.startswith("~")
        or format_of(Path(value)) is not None
    )


def make_choice(source: ChoiceSource, value: str, origin: Origin, cwd: Path) -> Choice:
    path = None
    if looks_like_path(value):
        candidate = Path(value).expanduser()
        path = str(candidate if candidate.is_absolute() else (cwd / candidate))
    return Choice(source=source, value=value, origin=origin, path=path)


def _setting(
    file: Path | None, table: tuple[str, ...]
) -> tuple[str | None, int | None, str | None]:
    """The ``deployment_profile`` value under ``table`` of a TOML file, its line, or a problem."""
    if file is None or not file.is_file():
        return None, None, None
    try:
        text = read_text(file)
        data: Any = parse_document(text, "toml")
    except (DocumentReadError, DocumentSyntaxError) as error:
        return None, None, f"{file}: cannot read {SETTING}: {error}"
    for key in table:
        data = data.get(key) if isinstance(data, dict) else None
    value = data.get(SETTING) if isinstance(data, dict) else None
    if value is None:
        return None, None, None
    line = toml_key_lines(text).get((*table, SETTING))
    if not isinstance(value, str) or not value:
        return None, line, f"{file}:{line}: {SETTING} must be a profile name or path"
    return value, line, None


def build_request(
    flag: str | None = None,
    overrides: tuple[Override, ...] = (),
    *,
    locations: Locations,
    cwd: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> ProfileRequest:
    """Every source that may name a profile, read from flags, the environment and files."""
    cwd = cwd or Path.cwd()
    environ = os.environ if environ is None else environ
    choices: list[Choice] = []
    warnings: list[str] = []
    if flag:
        choices.append(make_choice("flag", flag, Origin(kind="flag", label="--profile"), cwd))
    env_value = environ.get(ENV_VAR, "").strip()
    if env_value:
        origin = Origin(kind="env", label=f"${ENV_VAR}")
        choices.append(make_choice("env", env_value, origin, cwd))
    settings: tuple[tuple[ChoiceSource, Path | None, tuple[str, ...]], ...] = (
        ("project_config", locations.pyproject, ("tool", "gpuplan")),
        ("user_config", locations.user_config, ()),
    )
    for source, file, table in settings:
        value, line, problem = _setting(file, table)
        if problem:
            warnings.append(problem)
        if value is not None and file is not None:
            where = f"[{'.'.join(table)}] " if table else ""
            origin = Origin(
                kind="config", label=f"{where}{SETTING} in {file.name}", file=str(file), line=line
            )
            base = file.parent
            choices.append(make_choice(source, value, origin, base))
    return ProfileRequest(tuple(choices), overrides, tuple(warnings))


def path_entries(request: ProfileRequest) -> list[ProfileEntry]:
    """Read each profile file a choice points at (a missing one is reported by resolve)."""
    entries = []
    for choice in request.choices:
        if choice.path is not None and Path(choice.path).is_file():
            entries.append(read_profile_file(Path(choice.path), "path"))
    return entries


def flag_overrides(
    values: Mapping[str, Any], flags: Mapping[str, str] | None = None
) -> tuple[Override, ...]:
    """Explicit flags as overrides; ``None`` means the flag was not given.

    Keys are field paths ('engine.tensor_parallel_size', 'max_vram_mb'); the flag
    named in provenance is ``flags[key]`` when the command's flag has another name
    (``--bias`` sets model_selection_bias), else the last part with dashes.
    """
    flags = flags or {}
    return tuple(
        Override(
            field=key,
            value=value,
            origin=Origin(
                kind="flag",
                label=flags.get(key) or "--" + key.rsplit(".", 1)[-1].replace("_", "-"),
            ),
        )
        for key, value in values.items()
        if value is not None
    )


def resolve_here(
    host: Host,
    flag: str | None = None,
    overrides: tuple[Override, ...] = (),
    *,
    cwd: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> tuple[Resolution, Catalog]:
    """Resolve the active profile for ``host`` from this directory and environment."""
    cwd = cwd or Path.cwd()
    locations = discover(cwd, environ)
    request = build_request(flag, overrides, locations=locations, cwd=cwd, environ=environ)
    catalog = load_catalog(locations).with_entries(path_entries(request))
    return resolve(host, catalog, request), catalog
