"""Reading the serving entries of a services file (``--services``, ``$GPUPLAN_SERVICES``).

The file is seed 004's services list — ``services:`` as a list of entries, or a
mapping from name to entry — in YAML, TOML or JSON; each entry may add the
serving fields ``cmd``, ``health``, ``env``, ``aliases``, ``pinned``,
``grace_period_seconds``, ``autostart_timeout_seconds`` and ``priority``
(see ``ServiceSpec``). Errors name the file, the entry and the field.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from gpuplan.documents import DocumentSyntaxError, format_of, parse_document
from gpuplan.errors import ServicesFileError
from gpuplan.serving.model import ServicesDocument, ServiceSpec

__all__ = [
    "SERVICES_ENV",
    "load_serving_services",
    "parse_serving_services",
    "proxied_services",
    "unproxied_warning",
]

SERVICES_ENV = "GPUPLAN_SERVICES"


def load_serving_services(path: str | Path) -> tuple[ServiceSpec, ...]:
    """The services in the file at ``path``."""
    file = Path(path)
    fmt = format_of(file)
    if fmt is None:
        raise ServicesFileError(
            f"services file {file} is not YAML, TOML or JSON",
            hint="name it *.yaml, *.yml, *.toml or *.json",
        )
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ServicesFileError(
            f"services file {file} does not exist", hint="check --services / $GPUPLAN_SERVICES"
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise ServicesFileError(f"cannot read services file {file}: {reason}") from None
    try:
        data = parse_document(text, fmt)
    except DocumentSyntaxError as error:
        raise ServicesFileError(f"{file}: {error}", hint="fix the syntax on that line") from None
    return parse_serving_services(data, origin=str(file))


def parse_serving_services(data: object, *, origin: str) -> tuple[ServiceSpec, ...]:
    """Validate a parsed services document; duplicate names and aliases are errors."""
    if not isinstance(data, dict) or "services" not in data:
        raise ServicesFileError(
            f"{origin}: no 'services' list", hint="start the file with 'services:' and list them"
        )
    raw = data["services"]
    if isinstance(raw, dict):
        raw = [{"name": name, **(entry or {})} for name, entry in raw.items()]
    try:
        document = ServicesDocument.model_validate({"services": raw})
    except ValidationError as error:
        first = error.errors()[0]
        where = _where(first["loc"], raw)
        raise ServicesFileError(
            f"{origin}: {where}: {first['msg']}",
            hint="see `gpuplan serve --help` and the README's Serving section for the fields",
        ) from None
    seen: dict[str, str] = {}
    for spec in document.services:
        for name in spec.names:
            if name in seen:
                raise ServicesFileError(
                    f"{origin}: name {name!r} is used by both {seen[name]!r} and {spec.name!r}",
                    hint="give every service and alias a unique name",
                )
            seen[name] = spec.name
    return document.services


def _where(loc: tuple[int | str, ...], raw: object) -> str:
    parts = list(loc[1:])
    if parts and isinstance(parts[0], int) and isinstance(raw, list) and parts[0] < len(raw):
        entry = raw[parts[0]]
        label = entry.get("name") if isinstance(entry, dict) else None
        head = f"services[{parts[0]}]" + (f" ({label})" if label else "")
        rest = ".".join(str(p) for p in parts[1:])
        return head + (f".{rest}" if rest else "")
    return ".".join(str(p) for p in loc) or "services"


def proxied_services(specs: tuple[ServiceSpec, ...]) -> tuple[ServiceSpec, ...]:
    """The services the proxy serves: those it can start (``ServiceSpec.runnable``).

    The others (containers Compose runs, say) stay in the file for placement and
    the GPU-config routes; the proxy lists them nowhere.
    """
    return tuple(spec for spec in specs if spec.runnable)


def unproxied_warning(specs: tuple[ServiceSpec, ...]) -> str | None:
    """One line naming the services the proxy leaves out, or None when it serves all."""
    left = [spec.name for spec in specs if not spec.runnable]
    if not left:
        return None
    listed = ", ".join(left)
    return (
        f"not proxied at /v1 (no cmd, and no engine and model to render one): {listed}; "
        "they are still placed and managed through /api/system/gpu-config"
    )
