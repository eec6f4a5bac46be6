"""Selection on real GPUs: every answer can be placed, per GPU and per MIG slice.

These are the reviewer's out-of-memory cases: the budget is a total over GPUs,
but each model lives on real devices, so the sum alone let `select` and `plan`
choose sets that no GPU assignment could hold.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gpuplan.hardware import GPU, Host, MigDevice, load_host
from gpuplan.models.registry import Role, load_registry
from gpuplan.placement import assign
from gpuplan.planning import Plan, fit_rows, host_candidates, make_plan, selection_policy
from gpuplan.profiles import resolve_here
from gpuplan.selection.candidates import Candidate
from gpuplan.selection.joint import PRIMARY_STEP, select_joint
from gpuplan.selection.policy import rank_key
from gpuplan.selection.select import RoleSelector

SPECS = ["2x RTX 4090", "2x RTX 4080", "4x RTX 3060 12GB", "RTX A5500, RTX A400", "RTX 4090"]


def plan_for(host: Host, roles: tuple[str, ...], profile: str | None = None) -> Plan:
    resolution, _ = resolve_here(host, profile)
    return make_plan(host, resolution, list(load_registry()), roles=roles)


@pytest.mark.parametrize("spec", SPECS)
@pytest.mark.parametrize(
    "roles", [("chat", "embedding", "caption"), ("chat",), ("reasoning", "description")]
)
def test_every_plan_has_a_gpu_assignment(spec: str, roles: tuple[str, ...]) -> None:
    host = load_host(spec)
    result = plan_for(host, roles)
    chosen = {(p.model_id, p.quantization) for p in result.selection.picks}
    candidates = {
        (c.model_id, c.quantization): c for c in host_candidates(host, list(load_registry()))
    }
    demands = [candidates[key].demand for key in chosen]
    assert assign(demands, host.device_budgets_mb()) is not None, (spec, roles, chosen)


@pytest.mark.parametrize("spec", SPECS)
def test_select_never_offers_what_fit_rejects(spec: str) -> None:
    host = load_host(spec)
    entries = list(load_registry())
    rows = fit_rows(host, entries, context=4096)
    rejected = {(r.model_id, r.quantization) for r in rows if not r.fits}
    resolution, _ = resolve_here(host)
    selector = RoleSelector(
        host_candidates(host, entries, rows=rows), selection_policy(resolution, host)
    )
    for role in ("chat", "reasoning", "embedding", "caption"):
        for candidate in selector.ranked(role):
            assert (candidate.model_id, candidate.quantization) not in rejected


def test_a_split_model_is_charged_on_every_gpu_it_uses() -> None:
    host = load_host("2x RTX 4080")
    entries = list(load_registry())
    split = [c for c in host_candidates(host, entries) if c.gpus == 2]
    assert split, "some registry model needs both 16 GB GPUs"
    for candidate in split:
        assert candidate.vram_per_gpu_mb is not None
        assert candidate.vram_estimate_mb == 2 * candidate.vram_per_gpu_mb
        assert candidate.vram_per_gpu_mb <= 16376 - 2048


def test_a_profile_larger_than_the_gpu_still_picks_what_the_gpu_holds() -> None:
    host = load_host("RTX 4090")
    result = plan_for(host, ("chat",), profile="generous_96gb")
    assert result.profile.active_profile.max_vram_mb == 90000
    (pick,) = result.selection.picks
    assert pick.vram_estimate_mb <= 24564 - 2048


def test_mig_slices_are_the_devices() -> None:
    """An A100 80GB carved into 3g.40gb + 2 x 1g.10gb: no model larger than a slice."""
    slices = (
        MigDevice(index=0, profile="3g.40gb", vram_total_mb=40192, gpu_instance_id=1),
        MigDevice(index=1, profile="1g.10gb", vram_total_mb=9984, gpu_instance_id=2),
        MigDevice(index=2, profile="1g.10gb", vram_total_mb=9984, gpu_instance_id=3),
    )
    gpu = GPU(
        index=0,
        name="NVIDIA A100-SXM4-80GB",
        vendor="nvidia",
        vram_total_mb=81920,
        compute_capability="8.0",
        mig_mode=True,
        mig_devices=slices,
    )
    host = Host(source="declared", gpus=(gpu,))
    assert host.device_budgets_mb() == (38144, 7936, 7936)
    assert host.total_usable_vram_mb == 38144 + 2 * 7936
    result = plan_for(host, ("chat", "embedding"))
    for pick in result.selection.picks:
        assert pick.vram_estimate_mb <= 38144


def test_joint_selection_prunes_unplaceable_sets_exactly() -> None:
    """With placement on, the result equals the best placeable set found by brute force."""

    host = load_host("2x RTX 4090")
    resolution, _ = resolve_here(host)
    policy = selection_policy(resolution, host)
    candidates = [c for c in host_candidates(host, list(load_registry())) if policy.admits(c)]
    roles: tuple[Role, ...] = ("chat", "embedding")
    chat = sorted(
        (c for c in candidates if c.serves("chat")), key=lambda c: rank_key(c, "chat", policy)
    )
    embedders: list[Candidate | None] = [c for c in candidates if c.serves("embedding")]
    floor = chat[0].role_priority["chat"] - PRIMARY_STEP
    best = None
    for rank, main in enumerate(chat):
        if main.role_priority["chat"] < floor:
            continue
        for embedder in [*embedders, None]:
            loaded = {c.key: c for c in (main, embedder) if c is not None}
            if len(loaded) > policy.max_concurrent_models:
                continue
            if sum(c.vram_estimate_mb for c in loaded.values()) > policy.max_vram_mb:
                continue
            if not policy.places(loaded.values()):
                continue
            # The primary (chat) within one size class of its best, then serving the
            # embedder, then chat's own ranking, then the embedder's priority.
            served = embedder is not None
            priority = embedder.role_priority["embedding"] if embedder is not None else 0
            score = (served, -rank, priority)
            best = score if best is None else max(best, score)
    result = select_joint(candidates, roles, policy)
    chat_pick = result.pick("chat")
    embedding_pick = result.pick("embedding")
    assert chat_pick is not None
    rank = [c.key for c in chat].index(f"{chat_pick.model_id}@{chat_pick.quantization}")
    served = embedding_pick is not None
    priority = embedding_pick.role_priority if embedding_pick is not None else 0
    assert best == (served, -rank, priority)
    assert served  # on 2x RTX 4090 the 70B fills both cards: a 32B serves the embedder too


def test_memory_held_by_other_processes_is_said() -> None:
    """Seed 004's GPU 0 of 24564 MiB with 19304 MiB in use (its /api/system/gpus example)."""
    busy = GPU(
        index=0,
        name="NVIDIA RTX A5500",
        vendor="nvidia",
        vram_total_mb=24564,
        vram_used_mb=19304,
        vram_free_mb=24564 - 19304,
        compute_capability="8.6",
    )
    result = plan_for(Host(source="declared", gpus=(busy,)), ("chat",))
    assert any("GPU 0 has only 5260 MiB free now" in note for note in result.notes)


