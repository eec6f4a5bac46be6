"""What the serving proxy's own routes answer (``/v1/models``, ``/api/serving/status``).

``/v1/models`` keeps OpenAI's model-list shape (``object``, ``data``, ``id``,
``owned_by``) so OpenAI clients list the services; ``aliases`` and ``loaded`` are
gpuplan's additions, which those clients ignore.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gpuplan.serving.model import StatusEntry

__all__ = ["ModelCard", "ModelList", "ServingStatus"]


class _Answer(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ModelCard(_Answer):
    """One service as an OpenAI model object."""

    id: str = Field(description="Service name: what a request's ``model`` names.")
    object: Literal["model"] = Field(description="OpenAI's object type.")
    created: int = Field(description="When the proxy started, Unix seconds.")
    owned_by: str = Field(description="Always 'gpuplan'.")
    aliases: list[str] = Field(description="Other names a request may use for it.")
    loaded: bool = Field(description="Its backend is running now.")


class ModelList(_Answer):
    """``GET /v1/models``: every service the proxy can serve, loaded or not."""

    object: Literal["list"] = Field(description="OpenAI's object type.")
    data: list[ModelCard] = Field(description="One per service.")


class ServingStatus(_Answer):
    """``GET /api/serving/status``: what is loaded, where, and the proxy's bounds."""

    strategy: str = Field(description="Serving strategy of the active profile.")
    max_concurrent_models: int = Field(description="Models that may be loaded at once.")
    budget_mb: int | None = Field(description="Memory all backends may use, MiB; null = no cap.")
    gpu_usable_mb: dict[str, int] = Field(description="GPU index → usable memory, MiB.")
    queue_depth: int = Field(description="Requests waiting for a model to load.")
    queue_limit: int = Field(description="Waiting requests beyond which the proxy answers 503.")
    services: list[StatusEntry] = Field(description="Each loaded service.")
    available: list[str] = Field(description="Every service name it can load.")
    last_errors: dict[str, str] = Field(description="Service → why its last start failed.")
