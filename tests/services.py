"""Real server processes for tests: a throwaway PostgreSQL cluster on 127.0.0.1.

The cluster is initdb'd in a temporary directory and started with ``pg_ctl``
(../shared/ENVIRONMENT.md has the recipe). As root the binaries run as the
``postgres`` user through ``runuser``, with a data directory that user owns.
When PostgreSQL is not installed the tests that need it skip with the reason —
unless ``GPUPLAN_REQUIRE_SERVICES=1`` (CI), where they fail.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from gpuplan.ports import free_port as _free_port

PG_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


def require_services() -> bool:
    return os.environ.get("GPUPLAN_REQUIRE_SERVICES") == "1"


def missing(reason: str) -> None:
    """Skip, or fail when CI requires every service."""
    if require_services():
        pytest.fail(f"{reason} (GPUPLAN_REQUIRE_SERVICES=1 forbids skipping)")
    pytest.skip(reason)


def _pg_bin() -> Path | None:
    for candidate in PG_BIN_DIRS:
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    found = shutil.which("initdb")
    return Path(found).parent if found else None


@contextlib.contextmanager
def postgres_cluster() -> Iterator[str]:
    """Yield a ``postgresql://`` URL of a fresh server; stop and delete it afterwards."""
    bindir = _pg_bin()
    if bindir is None:
        missing("PostgreSQL is not installed (apt-get install -y postgresql)")
        raise AssertionError  # unreachable
    as_root = os.geteuid() == 0
    prefix: list[str] = []
    base = Path(tempfile.mkdtemp(prefix="gpuplan-pg-"))
    data = base / "data"
    if as_root:
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            missing("running as root but there is no postgres user to run the server")
        prefix = ["runuser", "-u", "postgres", "--"]
        os.chown(base, user.pw_uid, user.pw_gid)
    port = _free_port()
    try:
        subprocess.run(
            [*prefix, str(bindir / "initdb"), "-D", str(data), "-U", "postgres",
             "--auth-local=trust", "--auth-host=trust", "-E", "UTF8", "--locale=C.UTF-8"],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {base} -c fsync=off"
        subprocess.run(
            [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-w", "-l", str(base / "log"),
             "-o", options, "start"],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
    except subprocess.CalledProcessError as error:
        shutil.rmtree(base, ignore_errors=True)
        raise RuntimeError(f"PostgreSQL did not start: {error.stderr!r}") from error
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(base, ignore_errors=True)