def test_negative_memory_in_a_hardware_file_is_refused(tmp_path: Path) -> None:
    from gpuplan.errors import HardwareSpecError

    box = tmp_path / "box.json"
    box.write_text('{"source": "file", "gpus": [{"index": 0, "name": "x", "vram_total_mb": -5}]}')
    with pytest.raises(HardwareSpecError, match="vram_total_mb"):
        load_host(str(box))


def mig_h100(slices: int) -> Host:
    """An H100 with ``slices`` 1g.10gb instances (NVML's exact 9984 MiB each)."""
    devices = tuple(
        MigDevice(index=i, profile="1g.10gb", vram_total_mb=9984, gpu_instance_id=i + 7)
        for i in range(slices)
    )
    gpu = GPU(
        index=0,
        name="NVIDIA H100 80GB HBM3",
        vendor="nvidia",
        vram_total_mb=81559,
        compute_capability="9.0",
        mig_mode=True,
        mig_devices=devices,
    )
    return Host(source="declared", gpus=(gpu,))


def test_no_model_is_split_across_mig_slices() -> None:
    host = mig_h100(7)
    result = plan_for(host, ("chat", "embedding"))
    assert all(row.gpus == 1 for row in result.fitting)
    assert all(row.vram_estimate_mb <= 9984 - 2048 for row in result.fitting)
    for pick in result.selection.picks:
        assert pick.gpus == 1 and pick.vram_estimate_mb <= 9984 - 2048


def test_mig_on_without_instances_offers_nothing_and_says_so() -> None:
    host = mig_h100(0)
    assert host.device_budgets_mb() == ()
    result = plan_for(host, ("chat",))
    assert result.selection.picks == ()
    assert any("MIG on but no MIG instances" in note for note in result.notes)


