"""The parameter space: traffic parsing, grid order, even and random sampling."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gpuplan.errors import TuningConfigError
from gpuplan.tuning.model import ParamValue
from gpuplan.tuning.space import even_indices, grid, parse_traffic, random_points


def test_parse_traffic() -> None:
    traffic = parse_traffic(" D( 100 , 50 ) ")
    assert (traffic.scenario, traffic.input_tokens, traffic.output_tokens) == ("D(100,50)", 100, 50)
    for bad in ("N(100,10)/(50,5)", "D(0,10)", "D(1)"):
        with pytest.raises(TuningConfigError):
            parse_traffic(bad)


@given(st.integers(1, 200), st.integers(1, 50))
def test_even_indices_are_distinct_sorted_and_span(total: int, count: int) -> None:
    picked = even_indices(total, count)
    assert len(picked) == min(total, count)
    assert picked == sorted(set(picked))
    assert picked[0] == 0
    if count > 1 and total > 1:
        assert picked[-1] == total - 1


def test_random_points_are_seeded_and_distinct() -> None:
    params: dict[str, list[ParamValue]] = {"a": [1, 2, 3], "b": ["x", "y"]}
    first = random_points(params, 4, seed=7)
    assert first == random_points(params, 4, seed=7)
    assert len({tuple(p.items()) for p in first}) == 4
    assert all(p in grid(params) for p in first)
    assert len(random_points(params, 99, seed=1)) == 6
