"""Which service answers a request: by name, alias, model id, or role (``role:caption``).

Pure: it reads the service specs and, for roles, a ranking of model ids that the
role selector made under the active profile (seed 001), so ``role:caption``
means here exactly what ``GET /v1/models/select_by_role?role=caption`` answers.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

from gpuplan.errors import UnknownServiceError
from gpuplan.serving.model import ServiceSpec

__all__ = ["ROLE_PREFIX", "resolve_service"]

ROLE_PREFIX = "role:"


def resolve_service(
    requested: str,
    services: Sequence[ServiceSpec],
    *,
    ranked_models: Callable[[str], Sequence[str]] | None = None,
    loaded: Collection[str] = (),
) -> ServiceSpec:
    """The service for ``requested``; ``UnknownServiceError`` names what exists.

    Order: a service name, an alias, a model id a service serves, then a role:
    the role selector's best-ranked model that some service serves, else a
    service declaring that ``role`` (a loaded one first, then the highest
    ``priority``).
    """
    for spec in services:
        if requested == spec.name:
            return spec
    for spec in services:
        if requested in spec.aliases:
            return spec
    by_model = [spec for spec in services if requested in spec.served_models]
    if by_model:
        return _prefer_loaded(by_model, loaded)
    if requested.startswith(ROLE_PREFIX):
        role = requested[len(ROLE_PREFIX) :]
        found = _for_role(role, services, ranked_models, loaded)
        if found is not None:
            return found
        raise UnknownServiceError(
            f"no service serves role {role!r}",
            hint="give a service `role: " + role + "` or a `model` the role selector ranks "
            "for it (see `gpuplan select " + role + "`)",
        )
    names = ", ".join(spec.name for spec in services) or "none"
    raise UnknownServiceError(
        f"no service, alias or model named {requested!r}",
        hint=f"use one of: {names}; or 'role:NAME' to route by role",
    )


def _prefer_loaded(specs: Sequence[ServiceSpec], loaded: Collection[str]) -> ServiceSpec:
    for spec in specs:
        if spec.name in loaded:
            return spec
    return specs[0]


def _for_role(
    role: str,
    services: Sequence[ServiceSpec],
    ranked_models: Callable[[str], Sequence[str]] | None,
    loaded: Collection[str],
) -> ServiceSpec | None:
    if ranked_models is not None:
        for model_id in ranked_models(role):
            serving = [spec for spec in services if model_id in spec.served_models]
            if serving:
                return _prefer_loaded(serving, loaded)
    declared = [spec for spec in services if spec.role == role]
    if not declared:
        return None
    declared.sort(key=lambda s: (s.name not in loaded, -(s.priority or 0)))
    return declared[0]