def test_fit_cli_on_a_mig_host_uses_the_slices(tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from gpuplan.cli.main import app

    box = tmp_path / "mig.json"
    box.write_text(mig_h100(7).model_dump_json())
    result = CliRunner().invoke(app, ["fit", "--hardware", str(box), "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["usable_vram_mb"] == [9984 - 2048] * 7
    assert all(m["gpus"] == 1 and m["vram_estimate_mb"] <= 7936 for m in body["models"])


def test_split_picks_say_how_many_gpus() -> None:
    result = plan_for(load_host("3x RTX 3090"), ("chat",))
    (pick,) = result.selection.picks
    assert pick.gpus > 1, "the best chat model needs more than one 24 GB GPU"
    assert pick.vram_estimate_mb == pick.gpus * pick.vram_per_gpu_mb
    assert pick.vram_per_gpu_mb <= 24576 - 2048


def test_a_fifo_named_gguf_does_not_hang_discovery(tmp_path: Path) -> None:
    import os

    from gpuplan.models.files.discover import discover

    os.mkfifo(tmp_path / "trap.gguf")
    assert discover(tmp_path).models == ()


def test_fit_never_proposes_a_tensor_parallel_size_the_engine_refuses() -> None:
    from gpuplan.memory.engines import engine_profile
    from gpuplan.memory.estimate import splits_heads
    from gpuplan.memory.vram import arch_of, engine_for

    host = load_host("8x RTX 3060 12GB")
    registry = load_registry()
    for row in fit_rows(host, list(registry), context=4096):
        if row.fits and row.gpus > 1:
            entry = registry.get(row.model_id)
            engine = engine_profile(engine_for(row.backend))
            assert splits_heads(arch_of(entry), engine, row.gpus), row


def test_candidates_on_a_gpu_host_reuse_fits_figures(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 7: each variant is costed once (by fit); the candidate builder reuses it."""
    import gpuplan.planning as planning

    host = load_host("2x RTX 4090")
    entries = list(load_registry())
    rows = fit_rows(host, entries, context=4096)
    calls: list[str] = []

    def counting(largest: int | None, *, concurrency: int = 1, flash_attention: bool | None = None):
        def cost(entry, variant, tokens):
            calls.append(entry.id)
            raise AssertionError("costed twice")

        return cost

    monkeypatch.setattr(planning, "coster_for_gpu", counting)
    candidates = host_candidates(host, entries, rows=rows)
    assert calls == []
    assert len(candidates) == sum(len(e.variants) for e in entries)
    fitted = {(r.model_id, r.quantization): r for r in rows if r.fits}
    for candidate in candidates:
        row = fitted.get((candidate.model_id, candidate.quantization))
        if row is not None:
            assert candidate.vram_estimate_mb == row.vram_estimate_mb * row.gpus


def test_a_profile_without_flash_attention_is_costed_without_it() -> None:
    """llama.cpp / Ollama get the profile's flash-attention choice at launch, so the plan
    counts what that choice needs: off, the compute buffer also holds n_ctx × n_ubatch ×
    heads f32 scores, and the launch line then has no 'may not start' to say."""
    from gpuplan.profiles.provenance import Origin
    from gpuplan.profiles.resolve import Override

    host = load_host("RTX 4090")
    entries = list(load_registry())
    origin = Origin(kind="flag", label="test")
    off = (
        Override(field="engine.enable_flash_attention", value=False, origin=origin),
        Override(field="engine.attention_impl", value="sdpa", origin=origin),
    )
    without, _ = resolve_here(host, overrides=off)
    assert without.profile.engine.enable_flash_attention is False
    auto_rows = {(r.model_id, r.quantization): r for r in fit_rows(host, entries, context=32768)}
    off_rows = fit_rows(host, entries, context=32768, flash_attention=False)
    grown = [
        r for r in off_rows
        if r.backend in ("llamacpp", "ollama") and r.vram_source == "estimator"
        and r.vram_estimate_mb > auto_rows[r.model_id, r.quantization].vram_estimate_mb
    ]  # fmt: skip
    assert grown, "turning flash attention off must grow some llama.cpp figure"
    result = make_plan(host, without, entries, roles=("chat",), context=32768)
    ggml = [p for p in result.selection.picks if p.backend in ("llamacpp", "ollama")]
    if ggml:  # the chat pick on one 4090 at 32k; whichever engine it is, it must start
        assert all(
            c.vram_estimate_mb
            == {(r.model_id, r.quantization): r for r in off_rows}[
                c.model_id, c.quantization
            ].vram_estimate_mb
            for c in ggml
        )
    assert result.launch
    for config in result.launch:
        assert not any(n.startswith("may not start") for n in config.notes), config.notes
