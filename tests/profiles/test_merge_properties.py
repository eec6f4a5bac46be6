"""Hypothesis: layered merging and the choice precedence hold for any input."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from gpuplan.errors import ProfileNotFoundError
from gpuplan.hardware.model import GPU, Host
from gpuplan.profiles import (
    CHOICE_ORDER,
    Choice,
    Layer,
    Origin,
    ProfileRequest,
    merge_layers,
    resolve,
)
from gpuplan.profiles.provenance import leaves

KEYS = st.sampled_from(["a", "b", "c", "engine"])
SCALARS = st.one_of(
    st.integers(-5, 5), st.booleans(), st.text(max_size=3), st.lists(st.integers(), max_size=2)
)
TREES = st.recursive(
    SCALARS,
    lambda children: st.dictionaries(KEYS, children, max_size=3),
    max_leaves=8,
)
DATA = st.dictionaries(KEYS, TREES, max_size=4)


def layer(index: int, data: dict[str, Any]) -> Layer:
    return Layer(data=data, origin=Origin(kind="user", label=f"layer {index}"))


def oracle(datas: list[dict[str, Any]]) -> dict[str, Any]:
    """Reference merge: each layer contributes its leaves; tables merge, the rest replaces."""

    def merge(low: dict[str, Any], high: dict[str, Any]) -> dict[str, Any]:
        out = dict(low)
        for key, value in high.items():
            if isinstance(value, dict):
                if not leaves(value):
                    continue  # a table with no values contributes nothing
                base = out.get(key)
                out[key] = merge(base if isinstance(base, dict) else {}, value)
            else:
                out[key] = value
        return out

    result: dict[str, Any] = {}
    for data in datas:
        result = merge(result, data)
    return result


def prune(tree: Any) -> Any:
    """Empty tables hold no value: drop them for comparison."""
    if isinstance(tree, dict):
        kept = {k: prune(v) for k, v in tree.items()}
        return {k: v for k, v in kept.items() if v != {}}
    return tree


@settings(max_examples=300)
@given(st.lists(DATA, max_size=5))
def test_merge_matches_a_reference_deep_merge(datas):
    merged, _ = merge_layers([layer(i, d) for i, d in enumerate(datas)])
    assert prune(merged) == prune(oracle(datas))


@settings(max_examples=300)
@given(st.lists(DATA, max_size=5))
def test_every_value_names_the_highest_layer_that_set_it(datas):
    merged, sources = merge_layers([layer(i, d) for i, d in enumerate(datas)])
    final = leaves(merged)
    assert set(sources) == {".".join(path) for path in final}
    for path, value in final.items():
        source = sources[".".join(path)]
        assert source.value == value
        winner = int(source.origin.label.split()[-1])
        assert leaves(datas[winner]).get(path) == value
        for later in datas[winner + 1 :]:
            assert path not in leaves(later)
        shadowed = [int(s.origin.label.split()[-1]) for s in source.shadowed]
        assert shadowed == sorted(shadowed, reverse=True)
        assert all(i < winner for i in shadowed)


@given(DATA)
def test_an_empty_layer_changes_nothing(data):
    alone = merge_layers([layer(0, data)])
    assert merge_layers([layer(0, {}), layer(1, data), layer(2, {})])[0] == alone[0]


@given(DATA, DATA)
def test_disjoint_layers_commute(first, second):
    if set(leaves(first)) & set(leaves(second)) or set(first) & set(second):
        return
    one, _ = merge_layers([layer(0, first), layer(1, second)])
    two, _ = merge_layers([layer(0, second), layer(1, first)])
    assert one == two


NAMES = st.sampled_from(["cpu", "gpu_8bit", "gpu_4bit", "development", "no_such_profile"])
HOST = Host(
    source="declared",
    gpus=(GPU(index=0, name="g", vendor="nvidia", vram_total_mb=24564, compute_capability="8.9"),),
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(CHOICE_ORDER), NAMES))
def test_the_first_known_choice_in_order_wins(builtins, named):
    choices = tuple(
        Choice(source=source, value=value, origin=Origin(kind="config", label=source))
        for source, value in named.items()
    )
    request = ProfileRequest(choices=choices)
    if named.get("flag") == "no_such_profile":
        try:
            resolve(HOST, builtins, request)
        except ProfileNotFoundError:
            return
        raise AssertionError("an unknown --profile must be an error")
    resolution = resolve(HOST, builtins, request)
    known = [
        (s, named[s]) for s in CHOICE_ORDER if named.get(s, "no_such_profile") != "no_such_profile"
    ]
    if known:
        assert (resolution.selection.by, resolution.name) == known[0]
        assert resolution.manual_override == known[0][1]
    else:
        assert resolution.selection.by == "auto"
        assert resolution.manual_override is None
    unknown = [s for s in CHOICE_ORDER if named.get(s) == "no_such_profile"]
    stop = CHOICE_ORDER.index(known[0][0]) if known else len(CHOICE_ORDER)
    for source in unknown:
        warned = any(w.startswith(f"{source}:") for w in resolution.warnings)
        assert warned == (CHOICE_ORDER.index(source) < stop)


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from(["cpu", "gpu_8bit", "balanced_24gb", "cloud_gpu_tp4_fp16"]),
    st.dictionaries(
        st.sampled_from(
            ["engine.tensor_parallel_size", "max_concurrent_models", "grace_period_seconds"]
        ),
        st.integers(1, 2),
        max_size=3,
    ),
)
def test_explicit_overrides_always_win(builtins, name, values):
    from gpuplan.profiles import flag_overrides

    choice = Choice(source="flag", value=name, origin=Origin(kind="flag", label="--profile"))
    if "max_concurrent_models" in values and name != "balanced_24gb":
        values["max_concurrent_models"] = 1  # load_unload profiles need exactly one model
    if name == "balanced_24gb" and "max_concurrent_models" in values:
        values["max_concurrent_models"] = 2
    if name == "cpu":
        values.pop("engine.tensor_parallel_size", None)
    request = ProfileRequest(choices=(choice,), overrides=flag_overrides(values))
    resolution = resolve(HOST, builtins, request)
    for field, value in values.items():
        source = resolution.provenance[field]
        assert source.value == value
        assert source.origin.kind == "flag"
