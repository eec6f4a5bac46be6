"""The user's base Compose file: which services it defines (apply validates against it)."""

from __future__ import annotations

from pathlib import Path

import yaml

from gpuplan.errors import ComposeFileError

__all__ = ["check_services", "compose_services"]


def compose_services(path: Path) -> tuple[str, ...]:
    """Service names in ``path``, in file order."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ComposeFileError(
            f"Compose file {path} does not exist",
            hint="pass your docker-compose.yml with --compose-file (or GPUPLAN_COMPOSE_FILE)",
        ) from None
    except OSError as error:
        raise ComposeFileError(f"cannot read Compose file {path}: {error.strerror}") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ComposeFileError(
            f"Compose file {path} is not valid YAML{where}",
            hint="`docker compose config` shows what is wrong",
        ) from None
    services = document.get("services") if isinstance(document, dict) else None
    if not isinstance(services, dict) or not services:
        raise ComposeFileError(
            f"Compose file {path} has no services",
            hint="it needs a top-level 'services:' mapping naming your containers",
        )
    return tuple(str(name) for name in services)


def check_services(path: Path, names: list[str] | tuple[str, ...]) -> None:
    """Every name must be a service of the base file; otherwise say which and what exists."""
    known = set(compose_services(path))
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ComposeFileError(
            f"service {', '.join(repr(n) for n in unknown)} is not in {path}",
            hint="its services are " + ", ".join(sorted(known)) + "; rename it in the services "
            "file to match",
        )
