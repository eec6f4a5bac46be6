"""Tuning profiles: seed 003's six built-ins, and custom ones from code or files.

A profile is named metadata plus a list of ``ConfigLayer``s applied in order after the
base, deployment-mode and runtime layers. Built-ins are registered like plugins into a
``ProfileRegistry``; users add their own with ``register`` (code) or
``load_profile_file`` (a TOML/JSON/YAML file with ``name``, ``description``, …,
``layers = [{name, data}]`` or a single ``data`` table). Parameters may be written in any
runtime's flag names: the factory translates them to the task's runtime.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gpuplan.errors import TuningConfigError, TuningProfileNotFoundError

__all__ = [
    "BUILTIN_PROFILES",
    "ConfigLayer",
    "ProfileMetadata",
    "ProfileRegistry",
    "TuningProfile",
    "default_registry",
    "load_profile_file",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ConfigLayer(_Frozen):
    """One named set of values merged into the task config."""

    name: str = Field(description="Layer name, recorded in provenance and ``layer_names``.")
    data: dict[str, Any] = Field(description="Nested values, laid out as ``generated_config``.")


class ProfileMetadata(_Frozen):
    """What ``GET /api/profiles/`` lists about a profile (seed 003's fields)."""

    name: str
    description: str
    use_case: str
    tags: list[str] = Field(default_factory=list)
    recommended_for: list[str] = Field(default_factory=list)


class TuningProfile(_Frozen):
    """A profile: metadata and its layers."""

    metadata: ProfileMetadata
    layers: tuple[ConfigLayer, ...]
    source: str = Field(default="built-in", description="'built-in', 'code' or the file path.")

    @property
    def name(self) -> str:
        return self.metadata.name

    def summary(self, *, details: bool = False) -> dict[str, Any]:
        """Seed 003's list item (``layers_count``) or detail (``layer_names`` too)."""
        body: dict[str, Any] = {**self.metadata.model_dump(), "layers_count": len(self.layers)}
        if details:
            body["layer_names"] = [layer.name for layer in self.layers]
        return body


def _profile(
    name: str,
    description: str,
    use_case: str,
    tags: list[str],
    recommended_for: list[str],
    data: dict[str, Any],
) -> TuningProfile:
    return TuningProfile(
        metadata=ProfileMetadata(
            name=name,
            description=description,
            use_case=use_case,
            tags=tags,
            recommended_for=recommended_for,
        ),
        layers=(ConfigLayer(name=f"{name}-params", data=data),),
    )


# Seed 003's values, exactly; parameter names in SGLang's words as the seed writes them.
BUILTIN_PROFILES: tuple[TuningProfile, ...] = (
    _profile(
        "quick-test",
        "Fast validation with minimal experiments for development and testing",
        "Development and debugging, smoke testing, CI/CD pipelines",
        ["quick", "testing", "development"],
        ["development", "smoke-test", "ci"],
        {
            "optimization": {"max_iterations": 2},
            "parameters": {"tp-size": [1], "mem-fraction-static": [0.85]},
            "benchmark": {"num_concurrency": [1], "traffic_scenarios": ["D(100,100)"]},
        },
    ),
    _profile(
        "balanced",
        "Balanced configuration exploring common parameter ranges",
        "General purpose testing, exploring parameter space",
        ["balanced", "general", "exploration"],
        ["general", "exploration", "baseline"],
        {
            "optimization": {"max_iterations": 15, "timeout_per_iteration": 600},
            "parameters": {"tp-size": [1, 2, 4], "mem-fraction-static": [0.8, 0.85, 0.9]},
            "benchmark": {"num_concurrency": [4, 8, 16]},
        },
    ),
    _profile(
        "low-latency",
        "Minimize response latency for real-time interactive workloads",
        "Chatbots, real-time applications, interactive single-user services",
        ["latency", "interactive", "real-time"],
        ["interactive", "chatbot", "single-gpu"],
        {
            "optimization": {"objective": "minimize_latency", "max_iterations": 15},
            "parameters": {"tp-size": [1, 2], "mem-fraction-static": [0.7, 0.8]},
            "benchmark": {"num_concurrency": [1, 4, 8]},
        },
    ),
    _profile(
        "high-throughput",
        "Maximize request throughput with high concurrency testing",
        "Batch processing, high-traffic multi-user workloads",
        ["throughput", "batch", "high-concurrency"],
        ["batch", "high-traffic", "multi-gpu"],
        {
            "optimization": {"objective": "maximize_throughput", "max_iterations": 20},
            "parameters": {"tp-size": [4, 8], "mem-fraction-static": [0.95]},
            "benchmark": {"num_concurrency": [16, 32, 64]},
        },
    ),
    _profile(
        "cost-optimization",
        "Balance performance with minimal resource usage and cost",
        "Budget-conscious and resource-constrained deployments",
        ["cost", "efficiency", "budget"],
        ["development", "startup", "single-gpu"],
        {
            "optimization": {"objective": "minimize_latency", "max_iterations": 12},
            "parameters": {"tp-size": [1, 2], "mem-fraction-static": [0.75, 0.85]},
            "benchmark": {"num_concurrency": [4, 8, 16]},
        },
    ),
    _profile(
        "production",
        "Comprehensive testing with SLO constraints for production deployment",
        "Production readiness, SLO validation, pre-deployment checks",
        ["production", "slo", "comprehensive"],
        ["production", "slo-critical"],
        {
            "optimization": {"max_iterations": 30, "timeout_per_iteration": 900},
            "slo": {
                "ttft": {"threshold": 1.0, "weight": 2.0},
                "tpot": {"threshold": 0.05, "weight": 2.0},
                "latency": {
                    "p90": {"threshold": 5.0, "weight": 3.0, "hard_fail": True, "fail_ratio": 0.2}
                },
            },
        },
    ),
)


class ProfileRegistry:
    """Profiles by name; built-ins first, later registrations replace a name."""

    def __init__(self, profiles: Sequence[TuningProfile] = ()) -> None:
        self._profiles: dict[str, TuningProfile] = {}
        for profile in profiles:
            self.add(profile)

    def add(self, profile: TuningProfile) -> None:
        self._profiles[profile.name] = profile

    def register(
        self,
        name: str,
        layers: Sequence[ConfigLayer],
        metadata: ProfileMetadata | None = None,
    ) -> TuningProfile:
        """Seed 003's ``TaskConfigFactory.register_profile(name, layers, metadata)``."""
        meta = metadata or ProfileMetadata(name=name, description=name, use_case="custom")
        if meta.name != name:
            meta = meta.model_copy(update={"name": name})
        profile = TuningProfile(metadata=meta, layers=tuple(layers), source="code")
        self.add(profile)
        return profile

    def get(self, name: str) -> TuningProfile | None:
        return self._profiles.get(name)

    def require(self, name: str) -> TuningProfile:
        profile = self.get(name)
        if profile is None:
            raise TuningProfileNotFoundError(
                f"unknown tuning profile {name!r}",
                hint="known: " + ", ".join(self.names()),
            )
        return profile

    def names(self) -> list[str]:
        return list(self._profiles)

    def __iter__(self) -> Iterator[TuningProfile]:
        return iter(self._profiles.values())

    def __contains__(self, name: object) -> bool:
        return name in self._profiles

    def copy(self) -> ProfileRegistry:
        return ProfileRegistry(list(self._profiles.values()))


def default_registry() -> ProfileRegistry:
    """A fresh registry holding the built-ins (callers may add to it freely)."""
    return ProfileRegistry(BUILTIN_PROFILES)


def load_profile_file(path: Path) -> TuningProfile:
    """A custom profile from TOML, JSON or YAML; errors name the file and the field."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TuningConfigError(
            f"tuning profile file {path}: cannot be read ({exc.strerror})",
            hint="check the path",
        ) from exc
    raw = _parse(path, text)
    if not isinstance(raw, Mapping):
        raise TuningConfigError(f"tuning profile file {path}: expected a table at the top")
    layers_raw = raw.get("layers")
    if layers_raw is None:
        data = raw.get("data", {})
        layers_raw = [{"name": f"{raw.get('name', path.stem)}-params", "data": data}]
    meta_raw = {k: v for k, v in raw.items() if k not in {"layers", "data"}}
    meta_raw.setdefault("name", path.stem)
    meta_raw.setdefault("description", f"custom profile from {path.name}")
    meta_raw.setdefault("use_case", "custom")
    where_prefix = ""
    try:
        metadata = ProfileMetadata.model_validate(meta_raw)
        layers_list = []
        for index, layer in enumerate(layers_raw):
            where_prefix = f"layers.{index}."
            layers_list.append(ConfigLayer.model_validate(layer))
        layers = tuple(layers_list)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = where_prefix + ".".join(str(p) for p in first["loc"])
        raise TuningConfigError(
            f"tuning profile file {path}: {where}: {first['msg']}",
            hint="fields: name, description, use_case, tags, recommended_for, layers|data",
        ) from exc
    return TuningProfile(metadata=metadata, layers=layers, source=str(path))


def _parse(path: Path, text: str) -> Any:
    try:
        if path.suffix == ".toml":
            return tomllib.loads(text)
        if path.suffix in {".yaml", ".yml"}:
            import yaml

            try:
                return yaml.safe_load(text)
            except yaml.YAMLError as exc:
                raise ValueError(str(exc)) from exc
        return json.loads(text)
    except (tomllib.TOMLDecodeError, ValueError) as exc:
        raise TuningConfigError(
            f"tuning profile file {path}: not valid {path.suffix.lstrip('.') or 'JSON'} ({exc})"
        ) from exc
