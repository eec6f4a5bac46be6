"""Where profiles come from: built-ins, directories, pyproject.toml, a path.

Each source turns files into ``ProfileEntry`` records: the raw values as written,
the line of every key (for provenance), and the problems found. A broken file is
an entry too (its name is the file stem), so ``profile list`` can show it and only
*selecting* it is an error; one bad file never hides the good ones.

Entries are checked field by field here (types, allowed values, unknown keys)
but not for contradictions between fields: a pyproject table may change one
value of a built-in, and only the merged profile can be judged as a whole.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from gpuplan.documents import (
    DocumentReadError,
    DocumentSyntaxError,
    Format,
    format_of,
    parse_document,
    read_text,
)
from gpuplan.problems import describe
from gpuplan.profiles.lines import KeyPath, key_lines
from gpuplan.profiles.model import (
    ENGINE_FIELDS,
    PROFILE_FIELDS,
    DeploymentProfile,
    Issue,
    SemanticError,
)

SourceKind = Literal["builtin", "user", "project", "pyproject", "path"]
"""Kinds of profile source, lowest priority first (see ``SOURCE_ORDER``)."""

SOURCE_ORDER: tuple[SourceKind, ...] = ("builtin", "user", "project", "pyproject", "path")
"""When several sources define the same name, later ones override earlier ones field
by field: the user's directory refines a built-in, the project refines the user's,
and a file named on the command line has the last word."""

SOURCE_LABELS: dict[SourceKind, str] = {
    "builtin": "built-in profile",
    "user": "user profile",
    "project": "project profile",
    "pyproject": "pyproject.toml",
    "path": "profile file",
}

PYPROJECT_TABLE: KeyPath = ("tool", "gpuplan", "deployment_profiles")
BUILTIN_PREFIX = "gpuplan/profiles/data"
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_SYNONYMS = {"name": "profile", "id": "profile", "engine_settings": "engine"}


@dataclass(frozen=True)
class ProfileEntry:
    """One definition of one profile in one file."""

    name: str
    kind: SourceKind
    file: str
    data: Mapping[str, Any] = field(default_factory=dict)
    lines: Mapping[KeyPath, int] = field(default_factory=dict)
    issues: tuple[Issue, ...] = ()

    @property
    def broken(self) -> bool:
        return any(issue.severity == "error" for issue in self.issues)

    @property
    def label(self) -> str:
        return f"{SOURCE_LABELS[self.kind]} {self.name}"

    def line_of(self, path: KeyPath) -> int | None:
        """Line of ``path`` or of its nearest written parent."""
        for depth in range(len(path), 0, -1):
            if path[:depth] in self.lines:
                return self.lines[path[:depth]]
        return None


def parse_text(text: str, fmt: Format, file: str) -> tuple[Any, Issue | None]:
    """Parse ``text``; a syntax error becomes an ``Issue`` with its line, never an exception."""
    try:
        return parse_document(text, fmt), None
    except DocumentSyntaxError as error:
        issue = _syntax_issue(file, error.kind, error.message, error.line, error.column)
        if error.fix is not None:
            issue = issue.model_copy(update={"problem": f"{kind_problem(error)}", "fix": error.fix})
        return None, issue


def kind_problem(error: DocumentSyntaxError) -> str:
    """'YAML holds a value that contains itself': a limit broken, not a typo on one line."""
    return f"{error.kind} {error.message}"


def _syntax_issue(file: str, kind: str, message: str, line: int | None, col: int | None) -> Issue:
    where = f" at column {col}" if col is not None else ""
    return Issue(
        field="(syntax)",
        problem=f"invalid {kind}{where}: {message}",
        fix=f"correct the {kind} syntax on that line",
        file=file,
        line=line,
    )


def check_data(
    data: Any,
    *,
    file: str,
    lines: Mapping[KeyPath, int],
    partial: bool,
) -> tuple[DeploymentProfile | None, list[Issue]]:
    """Validate one profile's raw values; return the model (if valid) and every issue."""
    if not isinstance(data, Mapping):
        return None, [
            Issue(
                field="(top level)",
                problem=f"a profile must be a table/object of fields, got {type(data).__name__}",
                fix='write fields such as {"profile": "...", "engine": {...}}',
                file=file,
                line=1,
            )
        ]
    issues = unknown_engine_keys(data, file=file, lines=lines)
    try:
        profile = DeploymentProfile.model_validate(dict(data), context={"partial": partial})
    except ValidationError as error:
        return None, issues + issues_from_validation(error, file=file, lines=lines)
    return profile, issues


