"""Seed 003's tuning routes: profiles, tasks from context, start, progress, results."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request

from gpuplan.api.errors import error_responses
from gpuplan.api.schemas.tuning import (
    ProfileDetail,
    ProfileSummary,
    TaskCreated,
    TaskDetail,
    TaskProgress,
    TaskResults,
)
from gpuplan.tuning.factory import TaskContext
from gpuplan.tuning.persist import TuningStore
from gpuplan.tuning.profiles import ProfileRegistry, default_registry
from gpuplan.tuning.runner import load_result
from gpuplan.tuning.service import (
    TaskRunner,
    create_task,
    progress_of,
    render_plan,
    result_document,
    task_response,
)

router = APIRouter(tags=["tuning"], responses=error_responses(400, 404, 409))


def _store(request: Request) -> TuningStore:
    state = request.app.state
    if getattr(state, "tuning_store", None) is None:
        state.tuning_store = TuningStore()
    store: TuningStore = state.tuning_store
    return store


def _registry(request: Request) -> ProfileRegistry:
    state = request.app.state
    if getattr(state, "tuning_profiles", None) is None:
        state.tuning_profiles = default_registry()
    registry: ProfileRegistry = state.tuning_profiles
    return registry


def _runner(request: Request) -> TaskRunner:
    state = request.app.state
    store = _store(request)
    runner: TaskRunner | None = getattr(state, "tuning_runner", None)
    if runner is None or runner.store is not store:
        runner = TaskRunner(store)
        state.tuning_runner = runner
    return runner


@router.get(
    "/api/profiles/", summary="Tuning profiles (seed 003)", response_model=list[ProfileSummary]
)
def list_profiles(request: Request) -> list[dict[str, Any]]:
    return [profile.summary() for profile in _registry(request)]


@router.get(
    "/api/profiles/{name}",
    summary="One tuning profile with its layer names (seed 003)",
    response_model=ProfileDetail,
    responses={404: {"description": "No tuning profile of that name"}},
)
def get_profile(name: str, request: Request) -> dict[str, Any]:
    return _registry(request).require(name).summary(details=True)


@router.post(
    "/api/tasks/from-context",
    status_code=201,
    summary="Create a tuning task from layers: base → mode → runtime → profiles → overrides",
    response_model=TaskCreated,
)
def task_from_context(context: TaskContext, request: Request) -> dict[str, Any]:
    build = create_task(_store(request), context, _registry(request))
    return task_response(build)


@router.get("/api/tasks/{task}", summary="A task's config and progress", response_model=TaskDetail)
def get_task(task: str, request: Request) -> dict[str, Any]:
    store = _store(request)
    row = store.task(task)
    return {
        **progress_of(store, task),
        "generated_config": row.config.model_dump(mode="json"),
        "plan": render_plan(row.config),
    }


@router.post(
    "/api/tasks/{task}/start",
    status_code=202,
    summary="Start or resume a task",
    response_model=TaskProgress,
)
def start_task(task: str, request: Request) -> dict[str, Any]:
    started = _runner(request).start(task)
    if not started:
        raise HTTPException(status_code=409, detail=f"tuning task {task!r} is already running")
    return progress_of(_store(request), task)


@router.get(
    "/api/tasks/{task}/progress",
    summary="Experiments finished of those planned",
    response_model=TaskProgress,
)
def task_progress(task: str, request: Request) -> dict[str, Any]:
    return progress_of(_store(request), task)


@router.get(
    "/api/tasks/{task}/results",
    summary="Every experiment, its score, and the best",
    response_model=TaskResults,
)
def task_results(task: str, request: Request) -> dict[str, Any]:
    return dict(result_document(load_result(_store(request), task)))
