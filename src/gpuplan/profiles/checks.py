"""Warnings about a resolved profile on this hardware: fit, tensor parallelism, device.

Not errors: a user may plan for hardware they are about to buy, or force a
profile on purpose (seed 000: "note: may exceed available VRAM").
"""

from __future__ import annotations

from gpuplan.hardware.model import Host
from gpuplan.profiles.layers import usable_with
from gpuplan.profiles.model import DeploymentProfile, EngineSettings
from gpuplan.profiles.rules import HostFacts


def fit_warnings(
    profile: DeploymentProfile, host: Host, facts: HostFacts, manual: bool, headroom: int
) -> list[str]:
    out: list[str] = []
    usable = usable_with(host, headroom)
    budget = profile.max_vram_mb
    if host.gpus and budget is not None and budget > usable:
        what = "manual override" if manual else "profile"
        out.append(
            f"{what} {profile.profile}: max_vram_mb {budget} MiB may exceed available VRAM "
            f"({usable} MiB usable on {host.summary()})"
        )
    elif manual and host.gpus and budget is not None and usable - budget > usable // 10:
        out.append(
            f"{profile.profile} leaves {usable - budget} of {usable} usable MiB unused; "
            "without --profile gpuplan would size the budget on the real VRAM"
        )
    out += engine_warnings(profile.engine, host, facts)
    if profile.gpu_count is not None and host.gpus and profile.gpu_count != facts.gpu_count:
        out.append(
            f"{profile.profile} is written for {profile.gpu_count} GPU(s); this host has "
            + (facts.devices if facts.mig else f"{facts.gpu_count}")
        )
    return out


def engine_warnings(engine: EngineSettings, host: Host, facts: HostFacts) -> list[str]:
    out: list[str] = []
    tp = engine.tensor_parallel_size
    if tp is not None and tp > 1 and facts.mig:
        out.append(
            f"engine.tensor_parallel_size {tp}: this host's GPUs are split into MIG slices, "
            "and tensor parallelism cannot span slices (a process is given one); use 1"
        )
    elif tp is not None and tp > 1 and tp > len(host.gpus):
        out.append(
            f"engine.tensor_parallel_size {tp} exceeds the {len(host.gpus)} GPU(s) of this "
            "host; the engine will fail to start"
        )
    if engine.device == "cuda" and not facts.cuda:
        out.append("engine.device is 'cuda' but this host has no CUDA-capable GPU")
    if engine.mixed_precision_dtype == "bf16" and host.gpus and not facts.bf16_capable:
        out.append("engine.mixed_precision_dtype 'bf16' needs Ampere (SM 8.0) or newer")
    return out
