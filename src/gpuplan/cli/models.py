"""`gpuplan fit` and `gpuplan select`: which models fit, and which to serve per role.

The logic lives in ``gpuplan.models`` (fit, select, joint); this module reads
flags, resolves the hardware and the active profile, and prints.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from gpuplan.cli._common import (
    CONCURRENCY_HELP,
    ConcurrencyOpt,
    HardwareOpt,
    HeadroomOpt,
    JsonOpt,
    ProfileOpt,
    console,
    emit_json,
    err_console,
    handle_errors,
)
from gpuplan.cli.discover import DiscoverOpt, with_discovered
from gpuplan.cli.render.models import render_explanation, render_fit, render_joint, render_selection
from gpuplan.errors import GpuplanError, ModelError, ModelNotFoundError
from gpuplan.hardware import load_host
from gpuplan.hardware.model import Host
from gpuplan.memory.figure import DEFAULT_CONTEXT
from gpuplan.models.quant import normalize_quant
from gpuplan.models.registry import ROLES, ModelEntry, load_registry, parse_role
from gpuplan.planning import fit_rows, host_candidates, selection_policy
from gpuplan.selection.joint import JointSelection, select_joint
from gpuplan.selection.policy import SelectionPolicy
from gpuplan.selection.select import DEFAULT_TOP_N, RoleSelector, select_by_role_response

__all__ = ["fit", "select"]

RegistryOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--registry",
        help="Extra registry file or directory (TOML, YAML or JSON); repeatable; later "
        "files win by id. Also read: $XDG_CONFIG_HOME/gpuplan/models/ and $GPUPLAN_REGISTRY.",
        show_default=False,
    ),
]
ContextOpt = Annotated[
    int,
    typer.Option(
        "--context", min=1, help="Tokens of context each model is costed at (capped per model)."
    ),
]


def _entries(paths: list[Path] | None, discover: list[Path] | None) -> list[ModelEntry]:
    return with_discovered(load_registry(paths or ()), discover)


@handle_errors
def fit(
    hardware: HardwareOpt = None,
    headroom_mb: HeadroomOpt = None,
    context: ContextOpt = DEFAULT_CONTEXT,
    concurrency: ConcurrencyOpt = 1,
    role: Annotated[
        str | None,
        typer.Option("--role", help=f"Only models serving this role ({', '.join(ROLES)})."),
    ] = None,
    show_all: Annotated[
        bool, typer.Option("--all", help="Also list variants that do not fit, with the reason.")
    ] = False,
    registry: RegistryOpt = None,
    discover: DiscoverOpt = None,
    json: JsonOpt = False,
) -> None:
    """Which registry models and quantizations fit these GPUs, and the longest context each holds.

    A variant fits on one GPU, or split with tensor parallelism over the 2, 4 or 8
    largest; "max context" is the longest context that still fits (capped at the
    model's own). Models without a KV cache show n/a.
    """
    host = load_host(hardware, headroom_mb=headroom_mb)
    entries = _entries(registry, discover)
    if role is not None:
        wanted = parse_role(role)
        entries = [e for e in entries if wanted in e.role_priority]
    rows = fit_rows(host, entries, context=context, concurrency=concurrency)
    if json:
        emit_json(
            {
                "hardware": host.summary(),
                "usable_vram_mb": list(host.device_budgets_mb()),
                "context": context,
                "concurrency": concurrency,
                "role": role,
                "models": [row.model_dump(mode="json") for row in rows if row.fits or show_all],
            }
        )
        return
    title = f"Models for {host.summary()} at {context:,} tokens"
    if concurrency > 1:
        title += f" × {concurrency} sequences"
    console.print(render_fit(rows, title=title, show_all=show_all))
    if show_all:
        for row in rows:
            if not row.fits:
                console.print(
                    f"[dim]✗ {row.model_id} {row.quantization}: {escape(row.reason)}[/]",
                )


_FLAGS = {"model_selection_bias": "--bias", "preferred_quantizations": "--prefer"}
"""Profile fields whose `select` flag has a shorter name than the field."""


def _quantizations(prefer: str) -> list[str]:
    """--prefer's names, each one gpuplan knows (a typo would silently change nothing)."""
    names = [q.strip() for q in prefer.split(",") if q.strip()]
    for name in names:
        try:
            normalize_quant(name)
        except GpuplanError:
            raise ModelError(
                f"--prefer names an unknown quantization {name[:40]!r}",
                hint="use names such as fp8, awq, gptq, bf16, q4_k_m, q8_0",
            ) from None
    if not names:
        raise ModelError("--prefer names no quantization", hint="e.g. --prefer fp8,q4_k_m")
    return names


def resolve_policy(
    host: Host, profile: str | None, overrides: dict[str, Any]
) -> tuple[SelectionPolicy, tuple[str, ...]]:
    """The active profile's selection policy (with flag overrides) and its warnings."""
    from gpuplan.profiles import flag_overrides, resolve_here

    resolution, _ = resolve_here(host, profile, flag_overrides(overrides, _FLAGS))
    return selection_policy(resolution, host), resolution.warnings


@handle_errors
def select(
    role: Annotated[
        str | None,
        typer.Option("--role", "-r", help=f"Role to choose for: {', '.join(ROLES)}."),
    ] = None,
    roles: Annotated[
        str | None,
        typer.Option(
            "--roles",
            help="Several roles, comma-separated (chat,embedding,caption): one model per role, "
            "chosen so the whole set fits the profile's budget together.",
        ),
    ] = None,
    top_n: Annotated[
        int, typer.Option("--top-n", "-n", min=1, help="How many models to list for --role.")
    ] = DEFAULT_TOP_N,
    explain: Annotated[
        str | None,
        typer.Option(
            "--explain",
            help="Explain one model: for --role, eligible, rejected (and why), no role "
            "support or not found; for --roles, what the set uses it for or why it left it "
            "out (a larger supporting model, a better chat model).",
        ),
    ] = None,
    profile: ProfileOpt = None,
    max_vram_mb: Annotated[
        int | None, typer.Option("--max-vram-mb", min=0, help="Override the budget, MiB.")
    ] = None,
    max_concurrent_models: Annotated[
        int | None,
        typer.Option("--max-concurrent-models", min=1, help="Override models loaded at once."),
    ] = None,
    prefer: Annotated[
        str | None,
        typer.Option(
            "--prefer", help="Override preferred quantizations, comma-separated: fp8,awq,q4_k_m."
        ),
    ] = None,
    bias: Annotated[
        str | None,
        typer.Option(
            "--bias", help="Override the selection bias: vram_efficient, balanced, quality."
        ),
    ] = None,
    context: ContextOpt = DEFAULT_CONTEXT,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, help=CONCURRENCY_HELP)] = 1,
    hardware: HardwareOpt = None,
    headroom_mb: HeadroomOpt = None,
    registry: RegistryOpt = None,
    discover: DiscoverOpt = None,
    json: JsonOpt = False,
) -> None:
    """Choose models by role under the active profile: the best that fits, per role.

    --role R lists the best --top-n models for R; --explain MODEL says why MODEL is
    or is not among them. --roles R1,R2,… chooses one model per role so that the
    set fits the budget and max_concurrent_models together (one model may serve
    several roles): the primary role (chat, reasoning, else the first) first, then
    as many roles served as possible, and says what it dropped.
    """
    if (role is None) == (roles is None):
        raise ModelError("give exactly one of --role and --roles", hint="e.g. --role caption")
    host = load_host(hardware, headroom_mb=headroom_mb)
    overrides: dict[str, Any] = {
        "max_vram_mb": max_vram_mb,
        "max_concurrent_models": max_concurrent_models,
        "preferred_quantizations": _quantizations(prefer) if prefer is not None else None,
        "model_selection_bias": bias,
    }
    policy, warnings = resolve_policy(host, profile, overrides)
    for warning in warnings:
        err_console.print(f"[yellow]Warning:[/] {escape(warning)}", soft_wrap=True)
    candidates = host_candidates(
        host, _entries(registry, discover), context=context, concurrency=concurrency
    )

    if roles is not None:
        wanted = [r for r in (part.strip() for part in roles.split(",")) if r]
        result = select_joint(candidates, wanted, policy)
        if explain is not None:
            _explain_in_set(result, explain, [c.model_id for c in candidates], json)
        elif json:
            emit_json(result)
        else:
            console.print(render_joint(result, policy))
        return

    assert role is not None
    selector = RoleSelector(candidates, policy)
    if explain is not None:
        explanation = selector.explain_selection(role, explain)
        if explanation.status == "not_found":
            close = difflib.get_close_matches(explain, [c.model_id for c in candidates], n=3)
            raise ModelNotFoundError(
                f"no model {explain!r} in the registry",
                hint="closest ids: " + ", ".join(dict.fromkeys(close))
                if close
                else "run `gpuplan fit` to list the registry's models",
            )
        if json:
            emit_json(explanation)
        else:
            console.print(render_explanation(explanation))
        return
    if json:
        emit_json(select_by_role_response(selector, role, top_n))
        return
    checked = parse_role(role)
    console.print(render_selection(checked, selector.select_for_role(checked, top_n), policy))


def _explain_in_set(result: JointSelection, model_id: str, known: list[str], json: bool) -> None:
    """`select --roles … --explain MODEL`: what the chosen set says about MODEL."""
    if model_id not in known:
        close = difflib.get_close_matches(model_id, known, n=3)
        raise ModelNotFoundError(
            f"no model {model_id!r} in the registry",
            hint="closest ids: " + ", ".join(dict.fromkeys(close))
            if close
            else "run `gpuplan fit` to list the registry's models",
        )
    lines = list(result.about(model_id))
    if not lines:
        lines.append(
            f"{model_id} is not in the set and does not rank above any pick for the roles "
            f"asked ({', '.join(result.roles)}); `gpuplan select --role R --explain "
            f"{model_id}` explains it for one role"
        )
    if json:
        emit_json({"model_id": model_id, "roles": list(result.roles), "explanation": lines})
        return
    for line in lines:
        console.print(escape(line))
