"""``gpuplan profile validate``: every problem in a profile file, with its fix.

A file is checked as resolution would use it: each profile it defines is merged
over the built-in of the same name (a pyproject table may change one value of a
built-in) and then judged as a whole, so contradictions are caught here and not
at launch. Syntax errors, wrong types, unknown fields and contradictory engine
settings all become ``Issue`` records naming file, line, field and fix; nothing
here raises.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from gpuplan.hardware.model import Host
from gpuplan.profiles.catalog import Catalog
from gpuplan.profiles.checks import engine_warnings
from gpuplan.profiles.layers import entry_layers, usable_with
from gpuplan.profiles.model import DeploymentProfile, Issue
from gpuplan.profiles.provenance import merge_layers
from gpuplan.profiles.rules import load_rules, measure
from gpuplan.profiles.sources import (
    PYPROJECT_TABLE,
    ProfileEntry,
    builtin_entries,
    issues_from_validation,
    read_profile_file,
    read_table_file,
)


class FileReport(BaseModel):
    """What ``validate`` found in one file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    file: str
    profiles: tuple[str, ...]
    issues: tuple[Issue, ...]

    @property
    def ok(self) -> bool:
        return not any(issue.severity == "error" for issue in self.issues)


def read_entries(path: Path) -> list[ProfileEntry]:
    if path.name == "pyproject.toml":
        return read_table_file(path, PYPROJECT_TABLE, "pyproject")
    return [read_profile_file(path, "path")]


def validate_file(
    path: Path, *, host: Host | None = None, base: Catalog | None = None
) -> FileReport:
    """Check ``path`` (a profile file or a pyproject.toml); ``host`` adds fit warnings."""
    file = str(path)
    if not path.is_file():
        issue = Issue(
            field="(file)",
            problem="no such file",
            fix="check the path",
            file=file,
        )
        return FileReport(file=file, profiles=(), issues=(issue,))
    entries = read_entries(path)
    base = base or Catalog(tuple(builtin_entries()))
    issues: list[Issue] = []
    if not entries:
        issues.append(
            Issue(
                field=".".join(PYPROJECT_TABLE),
                problem="no deployment profiles in this file",
                fix="add [tool.gpuplan.deployment_profiles.<name>] tables",
                file=file,
                severity="warning",
            )
        )
    for entry in entries:
        issues += entry.issues
        if not entry.broken:
            issues += _whole(entry, base, host)
    return FileReport(file=file, profiles=tuple(e.name for e in entries), issues=tuple(issues))


def _whole(entry: ProfileEntry, base: Catalog, host: Host | None) -> list[Issue]:
    """Contradictions of the profile as resolution would see it."""
    below = [e for e in base.layers(entry.name) if not e.broken and e.file != entry.file]
    merged, provenance = merge_layers(entry_layers([*below, entry]))
    try:
        profile = DeploymentProfile.model_validate(merged)
    except ValidationError as error:
        found = []
        for issue in issues_from_validation(error, file=entry.file, lines=entry.lines):
            origin = provenance.get(issue.field)
            if origin is not None and origin.origin.file != entry.file:
                issue = issue.model_copy(
                    update={"file": origin.origin.file, "line": origin.origin.line}
                )
            found.append(issue)
        return found
    if host is None:
        return []
    warnings = []
    usable = usable_with(host, profile.headroom_mb or host.headroom_mb_per_gpu)
    if host.gpus and profile.max_vram_mb is not None and profile.max_vram_mb > usable:
        warnings.append(
            Issue(
                field="max_vram_mb",
                problem=f"{profile.max_vram_mb} MiB may exceed available VRAM ({usable} MiB "
                f"usable on {host.summary()})",
                fix=f"lower max_vram_mb to {usable} or less, or remove it to use all usable VRAM",
                file=entry.file,
                line=entry.line_of(("max_vram_mb",)),
                severity="warning",
            )
        )
    facts = measure(host, load_rules().capabilities)
    for text in engine_warnings(profile.engine, host, facts):
        field = text.split(" ", 1)[0]
        warnings.append(
            Issue(
                field=field,
                problem=text.split(" ", 1)[1],
                fix="adjust it for this hardware",
                file=entry.file,
                line=entry.line_of(tuple(field.split("."))),
                severity="warning",
            )
        )
    return warnings
