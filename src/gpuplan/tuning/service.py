"""The one facade the CLI and the HTTP API call: build, render, start, follow, read.

Routes and commands stay thin: everything they show is computed here. ``render_plan``
is the dry run — the generated config and, per planned point, the exact command
(``local``/``docker``) or manifest (``ome``) that would start it.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from gpuplan.errors import TuningError
from gpuplan.tuning.commands import docker_argv, gpus_for, local_launch, ome_manifest
from gpuplan.tuning.experiment import Executor
from gpuplan.tuning.factory import TaskBuild, TaskContext, build_task
from gpuplan.tuning.model import TaskConfig
from gpuplan.tuning.persist import TuningStore
from gpuplan.tuning.profiles import ProfileRegistry
from gpuplan.tuning.runner import TaskResult, load_result, planned_points, run_task
from gpuplan.tuning.space import grid

__all__ = [
    "TaskRunner",
    "create_task",
    "executor_for",
    "progress_of",
    "render_plan",
    "task_response",
]


def create_task(
    store: TuningStore, context: TaskContext, registry: ProfileRegistry | None = None
) -> TaskBuild:
    """Build the task from its layers and persist it (status ``pending``)."""
    build = build_task(context, registry)
    store.create_task(
        build.config,
        {
            "applied_layers": build.applied_layers,
            "warnings": build.warnings,
            "provenance": {k: str(v.origin) for k, v in build.provenance.items()},
        },
    )
    return build


def task_response(build: TaskBuild) -> dict[str, Any]:
    """``POST /api/tasks/from-context``'s body."""
    return {
        "task_name": build.config.task_name,
        "generated_config": build.generated_config,
        "applied_layers": build.applied_layers,
        "warnings": build.warnings,
        "provenance": {k: str(v.origin) for k, v in build.provenance.items()},
    }


def render_plan(config: TaskConfig) -> list[dict[str, Any]]:
    """Each point the strategy will try and how it would be started (nothing runs)."""
    points = planned_points(config) or grid(config.parameters)[: config.optimization.max_iterations]
    rendered: list[dict[str, Any]] = []
    for index, params in enumerate(points, start=1):
        item: dict[str, Any] = {"seq": index, "params": params}
        item["gpus"] = gpus_for(config.base_runtime, params)
        name = f"{config.task_name}-exp{index}"
        if config.deployment_mode == "local":
            item["argv"] = list(local_launch(config, params, 8000).argv)
        elif config.deployment_mode == "docker":
            item["argv"] = list(docker_argv(config, params, name, list(range(item["gpus"]))))
        else:
            item["manifests"] = ome_manifest(config, params, name)
        rendered.append(item)
    return rendered


def executor_for(config: TaskConfig) -> Executor:
    if config.deployment_mode == "local":
        from gpuplan.tuning.local import LocalExecutor

        return LocalExecutor()
    if config.deployment_mode == "docker":
        from gpuplan.tuning.local import DockerExecutor

        return DockerExecutor()
    raise TuningError(
        f"task {config.task_name!r}: ome mode renders Kubernetes manifests but does not "
        "apply them to a cluster",
        hint="use --dry-run (or GET the plan) and apply the manifests yourself, or run "
        "with --mode local or docker",
    )


def progress_of(store: TuningStore, task: str | int) -> dict[str, Any]:
    """Status, experiments finished and planned, and the best so far."""
    row = store.task(task)
    experiments = store.experiments(row.id)
    done = [e for e in experiments if e.status == "done"]
    config = row.config
    total = min(config.optimization.max_iterations, len(grid(config.parameters)))
    result = load_result(store, task)
    return {
        "task_name": row.name,
        "status": row.status,
        "completed": len(done),
        "running": [e.seq for e in experiments if e.status == "running"],
        "total": total,
        "best_seq": result.best_seq,
        "best_reason": result.best_reason,
        "error": row.error,
    }


class TaskRunner:
    """Runs tasks in background threads (one per task), for the HTTP API."""

    def __init__(self, store: TuningStore) -> None:
        self.store = store
        self._threads: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()

    def start(self, task: str, executor: Executor | None = None) -> bool:
        """Start (or resume) ``task``; False if it is already running here."""
        row = self.store.task(task)
        chosen = executor or executor_for(row.config)
        with self._lock:
            current = self._threads.get(row.name)
            if current is not None and current.is_alive():
                return False
            thread = threading.Thread(
                target=self._run, args=(row.name, chosen), name=f"tune-{row.name}", daemon=True
            )
            self._threads[row.name] = thread
            thread.start()
        return True

    def _run(self, task: str, executor: Executor) -> None:
        try:
            run_task(self.store, task, executor)
        except Exception as exc:  # recorded on the task; the thread must not die loudly
            row = self.store.task(task)
            self.store.set_status(row.id, "failed", error=f"{type(exc).__name__}: {exc}")

    def join(self, task: str, timeout: float | None = None) -> None:
        thread = self._threads.get(task)
        if thread is not None:
            thread.join(timeout)


def result_document(result: TaskResult) -> Mapping[str, Any]:
    body = result.model_dump(mode="json")
    best = result.best
    body["best"] = best.model_dump(mode="json") if best else None
    return body