def unknown_engine_keys(
    data: Mapping[str, Any], *, file: str, lines: Mapping[KeyPath, int]
) -> list[Issue]:
    """Seed 002: unknown engine keys are kept for forward compatibility, but said aloud."""
    engine = data.get("engine")
    if not isinstance(engine, Mapping):
        return []
    issues = []
    for key in engine:
        if key in ENGINE_FIELDS:
            continue
        near = difflib.get_close_matches(str(key), ENGINE_FIELDS, n=1)
        issues.append(
            Issue(
                field=f"engine.{key}",
                problem="not an engine setting gpuplan knows; kept and passed to the engine as is",
                fix=f"did you mean {near[0]!r}?" if near else "remove it if the engine lacks it",
                file=file,
                line=lines.get(("engine", str(key))),
                severity="warning",
            )
        )
    return issues


def issues_from_validation(
    error: ValidationError, *, file: str, lines: Mapping[KeyPath, int]
) -> list[Issue]:
    """Turn pydantic's errors into issues that name the field, the line and the fix."""
    issues: list[Issue] = []
    for detail in error.errors():
        ctx = detail.get("ctx") or {}
        cause = ctx.get("error")
        if isinstance(cause, SemanticError):
            for issue in cause.issues:
                path = tuple(issue.field.split("."))
                issues.append(issue.model_copy(update={"file": file, "line": _line(lines, path)}))
            continue
        path = tuple(str(part) for part in detail["loc"] if part != "[key]")
        dotted = ".".join(path) or "(top level)"
        kind = detail["type"]
        if kind == "extra_forbidden":
            known = PROFILE_FIELDS if len(path) == 1 else ()
            near = _SYNONYMS.get(path[-1]) or next(
                iter(difflib.get_close_matches(path[-1], known, n=1, cutoff=0.6)), None
            )
            issues.append(
                Issue(
                    field=dotted,
                    problem="unknown field",
                    fix=f"did you mean {near!r}?"
                    if near
                    else f"remove it; fields are: {', '.join(PROFILE_FIELDS)}",
                    file=file,
                    line=_line(lines, path),
                )
            )
            continue
        field, problem = describe(detail)
        issues.append(
            Issue(
                field=field or "(top level)",
                problem=problem,
                fix=_fix_for(kind, ctx, path),
                file=file,
                line=_line(lines, path),
            )
        )
    return issues


def _line(lines: Mapping[KeyPath, int], path: KeyPath) -> int | None:
    for depth in range(len(path), 0, -1):
        if path[:depth] in lines:
            return lines[path[:depth]]
    return None


def _fix_for(kind: str, ctx: Mapping[str, Any], path: KeyPath) -> str:
    if kind == "literal_error":
        return f"use one of {ctx.get('expected')}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return "write a whole number without quotes, e.g. 14000"
    if kind == "bool_type":
        return "write true or false without quotes"
    if kind in ("string_type", "string_pattern_mismatch"):
        return "write a quoted name of letters, digits, '_', '-' or '.'"
    if kind in ("tuple_type", "list_type"):
        return 'write a list, e.g. ["fp8", "q4_k_m"]'
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"write {'.'.join(path)} as a table/object of settings"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        bound = next(iter(ctx.values()), None)
        word = "at least" if kind.startswith("greater") else "at most"
        return f"use a value {word} {bound}"
    return "see `gpuplan profile schema` for the allowed values"


def entry_from_data(
    data: Any,
    *,
    name: str,
    kind: SourceKind,
    file: str,
    lines: Mapping[KeyPath, int],
    extra_issues: Iterable[Issue] = (),
) -> ProfileEntry:
    _, issues = check_data(data, file=file, lines=lines, partial=True)
    issues = [*extra_issues, *issues]
    written = data.get("profile") if isinstance(data, Mapping) else None
    if isinstance(written, str) and written != name:
        issues.append(
            Issue(
                field="profile",
                problem=f"says {written!r} but the profile is named {name!r} here",
                fix=f"set profile = {name!r} or rename the table/file",
                file=file,
                line=lines.get(("profile",)),
                severity="warning",
            )
        )
    clean = dict(data) if isinstance(data, Mapping) else {}
    clean.pop("profile", None)
    return ProfileEntry(name, kind, file, clean, dict(lines), tuple(issues))


