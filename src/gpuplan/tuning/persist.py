"""Tuning tasks, experiments and scores in SQLite (stdlib ``sqlite3``, its own tables).

Self-contained on purpose: the store stage owns the GPU-config tables; these are
``tuning_tasks`` and ``tuning_experiments`` in a file of their own (default
``$XDG_DATA_HOME/gpuplan/tuning.sqlite3``, or ``GPUPLAN_TUNING_DB``). An experiment row
is written *before* it runs (status ``running``) and completed after, each in its own
transaction, so a crash leaves every finished experiment with its score and at most one
``running`` row, which a resumed task runs again. Parameters are stored as run.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gpuplan.errors import TaskNotFoundError, TuningConfigError
from gpuplan.tuning.experiment import ExperimentOutcome
from gpuplan.tuning.model import TaskConfig
from gpuplan.tuning.scoring import Score

__all__ = ["ExperimentRow", "TaskRow", "TuningStore", "default_db_path"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tuning_tasks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    study_name TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,
    config_json TEXT NOT NULL,
    build_json TEXT NOT NULL DEFAULT '{}',
    best_seq INTEGER,
    best_reason TEXT,
    error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tuning_experiments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id INTEGER NOT NULL REFERENCES tuning_tasks(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    params_json TEXT NOT NULL,
    params_key TEXT NOT NULL,
    status TEXT NOT NULL,
    outcome_json TEXT,
    score_json TEXT,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    UNIQUE (task_id, seq)
);
"""


def default_db_path() -> Path:
    env = os.environ.get("GPUPLAN_TUNING_DB")
    if env:
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "gpuplan" / "tuning.sqlite3"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class TaskRow:
    id: int
    name: str
    study_name: str
    status: str
    config: TaskConfig
    build: dict[str, Any]
    best_seq: int | None
    best_reason: str | None
    error: str | None
    created_at: str
    updated_at: str


@dataclass(frozen=True)
class ExperimentRow:
    seq: int
    params: dict[str, Any]
    params_key: str
    status: str
    outcome: ExperimentOutcome | None
    score: Score | None
    started_at: str
    finished_at: str | None


class TuningStore:
    """One SQLite file; a connection per operation, so threads may share the store."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path is not None else default_db_path()
        if str(self.path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.executescript(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA foreign_keys = ON")
        try:
            with db:
                yield db
        finally:
            db.close()

    def create_task(self, config: TaskConfig, build: dict[str, Any] | None = None) -> TaskRow:
        """A new task; its Optuna study is named after its unique name, never a default."""
        now = _now()
        try:
            with self._connect() as db:
                db.execute(
                    "INSERT INTO tuning_tasks (name, study_name, status, config_json, build_json,"
                    " created_at, updated_at) VALUES (?, ?, 'pending', ?, ?, ?, ?)",
                    (
                        config.task_name,
                        f"gpuplan-tune-{config.task_name}",
                        config.model_dump_json(),
                        json.dumps(build or {}),
                        now,
                        now,
                    ),
                )
        except sqlite3.IntegrityError as exc:
            raise TuningConfigError(
                f"a tuning task named {config.task_name!r} already exists",
                hint="pick another task_name, or omit it for a generated one; "
                "`gpuplan tune show NAME` shows the existing task",
            ) from exc
        return self.task(config.task_name)

    def task(self, name_or_id: str | int) -> TaskRow:
        with self._connect() as db:
            row = db.execute(
                "SELECT * FROM tuning_tasks WHERE name = ? OR CAST(id AS TEXT) = ?",
                (str(name_or_id), str(name_or_id)),
            ).fetchone()
        if row is None:
            raise TaskNotFoundError(
                f"no tuning task {name_or_id!r}", hint="`gpuplan tune show` lists the tasks"
            )
        return _task_row(row)

    def tasks(self) -> list[TaskRow]:
        with self._connect() as db:
            rows = db.execute("SELECT * FROM tuning_tasks ORDER BY id").fetchall()
        return [_task_row(r) for r in rows]

    def set_status(
        self,
        task_id: int,
        status: str,
        *,
        best_seq: int | None = None,
        best_reason: str | None = None,
        error: str | None = None,
    ) -> None:
        with self._connect() as db:
            db.execute(
                "UPDATE tuning_tasks SET status = ?, best_seq = ?, best_reason = ?, error = ?,"
                " updated_at = ? WHERE id = ?",
                (status, best_seq, best_reason, error, _now(), task_id),
            )

    def start_experiment(self, task_id: int, seq: int, params: dict[str, Any], key: str) -> None:
        with self._connect() as db:
            db.execute(
                "DELETE FROM tuning_experiments WHERE task_id = ? AND seq = ? AND"
                " status = 'running'",
                (task_id, seq),
            )
            db.execute(
                "INSERT INTO tuning_experiments (task_id, seq, params_json, params_key, status,"
                " started_at) VALUES (?, ?, ?, ?, 'running', ?)",
                (task_id, seq, json.dumps(params), key, _now()),
            )

    def finish_experiment(
        self, task_id: int, seq: int, outcome: ExperimentOutcome, score: Score, key: str
    ) -> None:
        """Record the outcome; the params stored are the outcome's (what really ran)."""
        with self._connect() as db:
            db.execute(
                "UPDATE tuning_experiments SET status = 'done', params_json = ?, params_key = ?,"
                " outcome_json = ?, score_json = ?, finished_at = ? WHERE task_id = ? AND seq = ?",
                (
                    json.dumps(outcome.params),
                    key,
                    outcome.model_dump_json(),
                    score.model_dump_json(),
                    _now(),
                    task_id,
                    seq,
                ),
            )

    def drop_unfinished(self, task_id: int) -> int:
        """Forget experiments a crash interrupted; they run again on resume."""
        with self._connect() as db:
            cursor = db.execute(
                "DELETE FROM tuning_experiments WHERE task_id = ? AND status = 'running'",
                (task_id,),
            )
            return cursor.rowcount

    def experiments(self, task_id: int) -> list[ExperimentRow]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT * FROM tuning_experiments WHERE task_id = ? ORDER BY seq", (task_id,)
            ).fetchall()
        return [
            ExperimentRow(
                seq=r["seq"],
                params=json.loads(r["params_json"]),
                params_key=r["params_key"],
                status=r["status"],
                outcome=ExperimentOutcome.model_validate_json(r["outcome_json"])
                if r["outcome_json"]
                else None,
                score=Score.model_validate_json(r["score_json"]) if r["score_json"] else None,
                started_at=r["started_at"],
                finished_at=r["finished_at"],
            )
            for r in rows
        ]


def _task_row(row: sqlite3.Row) -> TaskRow:
    return TaskRow(
        id=row["id"],
        name=row["name"],
        study_name=row["study_name"],
        status=row["status"],
        config=TaskConfig.model_validate_json(row["config_json"]),
        build=json.loads(row["build_json"]),
        best_seq=row["best_seq"],
        best_reason=row["best_reason"],
        error=row["error"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
