"""The profile stage's data: one deployment profile that holds both halves.

Seeds 000/001 describe a profile as a *serving policy* (VRAM budget, how many
models at once, quantization preference, load strategy, grace period, selection
bias); seed 002 describes it as *engine settings* (device, tensor parallelism,
quantization bits and method, mixed precision, attention, memory pooling).
gpuplan keeps both in one model so a single name answers "how much may I load"
and "how do I launch it".

Every field has a default, so a partial profile (a pyproject table that changes
one value of a built-in) is valid on its own; contradictions between fields are
only judged on the merged result, which is why semantic checks can be switched
off with the validation context ``{"partial": True}``.

Memory is in MiB (nvidia-smi's unit); the ``_mb`` names are the seeds'.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from gpuplan.hardware.model import MAX_GPU_MEMORY_MB, MAX_GPUS_PER_HOST, MAX_HEADROOM_MB

MAX_BUDGET_MB = MAX_GPUS_PER_HOST * MAX_GPU_MEMORY_MB
"""The most VRAM one host can have (64 GPUs of 8 TiB); a larger budget is a typo."""

Strategy = Literal[
    "load_unload", "concurrent_limited", "tensor_parallel_or_distributed", "concurrent_full"
]
"""How models share the budget (seed 000)."""
SelectionBias = Literal["vram_efficient", "balanced", "quality"]
"""Which way model selection leans when several candidates fit (seed 000)."""
Category = Literal["edge", "onprem", "cloud"]
"""Deployment setting the profile targets (seed 002)."""
Device = Literal["cpu", "cuda", "auto"]
"""Where the engine runs; ROCm builds of PyTorch also call their GPUs ``cuda``."""
QuantizationMethod = Literal["dynamic", "bnb-8bit", "bnb-4bit", "awq", "gptq", "fp8"]
"""How weights are quantized at load time (seed 002 names dynamic and bnb-*)."""
MixedPrecisionDtype = Literal["fp16", "bf16"]
AttentionImpl = Literal["flash", "sdpa", "eager"]
PoolDevice = Literal["auto", "cuda", "cpu"]

QUANTIZATION_BITS: dict[str, frozenset[int]] = {
    "dynamic": frozenset({8}),
    "bnb-8bit": frozenset({8}),
    "bnb-4bit": frozenset({4}),
    "awq": frozenset({4}),
    "gptq": frozenset({2, 3, 4, 8}),
    "fp8": frozenset({8}),
}
"""Bit widths each quantization method can produce; anything else is a contradiction."""

CONCURRENCY: dict[str, tuple[int, int | None]] = {
    "load_unload": (1, 1),
    "concurrent_limited": (2, None),
    "concurrent_full": (2, None),
    "tensor_parallel_or_distributed": (1, None),
}
"""Allowed ``max_concurrent_models`` (min, max) for each strategy."""


class Issue(BaseModel):
    """One thing wrong (or doubtful) in a profile: where, what and how to fix it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    field: str = Field(description="Dotted field path, e.g. 'engine.quantization_bits'.")
    problem: str = Field(description="What is wrong, in words.")
    fix: str = Field(description="What to change.")
    file: str | None = Field(default=None, description="File the value came from.")
    line: int | None = Field(default=None, description="1-based line of the field, if known.")
    severity: Literal["error", "warning"] = Field(default="error")

    def __str__(self) -> str:
        where = self.file or "<profile>"
        if self.line is not None:
            where = f"{where}:{self.line}"
        return f"{where}: {self.field}: {self.problem}; fix: {self.fix}"


class SemanticError(ValueError):
    """Raised inside validation so the loader can recover the structured issues."""

    def __init__(self, issues: list[Issue]) -> None:
        super().__init__("; ".join(f"{i.field}: {i.problem}" for i in issues))
        self.issues = issues


class EngineSettings(BaseModel):
    """Engine settings merged into the serving engine's config (seed 002).

    A setting left out means the engine's own default. Keys gpuplan does not know
    are kept, reported by `gpuplan profile validate`, and passed to the engine.
    """

    # None = "not set by this layer", so a lower layer may still supply the value;
    # unknown keys live in model_extra so a profile for a newer engine survives.

    model_config = ConfigDict(frozen=True, extra="allow", strict=True)

    device: Device | None = Field(default=None, description="Where the engine runs.")
    tensor_parallel_size: int | None = Field(
        default=None, ge=1, le=MAX_GPUS_PER_HOST, description="GPUs one model is sharded over."
    )
    quantization_bits: int | None = Field(
        default=None, ge=1, le=16, description="Weight bit width; must suit quantization_method."
    )
    quantization_method: QuantizationMethod | None = Field(
        default=None, description="Quantization applied at load time."
    )
    enable_mixed_precision: bool | None = Field(
        default=None, description="Compute in mixed_precision_dtype."
    )
    mixed_precision_dtype: MixedPrecisionDtype | None = Field(
        default=None, description="Dtype for mixed precision; bf16 needs Ampere (SM 8.0) or newer."
    )
    enable_flash_attention: bool | None = Field(
        default=None, description="Use Flash Attention kernels when installed."
    )
    attention_impl: AttentionImpl | None = Field(
        default=None, description="Attention implementation; 'flash' goes with Flash Attention."
    )
    allow_tf32: bool | None = Field(default=None, description="Allow TF32 matmuls (Ampere+).")
    cudnn_benchmark: bool | None = Field(default=None, description="Let cuDNN autotune kernels.")
    memory_efficient: bool | None = Field(
        default=None, description="Prefer lower memory over speed."
    )
    enable_memory_pooling: bool | None = Field(
        default=None, description="Reuse allocations from a memory pool."
    )
    pool_device: PoolDevice | None = Field(default=None, description="Device the pool lives on.")

    @property
    def unknown_keys(self) -> tuple[str, ...]:
        """Keys gpuplan does not model; kept and passed through."""
        return tuple(sorted(self.model_extra or {}))