def read_profile_file(path: Path, kind: SourceKind) -> ProfileEntry:
    """One profile per file (seed 002): named by its ``profile`` value, else the file stem."""
    file = str(path)
    fmt = format_of(path)
    if fmt is None:
        issue = Issue(
            field="(file)",
            problem=f"unsupported file type {path.suffix!r}",
            fix="use .json, .toml, .yaml or .yml",
            file=file,
        )
        return ProfileEntry(path.stem, kind, file, issues=(issue,))
    try:
        text = read_text(path)
    except DocumentReadError as error:
        issue = Issue(field="(file)", problem=error.problem, fix=error.hint, file=file)
        return ProfileEntry(path.stem, kind, file, issues=(issue,))
    data, syntax = parse_text(text, fmt, file)
    if syntax is not None:
        return ProfileEntry(path.stem, kind, file, issues=(syntax,))
    written = data.get("profile") if isinstance(data, Mapping) else None
    name = written if isinstance(written, str) and _NAME.match(written) else path.stem
    return entry_from_data(data, name=name, kind=kind, file=file, lines=key_lines(text, fmt))


def read_directory(directory: Path, kind: SourceKind) -> list[ProfileEntry]:
    """Every profile file in ``directory`` (not recursive), sorted by name for stable output."""
    if not directory.is_dir():
        return []
    return [
        read_profile_file(path, kind)
        for path in sorted(directory.iterdir())
        if path.is_file() and format_of(path) is not None
    ]


def read_table_file(path: Path, table: KeyPath, kind: SourceKind) -> list[ProfileEntry]:
    """Profiles kept as TOML tables under ``table`` (pyproject.toml; the built-in file)."""
    file = str(path)
    try:
        text = read_text(path)
    except DocumentReadError as error:
        issue = Issue(field="(file)", problem=error.problem, fix=error.hint, file=file)
        return [ProfileEntry(path.stem, kind, file, issues=(issue,))]
    data, syntax = parse_text(text, "toml", file)
    if syntax is not None:
        return [ProfileEntry(path.stem, kind, file, issues=(syntax,))]
    node: Any = data
    for part in table:
        node = node.get(part) if isinstance(node, Mapping) else None
    if node is None:
        return []
    all_lines = key_lines(text, "toml")
    if not isinstance(node, Mapping):
        issue = Issue(
            field=".".join(table),
            problem="must be a table of profiles",
            fix=f"write [{'.'.join(table)}.<name>] tables",
            file=file,
            line=all_lines.get(table),
        )
        return [ProfileEntry(path.stem, kind, file, issues=(issue,))]
    entries = []
    for name, body in node.items():
        prefix = (*table, name)
        lines = {k[len(prefix) :]: v for k, v in all_lines.items() if k[: len(prefix)] == prefix}
        extra: list[Issue] = []
        if not _NAME.match(name):
            extra.append(
                Issue(
                    field=name,
                    problem="profile names may hold only letters, digits, '_', '-' and '.'",
                    fix="rename the table",
                    file=file,
                    line=lines.get(()),
                )
            )
        entries.append(
            entry_from_data(body, name=name, kind=kind, file=file, lines=lines, extra_issues=extra)
        )
    return entries


def builtin_entries() -> list[ProfileEntry]:
    """The packaged profiles: seed 000's five (TOML tables) and seed 002's six (JSON files)."""
    data = Path(str(resources.files("gpuplan.profiles") / "data"))
    entries = read_table_file(data / "profiles.toml", ("deployment_profiles",), "builtin")
    entries += read_directory(data / "deployment", "builtin")
    return [_package_relative(entry, data) for entry in entries]


def _package_relative(entry: ProfileEntry, data: Path) -> ProfileEntry:
    """Name packaged files as 'gpuplan/profiles/data/…': the same on every machine."""
    relative = Path(entry.file).relative_to(data).as_posix()
    file = f"{BUILTIN_PREFIX}/{relative}"
    issues = tuple(i.model_copy(update={"file": file}) for i in entry.issues)
    return ProfileEntry(entry.name, entry.kind, file, entry.data, entry.lines, issues)
