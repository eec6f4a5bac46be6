"""Apply a configuration: save, journal, write the override, recreate what changed.

The order is chosen so that a failure — or a SIGKILL — at any point leaves a
state that is either the old one or recoverable to it:

1. take the apply lock (``flock``; a dead holder releases it);
2. recover any apply an earlier process left unfinished;
3. validate service names against the base Compose file, fall back from vanished
   GPUs, render both files, diff against the last applied configuration;
4. save the new configuration (with its YAML mirror) — a consistent "saved, not
   applied" state, like a PUT;
5. journal the apply (previous saved configuration, previous override text,
   per-service progress all ``pending``) — from here a crash is recoverable;
6. write the override atomically, then recreate each changed service, recording
   ``recreating`` → ``done`` as it goes;
7. on any failure: restore the previous override, restore the previous saved
   configuration (unless someone saved since), recreate the services already
   touched back onto their old GPUs, mark the entry ``failed``.

Recovery (step 2, and ``Applier.recover`` at server start) does step 7 for an
entry still ``in_progress`` whose process is gone, and marks it ``interrupted``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from gpuplan.apply.composefile import check_services, compose_services
from gpuplan.apply.diff import diff_configs
from gpuplan.apply.fallback import fall_back_from_vanished_gpus
from gpuplan.apply.lock import ApplyLock, lock_path_for
from gpuplan.apply.model import ApplyResult, ConfigDiff
from gpuplan.apply.runtime import ComposeRuntime, recreate, recreate_argv
from gpuplan.errors import ApplyError, GpuplanError, StaleWriteError
from gpuplan.fileio import write_atomic
from gpuplan.hardware import Host, Vendor
from gpuplan.hardware.tools import ToolFailure
from gpuplan.launch.assignments_file import render_assignments_file
from gpuplan.launch.compose import render_override
from gpuplan.store.model import GpuConfig, HistoryEntry, HistoryKind, SavedConfig
from gpuplan.store.repository import Repository

__all__ = [
    "Applier",
    "ApplyPlan",
    "Target",
    "default_files",
    "dry_plan",
    "render_mirror",
]

log = logging.getLogger(__name__)

OVERRIDE_NAME = "docker-compose.gpu-override.yml"
MIRROR_NAME = "gpu-assignments.yml"


def default_files(compose_file: Path) -> tuple[Path, Path]:
    """Seed 004's ``config/docker-compose.gpu-override.yml`` and ``config/gpu-assignments.yml``
    beside the base Compose file."""
    config_dir = compose_file.parent / "config"
    return config_dir / OVERRIDE_NAME, config_dir / MIRROR_NAME


@dataclass(frozen=True)
class Target:
    """Where an apply acts: the base file, the generated files, and the runtime."""

    compose_file: Path
    override_file: Path
    mirror_file: Path | None
    runtime: ComposeRuntime

    @classmethod
    def beside(cls, compose_file: Path, runtime: ComposeRuntime) -> Target:
        override, mirror = default_files(compose_file)
        return cls(compose_file, override, mirror, runtime)


def _vendors(host: Host | None) -> dict[int, Vendor]:
    return {gpu.index: gpu.vendor for gpu in host.gpus} if host else {}


def render_override_for(config: GpuConfig, host: Host | None) -> str:
    return render_override(
        config.assignments(), overridden=config.overridden(), vendors=_vendors(host)
    )


def render_mirror(config: GpuConfig) -> str:
    return render_assignments_file(
        config.strategy, config.assignments(), overridden=config.overridden()
    )


EMPTY_OVERRIDE = render_override(())


@dataclass(frozen=True)
class ApplyPlan:
    """What an apply will do: the final configuration, its diff, files and commands."""

    config: GpuConfig
    diff: ConfigDiff
    override_text: str
    warnings: tuple[str, ...]
    target: Target
    commands: tuple[tuple[str, ...], ...]

    def result(self, history_id: int | None, *, dry_run: bool = False) -> ApplyResult:
        return ApplyResult(
            restarted=self.diff.changed_services,
            unchanged=self.diff.unchanged,
            warnings=self.warnings,
            history_id=history_id,
            changes=tuple(c.describe() for c in self.diff.changed),
            commands=self.commands,
            runtime=" ".join(self.target.runtime),
            override_file=str(self.target.override_file),
            dry_run=dry_run,
        )


@dataclass
class Applier:
    """Applies configurations through one repository, as one actor."""

    repo: Repository
    actor: str
    host: Host | None = None
    on_progress: Callable[[str, str], None] | None = None
    recovered: list[str] = field(default_factory=list)

    # -- planning (touches nothing) ----------------------------------------------

    def plan(
        self,
        config: GpuConfig,
        target: Target,
        *,
        applied: GpuConfig | None = None,
        lookup: bool = True,
    ) -> ApplyPlan:
        """The diff against the last applied configuration, and the exact commands."""
        enabled = [s.service for s in config.services if s.enabled]
        check_services(target.compose_file, enabled)
        warnings: list[str] = []
        if self.host is not None:
            config, moved = fall_back_from_vanished_gpus(config, self.host)
            warnings += moved
        if applied is None and lookup:
            last = self.repo.last_applied()
            applied = last.config if last else None
        diff = diff_configs(applied, config)
        known = set(compose_services(target.compose_file))
        gone = [c.service for c in diff.changed if c.after is None and c.service not in known]
        if gone:
            warnings.append(
                f"{', '.join(gone)} left the configuration and the Compose file; "
                "nothing to recreate"
            )
            diff = ConfigDiff(
                changed=tuple(c for c in diff.changed if c.service not in gone),
                unchanged=diff.unchanged,
            )
        commands = tuple(
            recreate_argv(target.runtime, target.compose_file, target.override_file, name)
            for name in diff.changed_services
        )
        return ApplyPlan(
            config=config,
            diff=diff,
            override_text=render_override_for(config, self.host),
            warnings=tuple(warnings),
            target=target,
            commands=commands,
        )

    # -- applying ------------------------------------------------------------------

    def apply(
        self,
        config: GpuConfig,
        target: Target,
        *,
        kind: HistoryKind = "apply",
        save: bool = True,
        extra_warnings: tuple[str, ...] = (),
    ) -> ApplyResult:
        """Apply ``config`` under the lock; ``save`` stores it as the saved one first."""
        lock = ApplyLock(lock_path_for(target.override_file))
        with lock.hold():
            started = self.start(
                config, target, kind=kind, save=save, extra_warnings=extra_warnings
            )
            return self.finish(*started)

    def start(
        self,
        config: GpuConfig,
        target: Target,
        *,
        kind: HistoryKind = "apply",
        save: bool = True,
        extra_warnings: tuple[str, ...] = (),
    ) -> tuple[ApplyPlan, int, SavedConfig | None]:
        """Steps 2–5 (the caller holds the lock): returns the plan and its journal id."""
        self.recover_all(target.override_file)
        plan = self.plan(config, target)
        if extra_warnings:
            plan = ApplyPlan(
                config=plan.config,
                diff=plan.diff,
                override_text=plan.override_text,
                warnings=(*extra_warnings, *plan.warnings),
                target=plan.target,
                commands=plan.commands,
            )
        previous = self.repo.saved()
        previous_override = _read(target.override_file)
        mirror = (target.mirror_file, render_mirror) if target.mirror_file else None
        restore_to: SavedConfig | None = None
        revision = previous.revision
        if save:
            target.override_file.parent.mkdir(parents=True, exist_ok=True)
            saved, _ = self.repo.save(
                plan.config,
                actor=self.actor,
                mirror=mirror,
                warnings=plan.warnings,
                detail=f"saved by {kind}",
            )
            revision = saved.revision
            restore_to = previous
        history_id = self.repo.begin_apply(
            kind=kind,
            actor=self.actor,
            config=plan.config,
            revision=revision,
            previous=restore_to or previous,
            previous_override_text=previous_override,
            override_text=plan.override_text,
            assignments_text=_read(target.mirror_file) if target.mirror_file else None,
            compose_file=target.compose_file,
            override_file=target.override_file,
            mirror_file=target.mirror_file,
            runtime=" ".join(target.runtime),
            services=plan.diff.changed_services,
            warnings=plan.warnings,
        )
        return plan, history_id, restore_to

    def finish(
        self, plan: ApplyPlan, history_id: int, restore_to: SavedConfig | None
    ) -> ApplyResult:
        """Steps 6–7: write the override, recreate, and roll back on any failure."""
        target = plan.target
        touched: list[str] = []
        try:
            target.override_file.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(target.override_file, plan.override_text)
            for argv, name in zip(plan.commands, plan.diff.changed_services, strict=True):
                touched.append(name)
                self._progress(history_id, name, "recreating")
                recreate(argv)
                self._progress(history_id, name, "done")
        except (ToolFailure, OSError, GpuplanError) as error:
            if touched:
                self._progress(history_id, touched[-1], "failed")
            what = _describe_failure(error, target)
            entry = self.repo.entry(history_id)
            notes = self._roll_back(entry, touched, restore=restore_to is not None)
            detail = f"{what}; {notes}"
            self.repo.finish(history_id, "failed", detail=detail)
            raise ApplyError(
                f"apply failed: {detail}",
                hint=f"`gpuplan history` shows entry {history_id}; fix the cause and apply again",
            ) from error
        self.repo.finish(history_id, "applied", detail=f"recreated {len(touched)} service(s)")
        return plan.result(history_id)

    def _progress(self, history_id: int, service: str, state: str) -> None:
        self.repo.set_progress(history_id, service, state)  # type: ignore[arg-type]
        if self.on_progress:
            self.on_progress(service, state)

    # -- rolling back and recovering -------------------------------------------------

    def _roll_back(self, entry: HistoryEntry, touched: list[str], *, restore: bool) -> str:
        """Put the previous override, saved configuration and containers back."""
        notes: list[str] = []
        override = Path(entry.override_file or "")
        previous_text = entry.previous_override_text or EMPTY_OVERRIDE
        try:
            write_atomic(override, previous_text)
            notes.append("restored the previous override")
        except OSError as error:
            notes.append(f"could NOT restore {override}: {error.strerror or error}")
        if restore and entry.previous_config is not None:
            mirror = (Path(entry.mirror_file), render_mirror) if entry.mirror_file else None
            try:
                self.repo.save(
                    entry.previous_config,
                    actor=self.actor,
                    expected_revision=entry.revision,
                    mirror=mirror,
                    kind="restore",
                    detail=f"restored after apply {entry.id} failed",
                )
                notes.append("the previous configuration")
            except StaleWriteError:
                notes.append("kept the configuration saved since (it is newer)")
            except GpuplanError as error:
                notes.append(f"could NOT restore the configuration: {error}")
        runtime = tuple((entry.runtime or "").split())
        back: list[str] = []
        failed: list[str] = []
        for name in touched:
            argv = recreate_argv(runtime, Path(entry.compose_file or ""), override, name)
            try:
                recreate(argv)
            except ToolFailure as failure:
                failed.append(f"{name} ({failure.reason})")
                continue
            self.repo.set_progress(entry.id, name, "reverted")
            back.append(name)
        if back:
            notes.append("recreated " + ", ".join(back) + " back on their previous GPUs")
        if failed:
            notes.append("could NOT recreate " + ", ".join(failed) + " back")
        return ", ".join(notes)

    def recover_all(self, override_file: Path | None = None) -> list[str]:
        """Roll back every apply whose process died midway (the caller holds the lock
        for ``override_file``; entries for other override files take their own)."""
        reports: list[str] = []
        for entry in self.repo.in_progress():
            path = Path(entry.override_file or "")
            if override_file is not None and path == override_file:
                reports.append(self._recover(entry))
                continue
            lock = ApplyLock(lock_path_for(path))
            try:
                lock.acquire()
            except GpuplanError:
                continue  # a live apply holds it: not ours to recover
            try:
                reports.append(self._recover(entry))
            finally:
                lock.release()
        self.recovered += reports
        return reports

    def _recover(self, entry: HistoryEntry) -> str:
        touched = [
            name
            for name, state in entry.progress.items()
            if state in ("recreating", "done", "failed", "reverted")
        ]
        save_row = entry.previous_revision is not None and entry.previous_revision != entry.revision
        notes = self._roll_back(entry, touched, restore=save_row)
        detail = f"interrupted (its process died); recovered: {notes}"
        self.repo.finish(entry.id, "interrupted", detail=detail)
        log.warning("apply %s was %s", entry.id, detail)
        return f"apply {entry.id} was {detail}"

    # -- rollback to an earlier state ---------------------------------------------------

    def resolve_rollback(
        self, history_id: int | None, target: Target | None = None
    ) -> tuple[GpuConfig, Target, tuple[str, ...]]:
        """The configuration to roll back to (default: the one applied before the
        current one), where to apply it, and the warning saying so."""
        current = self.repo.last_applied()
        if history_id is None:
            if current is None:
                raise ApplyError(
                    "nothing has been applied yet, so there is nothing to roll back to",
                    hint="`gpuplan history` lists saved configurations; pass an ID",
                )
            earlier = self.repo.last_applied(before=current.id)
            if earlier is None:
                raise ApplyError(
                    f"apply {current.id} is the only one applied; there is no earlier state",
                    hint="pass a history ID from `gpuplan history`",
                )
            chosen = earlier
        else:
            chosen = self.repo.entry(history_id)
        source = chosen if chosen.compose_file else current
        if target is None:
            if source is None or not source.compose_file or not source.override_file:
                raise ApplyError(
                    f"history entry {chosen.id} was never applied, so gpuplan does not "
                    "know which Compose file to use",
                    hint="pass --compose-file",
                )
            target = Target(
                compose_file=Path(source.compose_file),
                override_file=Path(source.override_file),
                mirror_file=Path(source.mirror_file) if source.mirror_file else None,
                runtime=tuple((source.runtime or "docker compose").split()),
            )
        return chosen.config, target, (f"rolling back to history entry {chosen.id}",)

    def rollback(self, history_id: int | None, target: Target | None = None) -> ApplyResult:
        """Apply an earlier configuration again, recreating only what differs."""
        config, resolved, warnings = self.resolve_rollback(history_id, target)
        return self.apply(config, resolved, kind="rollback", extra_warnings=warnings)


def dry_plan(
    config: GpuConfig, target: Target, *, host: Host | None, applied: GpuConfig | None
) -> ApplyPlan:
    """``Applier.plan`` without a database: the diff against ``applied``, touching nothing."""
    return Applier(repo=None, actor="dry-run", host=host).plan(  # type: ignore[arg-type]
        config, target, applied=applied, lookup=False
    )


def _read(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def _describe_failure(error: BaseException, target: Target) -> str:
    if isinstance(error, ToolFailure):
        return f"{error.command} failed: {error.reason}"
    if isinstance(error, OSError):
        return f"cannot write {target.override_file}: {error.strerror or error}"
    return str(error)
