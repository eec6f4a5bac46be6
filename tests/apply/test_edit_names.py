"""Seed 004's PUT names services the same way a services file must (Compose's rule)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gpuplan.apply.edit import RequestedAssignment


@pytest.mark.parametrize("name", ["../../pwned", "/tmp/abs", "a\ntouch INJ3 #", "x" * 64])
def test_put_refuses_names_that_are_not_compose_service_names(name: str) -> None:
    with pytest.raises(ValidationError):
        RequestedAssignment(service=name)


def test_put_accepts_compose_names() -> None:
    assert RequestedAssignment(service="ai-llm.v2_x").service == "ai-llm.v2_x"


@pytest.mark.parametrize(
    "fields",
    [{"gpu_index": 71584663382968345981728877870841856}, {"gpu_indices": [0, -5]}],
)
def test_put_refuses_gpu_indices_no_host_has(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        RequestedAssignment.model_validate({"service": "ai-llm", **fields})
