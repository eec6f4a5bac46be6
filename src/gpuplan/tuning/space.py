"""The parameter space: traffic scenarios, the grid, and which points fit ``max_iterations``.

A grid larger than ``max_iterations`` is sampled *evenly* — indices spread from the first
point to the last — instead of keeping its first points, which (the origin's bug) tries
every value of the last flag and only the first value of the others. Random search
samples without replacement from a seeded generator.
"""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from gpuplan.errors import TuningConfigError
from gpuplan.tuning.model import ParamValue

__all__ = [
    "Params",
    "Traffic",
    "even_indices",
    "grid",
    "grid_points",
    "params_key",
    "parse_traffic",
    "random_points",
]

Params = dict[str, ParamValue]

_DETERMINISTIC = re.compile(r"^\s*D\(\s*(\d+)\s*,\s*(\d+)\s*\)\s*$")


@dataclass(frozen=True)
class Traffic:
    """``D(in,out)``: every request has ``input_tokens`` in and ``output_tokens`` out."""

    scenario: str
    input_tokens: int
    output_tokens: int


def parse_traffic(scenario: str) -> Traffic:
    match = _DETERMINISTIC.match(scenario)
    if not match:
        raise TuningConfigError(
            f"traffic scenario {scenario!r} is not understood",
            hint="write D(input_tokens,output_tokens), e.g. D(100,100); Poisson arrivals "
            "are benchmark.request_rate",
        )
    tokens_in, tokens_out = int(match.group(1)), int(match.group(2))
    if tokens_in < 1 or tokens_out < 1:
        raise TuningConfigError(f"traffic scenario {scenario!r}: token counts must be ≥ 1")
    return Traffic(scenario.replace(" ", ""), tokens_in, tokens_out)


def grid(parameters: Mapping[str, Sequence[ParamValue]]) -> list[Params]:
    """Every combination, in flag order (first flag outermost)."""
    names = list(parameters)
    return [
        dict(zip(names, combo, strict=True)) for combo in itertools.product(*parameters.values())
    ]


def even_indices(total: int, count: int) -> list[int]:
    """``count`` distinct indices of ``range(total)`` spread evenly, first and last included."""
    if count >= total:
        return list(range(total))
    if count == 1:
        return [0]
    return [round(i * (total - 1) / (count - 1)) for i in range(count)]


def grid_points(
    parameters: Mapping[str, Sequence[ParamValue]], max_iterations: int
) -> list[Params]:
    points = grid(parameters)
    return [points[i] for i in even_indices(len(points), max_iterations)]


def random_points(
    parameters: Mapping[str, Sequence[ParamValue]], max_iterations: int, seed: int
) -> list[Params]:
    points = grid(parameters)
    return random.Random(seed).sample(points, min(max_iterations, len(points)))


def params_key(params: Mapping[str, ParamValue]) -> str:
    """A stable identity of a point (sorted, typed), for 'already run' checks."""
    return "|".join(f"{k}={type(v).__name__}:{v}" for k, v in sorted(params.items()))