class DeploymentProfile(BaseModel):
    """A deployment profile: serving policy (seeds 000/001) plus engine settings (seed 002)."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        strict=True,
        title="gpuplan deployment profile",
        json_schema_extra={
            "description": (
                "A gpuplan deployment profile. Serving-policy fields come from ImageWorks' "
                "deployment profiles (seeds 000/001); 'profile', 'category', 'description' "
                "and 'engine' from Med vLLM's profile files (seed 002). Memory is in MiB."
            )
        },
    )

    profile: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description=(
            "Profile identifier (seed 002). In a pyproject table or a directory the table "
            "key or file stem names the profile when this is absent."
        ),
    )
    description: str = Field(default="", description="What the profile is for, in words.")
    category: Category | None = Field(default=None, description="edge, onprem or cloud.")
    max_vram_mb: int | None = Field(
        default=None,
        ge=0,
        le=MAX_BUDGET_MB,
        description=(
            "VRAM budget, MiB: models larger than this are not selected. Absent: all usable "
            "VRAM of the hardware (total − headroom per GPU), so nothing is stranded."
        ),
    )
    max_concurrent_models: int = Field(
        default=1, ge=1, le=1024, description="Models loaded at once."
    )
    preferred_quantizations: Annotated[tuple[str, ...], Field(strict=False)] = Field(
        default=("q4_k_m",),
        description="Quantizations in order of preference, lower case (e.g. 'fp8', 'q4_k_m').",
    )
    strategy: Strategy = Field(default="load_unload", description="How models share the budget.")
    autostart_timeout_seconds: int = Field(
        default=120, ge=0, le=86400, description="Seconds to wait for a model server to come up."
    )
    grace_period_seconds: int = Field(
        default=300,
        ge=0,
        le=31 * 86400,
        description="Seconds a model stays loaded after its last request.",
    )
    model_selection_bias: SelectionBias = Field(
        default="balanced", description="How selection trades VRAM against quality."
    )
    gpu_count: int | None = Field(
        default=None,
        ge=0,
        le=MAX_GPUS_PER_HOST,
        description="GPUs the profile is written for; absent: any.",
    )
    tensor_parallel_threshold_mb: int | None = Field(
        default=None,
        ge=0,
        le=MAX_BUDGET_MB,
        description="Models at least this large (MiB) are sharded with tensor parallelism.",
    )
    headroom_mb: int | None = Field(
        default=None,
        ge=0,
        le=MAX_HEADROOM_MB,
        description=(
            "MiB kept free per GPU when the budget is derived from hardware; absent: the "
            "host's headroom (--headroom-mb, $GPUPLAN_HEADROOM_MB, else 2048)."
        ),
    )
    engine: EngineSettings = Field(
        default_factory=EngineSettings, description="Engine settings (seed 002)."
    )

    @field_validator("preferred_quantizations")
    @classmethod
    def _lower(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(item.strip().lower() for item in value)

    @model_validator(mode="after")
    def _coherent(self, info: ValidationInfo) -> DeploymentProfile:
        context: Any = info.context
        if isinstance(context, dict) and context.get("partial"):
            return self
        issues = semantic_issues(self)
        if issues:
            raise SemanticError(issues)
        return self


def semantic_issues(profile: DeploymentProfile) -> list[Issue]:
    """Contradictions between fields of one (merged) profile, each with its fix."""
    issues: list[Issue] = []
    low, high = CONCURRENCY[profile.strategy]
    count = profile.max_concurrent_models
    if count < low or (high is not None and count > high):
        wanted = "exactly 1" if high == 1 else f"at least {low}"
        other = "concurrent_limited" if profile.strategy == "load_unload" else "load_unload"
        issues.append(
            Issue(
                field="max_concurrent_models",
                problem=f"strategy {profile.strategy!r} needs {wanted} model(s), got {count}",
                fix=f"set max_concurrent_models to {low} or strategy to {other!r}",
            )
        )
    if profile.strategy == "tensor_parallel_or_distributed" and profile.gpu_count in (0, 1):
        issues.append(
            Issue(
                field="strategy",
                problem=f"'tensor_parallel_or_distributed' needs 2+ GPUs, gpu_count is "
                f"{profile.gpu_count}",
                fix="raise gpu_count or use strategy 'load_unload' / 'concurrent_limited'",
            )
        )
    issues.extend(engine_issues(profile.engine, gpu_count=profile.gpu_count))
    return issues


def engine_issues(engine: EngineSettings, *, gpu_count: int | None) -> list[Issue]:
    """Contradictions inside the engine block (seed 002: bits vs method and friends)."""
    issues: list[Issue] = []
    bits, method = engine.quantization_bits, engine.quantization_method
    if method is not None and bits is not None and bits not in QUANTIZATION_BITS[method]:
        allowed = sorted(QUANTIZATION_BITS[method])
        matching = [m for m, widths in QUANTIZATION_BITS.items() if bits in widths]
        issues.append(
            Issue(
                field="engine.quantization_bits",
                problem=f"{bits} bits do not go with quantization_method {method!r}",
                fix=f"set quantization_bits to {' or '.join(map(str, allowed))}"
                + (f", or quantization_method to one of {matching}" if matching else ""),
            )
        )
    if bits is not None and method is None and bits < 16:
        issues.append(
            Issue(
                field="engine.quantization_method",
                problem=f"quantization_bits = {bits} but no quantization_method says how",
                fix="add quantization_method, e.g. 'bnb-8bit' for 8 bits or 'bnb-4bit' for 4",
            )
        )
    tp = engine.tensor_parallel_size
    if tp is not None and gpu_count is not None and gpu_count > 0 and tp > gpu_count:
        issues.append(
            Issue(
                field="engine.tensor_parallel_size",
                problem=f"tensor_parallel_size {tp} exceeds gpu_count {gpu_count}",
                fix=f"set tensor_parallel_size to at most {gpu_count} or raise gpu_count",
            )
        )
    if engine.device == "cpu":
        issues.extend(_cpu_issues(engine))
    flash, impl = engine.enable_flash_attention, engine.attention_impl
    if flash is True and impl is not None and impl != "flash":
        issues.append(
            Issue(
                field="engine.attention_impl",
                problem=f"enable_flash_attention is true but attention_impl is {impl!r}",
                fix="set attention_impl = 'flash' or enable_flash_attention = false",
            )
        )
    if flash is False and impl == "flash":
        issues.append(
            Issue(
                field="engine.enable_flash_attention",
                problem="attention_impl is 'flash' but enable_flash_attention is false",
                fix="set enable_flash_attention = true or choose attention_impl 'sdpa'",
            )
        )
    if engine.enable_mixed_precision is False and engine.mixed_precision_dtype is not None:
        issues.append(
            Issue(
                field="engine.mixed_precision_dtype",
                problem=f"mixed_precision_dtype {engine.mixed_precision_dtype!r} is set but "
                "enable_mixed_precision is false",
                fix="set enable_mixed_precision = true or remove mixed_precision_dtype",
            )
        )
    return issues


def _cpu_issues(engine: EngineSettings) -> list[Issue]:
    issues: list[Issue] = []
    if engine.tensor_parallel_size is not None and engine.tensor_parallel_size > 1:
        issues.append(
            Issue(
                field="engine.tensor_parallel_size",
                problem=f"device 'cpu' cannot shard over {engine.tensor_parallel_size} GPUs",
                fix="set tensor_parallel_size = 1 or device = 'cuda'",
            )
        )
    if engine.quantization_method in ("bnb-8bit", "bnb-4bit", "fp8", "awq"):
        issues.append(
            Issue(
                field="engine.quantization_method",
                problem=f"{engine.quantization_method!r} needs a GPU but device is 'cpu'",
                fix="use quantization_method 'dynamic' with 8 bits on CPU, or device 'cuda'",
            )
        )
    if engine.enable_flash_attention or engine.attention_impl == "flash":
        issues.append(
            Issue(
                field="engine.attention_impl",
                problem="Flash Attention needs a GPU but device is 'cpu'",
                fix="set attention_impl = 'sdpa' and enable_flash_attention = false",
            )
        )
    if engine.pool_device == "cuda":
        issues.append(
            Issue(
                field="engine.pool_device",
                problem="pool_device 'cuda' with device 'cpu'",
                fix="set pool_device = 'cpu' or 'auto'",
            )
        )
    return issues


PROFILE_FIELDS: tuple[str, ...] = tuple(DeploymentProfile.model_fields)
ENGINE_FIELDS: tuple[str, ...] = tuple(EngineSettings.model_fields)


def ggml_flash_attention(engine: EngineSettings) -> bool | None:
    """What the profile asks of llama.cpp's and Ollama's flash attention.

    True on, False off, None their own ``-fa auto``. The plan costs and the launch
    lines both follow this answer, so they agree.
    """
    return flash_attention_choice(engine.enable_flash_attention, engine.attention_impl)


def flash_attention_choice(enable: object, impl: object) -> bool | None:
    """``ggml_flash_attention`` on the two engine-block values, as a launch request holds them.

    Only ``enable_flash_attention`` and ``attention_impl = 'flash'`` speak to ggml
    engines: 'sdpa' and 'eager' name PyTorch attention kernels, which they do not have.
    """
    if isinstance(enable, bool):
        return enable
    return True if impl == "flash" else None
