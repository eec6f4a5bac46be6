"""Every query gpuplan makes, in one place, each in its own short transaction.

A save is one transaction: compare-and-swap the revision, upsert seed 004's
``gpu_configurations`` rows, set ``system_settings.gpu_assignment_strategy``,
append a history entry — and write the YAML mirror before committing, so a
mirror that cannot be written rolls the whole save back (seed 004: "Config file
write fails → DB transaction rolled back"). The mirror is always rendered from
what is being committed, never read back.

On SQLite every writing transaction begins with its write (the revision update),
so WAL's busy timeout serialises concurrent writers instead of failing them.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from gpuplan.errors import HistoryNotFoundError, StaleWriteError, StoreError
from gpuplan.fileio import write_atomic
from gpuplan.hardware import GPU
from gpuplan.store.model import (
    DeviceRecord,
    GpuConfig,
    HistoryEntry,
    HistoryKind,
    Outcome,
    Progress,
    SavedConfig,
    ServiceConfig,
)
from gpuplan.store.tables import (
    GpuConfigHistory,
    GpuConfigState,
    GpuConfiguration,
    GpuDevice,
    SystemSetting,
)

__all__ = ["MirrorRenderer", "Repository", "sha256"]

log = logging.getLogger(__name__)

MirrorRenderer = Callable[[GpuConfig], str]
"""Renders ``config/gpu-assignments.yml`` for a configuration about to be committed."""

STATE_ID = 1
STRATEGY_KEY = "gpu_assignment_strategy"


def sha256(text: str | None) -> str | None:
    return None if text is None else hashlib.sha256(text.encode("utf-8")).hexdigest()


def _utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes for TIMESTAMPTZ columns; they are UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _row_to_service(row: GpuConfiguration) -> ServiceConfig:
    indices = tuple(row.gpu_indices or ())
    if not indices and row.gpu_index is not None:
        indices = (row.gpu_index,)  # a row written by seed 004's own code
    override = row.vram_budget_override
    return ServiceConfig(
        service=row.service_name,
        gpu_indices=indices,
        mig_device=row.mig_device,
        model=row.model,
        vram_budget_mb=row.vram_budget_mb,
        vram_budget_override_mb=None if override is None else round(override * 1024),
        budget_adjusted=row.budget_adjusted,
        reason=row.reason,
        enabled=row.enabled is not False,
    )


def _fill_row(row: GpuConfiguration, service: ServiceConfig, strategy: str, position: int) -> None:
    row.gpu_index = service.gpu_indices[0] if service.gpu_indices else None
    row.gpu_indices = list(service.gpu_indices)
    row.strategy = strategy
    override = service.vram_budget_override_mb
    row.vram_budget_override = None if override is None else override / 1024
    row.enabled = service.enabled
    row.position = position
    row.mig_device = service.mig_device
    row.model = service.model
    row.vram_budget_mb = service.vram_budget_mb
    row.budget_adjusted = service.budget_adjusted
    row.reason = service.reason


def _entry(row: GpuConfigHistory) -> HistoryEntry:
    return HistoryEntry(
        id=row.id,
        kind=row.kind,
        outcome=row.outcome,
        actor=row.actor,
        created_at=_utc(row.created_at) or datetime.now(UTC),
        finished_at=_utc(row.finished_at),
        revision=row.revision,
        strategy=row.strategy,
        config=GpuConfig.model_validate(row.config),
        override_text=row.override_text,
        override_sha256=row.override_sha256,
        assignments_text=row.assignments_text,
        assignments_sha256=row.assignments_sha256,
        detail=row.detail,
        warnings=tuple(row.warnings or ()),
        previous_config=(
            None if row.previous_config is None else GpuConfig.model_validate(row.previous_config)
        ),
        previous_override_text=row.previous_override_text,
        previous_revision=row.previous_revision,
        compose_file=row.compose_file,
        override_file=row.override_file,
        mirror_file=row.mirror_file,
        runtime=row.runtime,
        progress=dict(row.progress or {}),
    )


class Repository:
    """The configuration database: saved assignments, devices, settings, history."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    # -- set-up --------------------------------------------------------------------

    def ensure_state(self) -> None:
        """Create the revision row (revision 0) if this database has none yet."""
        with self._sessions() as session:
            if session.get(GpuConfigState, STATE_ID) is not None:
                return
            session.add(
                GpuConfigState(id=STATE_ID, revision=0, strategy="manual", updated_by="gpuplan")
            )
            try:
                session.commit()
            except IntegrityError:  # another process created it first
                session.rollback()

    # -- the saved configuration ---------------------------------------------------

    def saved(self) -> SavedConfig:
        """The saved configuration and its revision."""
        with self._guard("read the GPU configuration"), self._sessions() as session:
            return self._saved(session)

    def _saved(self, session: Session) -> SavedConfig:
        state = session.get(GpuConfigState, STATE_ID)
        rows = session.scalars(
            select(GpuConfiguration).order_by(
                GpuConfiguration.position, GpuConfiguration.service_name
            )
        ).all()
        strategy = state.strategy if state else "manual"
        config = GpuConfig.model_validate(
            {"strategy": strategy, "services": [_row_to_service(r) for r in rows]}
        )
        return SavedConfig(
            revision=state.revision if state else 0,
            config=config,
            updated_at=_utc(state.updated_at) if state else None,
            updated_by=state.updated_by if state else "",
        )

    def save(
        self,
        config: GpuConfig,
        *,
        actor: str,
        expected_revision: int | None = None,
        mirror: tuple[Path, MirrorRenderer] | None = None,
        kind: HistoryKind = "save",
        warnings: Sequence[str] = (),
        detail: str = "",
    ) -> tuple[SavedConfig, int]:
        """Save ``config``; returns the new saved state and the history entry's id.

        ``expected_revision`` makes it a compare-and-swap (``StaleWriteError``
        when someone saved in between). ``mirror`` is the YAML file and its
        renderer: it is written before the commit, and a failed write rolls the
        save back.
        """
        with self._guard("save the GPU configuration"), self._sessions() as session:
            with session.begin():
                revision = self._bump(session, config, actor, expected_revision)
                existing = {r.service_name: r for r in session.scalars(select(GpuConfiguration))}
                keep = {s.service for s in config.services}
                for name, row in existing.items():
                    if name not in keep:
                        session.delete(row)
                for position, service in enumerate(config.services):
                    row = existing.get(service.service) or GpuConfiguration(
                        service_name=service.service
                    )
                    _fill_row(row, service, config.strategy, position)
                    session.add(row)
                self._set_setting(session, STRATEGY_KEY, {"default": config.strategy})
                text = mirror[1](config) if mirror else None
                history = GpuConfigHistory(
                    kind=kind,
                    outcome="saved",
                    actor=actor,
                    revision=revision,
                    strategy=config.strategy,
                    config=config.model_dump(mode="json"),
                    assignments_text=text,
                    assignments_sha256=sha256(text),
                    mirror_file=str(mirror[0]) if mirror else None,
                    detail=detail,
                    warnings=list(warnings),
                    progress={},
                )
                session.add(history)
                session.flush()
                if mirror and text is not None:
                    try:
                        mirror[0].parent.mkdir(parents=True, exist_ok=True)
                        write_atomic(mirror[0], text)
                    except OSError as error:
                        raise StoreError(
                            f"cannot write {mirror[0]}: {error.strerror or error}; "
                            "the save was rolled back",
                            hint="check that its directory can be created and written",
                        ) from error
                history_id = history.id
            return self._saved(session), history_id

    def _bump(self, session: Session, config: GpuConfig, actor: str, expected: int | None) -> int:
        values: dict[str, Any] = {
            "strategy": config.strategy,
            "updated_by": actor[:128],
            "updated_at": func.now(),
        }
        where = [GpuConfigState.id == STATE_ID]
        if expected is not None:
            where.append(GpuConfigState.revision == expected)
        result = session.execute(
            update(GpuConfigState)
            .where(*where)
            .values(revision=GpuConfigState.revision + 1, **values)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            current = session.scalar(select(GpuConfigState.revision)) or 0
            if expected is not None:
                raise StaleWriteError(expected, current)
            raise StoreError("the GPU configuration's revision row is missing")
        revision = session.scalar(
            select(GpuConfigState.revision).where(GpuConfigState.id == STATE_ID)
        )
        return int(revision or 0)

    # -- settings and devices ------------------------------------------------------

    def _set_setting(self, session: Session, key: str, value: Any) -> None:
        row = session.get(SystemSetting, key)
        if row is None:
            session.add(SystemSetting(key=key, value=value))
        else:
            row.value = value
            row.updated_at = func.now()

    def setting(self, key: str) -> Any:
        with self._guard(f"read setting {key}"), self._sessions() as session:
            row = session.get(SystemSetting, key)
            return None if row is None else row.value

    def set_setting(self, key: str, value: Any) -> None:
        with self._guard(f"write setting {key}"), self._sessions() as session, session.begin():
            self._set_setting(session, key, value)

    def record_devices(self, gpus: Iterable[GPU]) -> tuple[DeviceRecord, ...]:
        """Upsert seed 004's ``gpu_devices`` from a detection; unseen GPUs keep their row."""
        with self._guard("record detected GPUs"), self._sessions() as session:
            with session.begin():
                rows = {r.gpu_index: r for r in session.scalars(select(GpuDevice))}
                for gpu in gpus:
                    row = rows.get(gpu.index) or GpuDevice(gpu_index=gpu.index)
                    row.name = gpu.name[:128]
                    row.vram_total_mb = gpu.vram_total_mb
                    row.vram_available_mb = gpu.vram_free_mb
                    row.compute_capability = gpu.compute_capability
                    row.vendor = gpu.vendor
                    row.last_seen_at = datetime.now(UTC)
                    session.add(row)
            return self._devices(session)

    def devices(self) -> tuple[DeviceRecord, ...]:
        with self._guard("read gpu_devices"), self._sessions() as session:
            return self._devices(session)

    def _devices(self, session: Session) -> tuple[DeviceRecord, ...]:
        rows = session.scalars(select(GpuDevice).order_by(GpuDevice.gpu_index)).all()
        return tuple(
            DeviceRecord(
                gpu_index=r.gpu_index,
                name=r.name,
                vram_total_mb=r.vram_total_mb,
                vram_available_mb=r.vram_available_mb,
                compute_capability=r.compute_capability,
                vendor=r.vendor,
                last_seen_at=_utc(r.last_seen_at),
            )
            for r in rows
        )

    # -- history and the apply journal ---------------------------------------------

    def begin_apply(
        self,
        *,
        kind: HistoryKind,
        actor: str,
        config: GpuConfig,
        revision: int,
        previous: SavedConfig,
        previous_override_text: str | None,
        override_text: str,
        assignments_text: str | None,
        compose_file: Path,
        override_file: Path,
        mirror_file: Path | None,
        runtime: str,
        services: Sequence[str],
        warnings: Sequence[str],
    ) -> int:
        """Journal an apply before it touches anything; returns its history id."""
        with self._guard("journal the apply"), self._sessions() as session, session.begin():
            row = GpuConfigHistory(
                kind=kind,
                outcome="in_progress",
                actor=actor,
                revision=revision,
                strategy=config.strategy,
                config=config.model_dump(mode="json"),
                override_text=override_text,
                override_sha256=sha256(override_text),
                assignments_text=assignments_text,
                assignments_sha256=sha256(assignments_text),
                previous_config=previous.config.model_dump(mode="json"),
                previous_override_text=previous_override_text,
                previous_revision=previous.revision,
                compose_file=str(compose_file),
                override_file=str(override_file),
                mirror_file=None if mirror_file is None else str(mirror_file),
                runtime=runtime,
                warnings=list(warnings),
                progress={name: "pending" for name in services},
                detail="",
            )
            session.add(row)
            session.flush()
            return row.id

    def set_progress(self, history_id: int, service: str, state: Progress) -> None:
        with self._guard("record apply progress"), self._sessions() as session, session.begin():
            row = session.get(GpuConfigHistory, history_id, with_for_update=True)
            if row is None:
                raise HistoryNotFoundError(f"no history entry {history_id}")
            row.progress = {**(row.progress or {}), service: state}

    def finish(
        self, history_id: int, outcome: Outcome, *, detail: str = "", warnings: Sequence[str] = ()
    ) -> None:
        with (
            self._guard("record the apply's outcome"),
            self._sessions() as session,
            session.begin(),
        ):
            row = session.get(GpuConfigHistory, history_id, with_for_update=True)
            if row is None:
                raise HistoryNotFoundError(f"no history entry {history_id}")
            row.outcome = outcome
            row.detail = detail
            row.finished_at = datetime.now(UTC)
            if warnings:
                row.warnings = [*(row.warnings or ()), *warnings]

    def history(self, limit: int = 50) -> tuple[HistoryEntry, ...]:
        """Newest first."""
        with self._guard("read the history"), self._sessions() as session:
            rows = session.scalars(
                select(GpuConfigHistory).order_by(GpuConfigHistory.id.desc()).limit(limit)
            ).all()
            return tuple(_entry(r) for r in rows)

    def entry(self, history_id: int) -> HistoryEntry:
        with self._guard("read the history"), self._sessions() as session:
            row = session.get(GpuConfigHistory, history_id)
            if row is None:
                raise HistoryNotFoundError(
                    f"no history entry {history_id}",
                    hint="`gpuplan history` lists the entries",
                )
            return _entry(row)

    def in_progress(self) -> tuple[HistoryEntry, ...]:
        """Applies journaled but never finished (their process died)."""
        with self._guard("read the apply journal"), self._sessions() as session:
            rows = session.scalars(
                select(GpuConfigHistory)
                .where(GpuConfigHistory.outcome == "in_progress")
                .order_by(GpuConfigHistory.id)
            ).all()
            return tuple(_entry(r) for r in rows)

    def last_applied(self, *, before: int | None = None) -> HistoryEntry | None:
        """The newest successfully applied configuration (older than ``before``)."""
        with self._guard("read the history"), self._sessions() as session:
            query = select(GpuConfigHistory).where(GpuConfigHistory.outcome == "applied")
            if before is not None:
                query = query.where(GpuConfigHistory.id < before)
            row = session.scalars(query.order_by(GpuConfigHistory.id.desc()).limit(1)).first()
            return None if row is None else _entry(row)

    def latest_apply(self) -> HistoryEntry | None:
        """The newest apply or rollback, whatever its outcome (for the status endpoint)."""
        with self._guard("read the history"), self._sessions() as session:
            row = session.scalars(
                select(GpuConfigHistory)
                .where(GpuConfigHistory.kind.in_(("apply", "rollback")))
                .order_by(GpuConfigHistory.id.desc())
                .limit(1)
            ).first()
            return None if row is None else _entry(row)

    def clear_configurations(self) -> None:
        """Delete every saved assignment (tests and `--reset` only)."""
        with self._sessions() as session, session.begin():
            session.execute(delete(GpuConfiguration))

    # -- errors ----------------------------------------------------------------------

    @contextlib.contextmanager
    def _guard(self, what: str) -> Iterator[None]:
        """Turn a driver error into one ``StoreError`` line naming the database."""
        try:
            yield
        except SQLAlchemyError as error:
            url = self.engine.url.render_as_string(hide_password=True)
            raise StoreError(
                f"cannot {what} in {url}: {str(error).splitlines()[0]}",
                hint="check GPUPLAN_DATABASE_URL and that the database server is running",
            ) from error
