"""What the seed 004 routes share: the store, the services, the apply running now.

Opened at start-up (migrations run, an apply left unfinished by a dead process
is recovered). The routes stay thin: each calls one method here, which calls the
store and apply stages.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gpuplan.errors import ApplyError, GpuplanError

if TYPE_CHECKING:
    from gpuplan.apply import Applier, ApplyResult, Target
    from gpuplan.hardware import Host
    from gpuplan.placement.model import Service
    from gpuplan.store import Repository
    from gpuplan.store.model import HistoryKind

__all__ = ["GpuConfigService"]

log = logging.getLogger(__name__)


@dataclass
class GpuConfigService:
    database_url: str | None
    services_file: Path | None
    compose_file: Path | None
    runtime: str | None
    repo: Repository | None = None
    error: str | None = None
    recovered: list[str] = field(default_factory=list)
    _thread: threading.Thread | None = None

    def start(self, host: Host | None) -> None:
        from gpuplan.apply import Applier
        from gpuplan.store import open_store

        try:
            self.repo = open_store(self.database_url)
            self.recovered = Applier(self.repo, actor="api:startup", host=host).recover_all()
            if host is not None:
                self.repo.record_devices(host.gpus)
        except GpuplanError as error:
            self.error = str(error)
            log.error("GPU configuration store unavailable: %s", error)

    def require_repo(self) -> Repository:
        if self.repo is None:
            from fastapi import HTTPException

            raise HTTPException(
                status_code=503,
                detail=f"GPU configuration store not initialized: {self.error or 'not started'}",
            )
        return self.repo

    def load_services(self) -> tuple[Service, ...] | None:
        if self.services_file is None:
            return None
        from gpuplan.placement.services import load_services

        services: tuple[Service, ...] = load_services(self.services_file)
        return services

    def mirror_file(self) -> Path:
        if self.compose_file is not None:
            from gpuplan.apply import default_files

            return default_files(self.compose_file.resolve())[1]
        from gpuplan.store.db import default_sqlite_path

        return default_sqlite_path().parent / "gpu-assignments.yml"

    def target(self) -> Target:
        from gpuplan.apply import Target, detect_runtime

        if self.compose_file is None:
            raise ApplyError(
                "this server does not know your Compose file, so it cannot apply",
                hint="start it with `gpuplan serve --compose-file docker-compose.yml` "
                "(or GPUPLAN_COMPOSE_FILE)",
            )
        runtime = detect_runtime(self.runtime)  # type: ignore[arg-type]
        return Target.beside(self.compose_file.resolve(), runtime)

    def applier(self, actor: str, host: Host | None) -> Applier:
        from gpuplan.apply import Applier

        return Applier(self.require_repo(), actor=actor, host=host)

    def start_apply(
        self, actor: str, host: Host | None, *, history_id: int | None = None
    ) -> ApplyResult:
        """Steps up to the journal now (errors answer the request); recreate in a thread."""
        from gpuplan.apply.lock import ApplyLock, lock_path_for

        repo = self.require_repo()
        target = self.target()
        applier = self.applier(actor, host)
        kind: HistoryKind = "apply"
        extra: tuple[str, ...] = ()
        if history_id is None:
            config = repo.saved().config
            save = False
        else:
            config, target, extra = applier.resolve_rollback(history_id, target)
            kind, save = "rollback", True
        lock = ApplyLock(lock_path_for(target.override_file))
        lock.acquire()
        try:
            plan, journal_id, restore = applier.start(
                config,
                target,
                kind=kind,
                save=save,
                extra_warnings=extra,
            )
        except BaseException:
            lock.release()
            raise

        def run() -> None:
            try:
                applier.finish(plan, journal_id, restore)
            except GpuplanError as error:
                log.error("apply %s failed: %s", journal_id, error)
            finally:
                lock.release()

        self._thread = threading.Thread(target=run, name=f"gpuplan-apply-{journal_id}")
        self._thread.start()
        return plan.result(journal_id)

    def wait(self, timeout_s: float | None = None) -> None:
        """Wait for the apply thread (tests, shutdown)."""
        if self._thread is not None:
            self._thread.join(timeout_s)

    def status(self) -> dict[str, Any]:
        from gpuplan.apply.report import status_report

        report = status_report(self.require_repo(), compose_file=self.compose_file)
        report["recovered_at_start"] = list(self.recovered)
        return report
