"""The store on SQLite and PostgreSQL: migrations, saves, the mirror, history, devices."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import yaml
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from gpuplan.errors import HistoryNotFoundError, StaleWriteError, StoreError
from gpuplan.hardware import GPU
from gpuplan.launch.assignments_file import render_assignments_file
from gpuplan.store import GpuConfig, ServiceConfig, open_store
from gpuplan.store.db import downgrade, make_engine, migrate, schema_revision
from gpuplan.store.tables import Base

SEED_TABLES = {"gpu_configurations", "gpu_devices", "system_settings"}


def _config(*pairs: tuple[str, int], strategy: str = "manual") -> GpuConfig:
    return GpuConfig.model_validate(
        {
            "strategy": strategy,
            "services": [
                {"service": name, "gpu_indices": [gpu], "vram_budget_mb": 1000}
                for name, gpu in pairs
            ],
        }
    )


def _mirror(path: Path) -> tuple[Path, object]:
    def render(config: GpuConfig) -> str:
        return render_assignments_file(
            config.strategy, config.assignments(), overridden=config.overridden()
        )

    return path, render


def test_migrations_go_up_down_and_up_again(db_url: str) -> None:
    engine = make_engine(db_url)
    migrate(engine)
    assert schema_revision(engine) == "0001"
    tables = set(inspect(engine).get_table_names())
    assert SEED_TABLES | {"gpu_config_history", "gpu_config_state"} <= tables
    downgrade(engine)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    migrate(engine)
    assert schema_revision(engine) == "0001"
    engine.dispose()


def test_head_revision_constant_is_the_newest_migration() -> None:
    from importlib.resources import files

    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from gpuplan.store.db import HEAD_REVISION

    config = Config()
    config.set_main_option("script_location", str(files("gpuplan.store") / "migrations"))
    assert ScriptDirectory.from_config(config).get_heads() == [HEAD_REVISION]


def test_the_migration_builds_exactly_the_tables_in_the_code(db_url: str) -> None:
    engine = make_engine(db_url)
    migrate(engine)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []
    engine.dispose()


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    repo = open_store(f"sqlite:///{tmp_path / 'x.db'}")
    with repo.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"


def test_default_database_lives_in_the_user_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    from gpuplan.store.db import database_url

    assert database_url() == f"sqlite:///{tmp_path / 'gpuplan' / 'gpuplan.db'}"
    monkeypatch.setenv("GPUPLAN_DATABASE_URL", "postgresql://u@h/db")
    assert database_url() == "postgresql+psycopg://u@h/db"


def test_save_round_trips_and_bumps_the_revision(db_url: str, tmp_path: Path) -> None:
    repo = open_store(db_url)
    assert repo.saved().revision == 0 and repo.saved().config.services == ()
    config = GpuConfig(
        strategy="vram_based",
        services=(
            ServiceConfig(service="ai-llm", gpu_indices=(0,), vram_budget_mb=22221, reason="big"),
            ServiceConfig(
                service="ai-enrichment",
                gpu_indices=(1,),
                vram_budget_mb=3584,
                vram_budget_override_mb=3584,
            ),
            ServiceConfig(service="tp", gpu_indices=(0, 1), mig_device=None, vram_budget_mb=10),
        ),
    )
    saved, history_id = repo.save(config, actor="test", mirror=_mirror(tmp_path / "m.yml"))  # type: ignore[arg-type]
    assert saved.revision == 1
    assert saved.config == config
    assert repo.saved().config == config
    assert repo.setting("gpu_assignment_strategy") == {"default": "vram_based"}
    entry = repo.entry(history_id)
    assert entry.kind == "save" and entry.outcome == "saved" and entry.config == config
    mirror_text = (tmp_path / "m.yml").read_text()
    assert entry.assignments_text == mirror_text
    assert yaml.safe_load(mirror_text)["assignments"]["ai-enrichment"] == {
        "gpu": 1,
        "vram_budget": 3.5,
    }
    # seed 004's own columns carry the values too
    with repo.engine.connect() as connection:
        row = connection.execute(
            text(
                "SELECT gpu_index, vram_budget_override, strategy FROM gpu_configurations "
                "WHERE service_name = 'ai-enrichment'"
            )
        ).one()
    assert tuple(row) == (1, 3.5, "vram_based")
    # dropping a service deletes its row; the others keep theirs
    smaller = GpuConfig(strategy="manual", services=config.services[:1])
    saved, _ = repo.save(smaller, actor="test", expected_revision=1)
    assert saved.revision == 2 and saved.config == smaller


def test_a_stale_revision_is_refused(db_url: str) -> None:
    repo = open_store(db_url)
    repo.save(_config(("a", 0)), actor="one", expected_revision=0)
    with pytest.raises(StaleWriteError) as caught:
        repo.save(_config(("b", 0)), actor="two", expected_revision=0)
    assert caught.value.current == 1
    assert [s.service for s in repo.saved().config.services] == ["a"]


def test_a_mirror_that_cannot_be_written_rolls_the_save_back(db_url: str, tmp_path: Path) -> None:
    repo = open_store(db_url)
    repo.save(_config(("a", 0)), actor="test")
    before = repo.saved()
    (tmp_path / "config").write_text("a file where the directory should be")
    with pytest.raises(StoreError, match="rolled back"):
        repo.save(_config(("b", 1)), actor="test", mirror=_mirror(tmp_path / "config" / "m.yml"))  # type: ignore[arg-type]
    assert repo.saved() == before
    assert [e.kind for e in repo.history()] == ["save"]


def test_concurrent_compare_and_swap_saves_lose_nothing(db_url: str) -> None:
    """Eight writers each add their own service with read-modify-CAS; all survive."""
    repo = open_store(db_url)
    errors: list[BaseException] = []

    def writer(name: str) -> None:
        try:
            for _ in range(200):
                current = repo.saved()
                services = (*current.config.services, ServiceConfig(service=name))
                try:
                    repo.save(
                        GpuConfig(services=services),
                        actor=name,
                        expected_revision=current.revision,
                    )
                    return
                except StaleWriteError:
                    continue
            raise AssertionError(f"{name} never got its turn")
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(f"svc-{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    saved = repo.saved()
    assert saved.revision == 8
    assert sorted(s.service for s in saved.config.services) == [f"svc-{i}" for i in range(8)]


def test_devices_are_upserted_and_vanished_ones_keep_their_last_sighting(db_url: str) -> None:
    repo = open_store(db_url)
    gpus = [
        GPU(index=0, name="NVIDIA RTX A5500", vram_total_mb=24564, compute_capability="8.6"),
        GPU(index=1, name="NVIDIA RTX A400", vram_total_mb=4094, vram_free_mb=3765),
    ]
    first = repo.record_devices(gpus)
    assert [(d.gpu_index, d.name, d.vram_total_mb) for d in first] == [
        (0, "NVIDIA RTX A5500", 24564),
        (1, "NVIDIA RTX A400", 4094),
    ]
    second = repo.record_devices(gpus[:1])
    assert len(second) == 2
    assert second[0].last_seen_at is not None and first[1].last_seen_at is not None
    assert second[1].last_seen_at == first[1].last_seen_at
    assert second[0].last_seen_at >= first[0].last_seen_at  # type: ignore[operator]


def test_apply_journal(db_url: str, tmp_path: Path) -> None:
    repo = open_store(db_url)
    previous = repo.saved()
    history_id = repo.begin_apply(
        kind="apply",
        actor="test",
        config=_config(("a", 1)),
        revision=1,
        previous=previous,
        previous_override_text=None,
        override_text="services: {}\n",
        assignments_text=None,
        compose_file=tmp_path / "c.yml",
        override_file=tmp_path / "o.yml",
        mirror_file=None,
        runtime="docker compose",
        services=["a"],
        warnings=["w"],
    )
    assert [e.id for e in repo.in_progress()] == [history_id]
    repo.set_progress(history_id, "a", "done")
    repo.finish(history_id, "applied", detail="ok")
    entry = repo.entry(history_id)
    assert entry.progress == {"a": "done"} and entry.outcome == "applied"
    assert entry.override_sha256 is not None and len(entry.override_sha256) == 64
    assert repo.in_progress() == ()
    assert repo.last_applied() == entry
    assert repo.latest_apply() == entry
    with pytest.raises(HistoryNotFoundError):
        repo.entry(9999)


def test_rows_written_with_only_seed_columns_are_read(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'seed.db'}"
    repo = open_store(url)
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO gpu_configurations (id, service_name, gpu_index, gpu_indices) "
                "VALUES ('00000000000000000000000000000001', 'ai-llm', 0, '[]')"
            )
        )
    assert repo.saved().config.services[0].gpu_indices == (0,)


def test_an_unreachable_server_is_one_clear_error() -> None:
    with pytest.raises(StoreError, match="cannot migrate"):
        open_store("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2")
