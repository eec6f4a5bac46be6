"""Find models on disk: a GGUF file, a folder of GGUFs, a HF model directory, the HF
hub cache, or Ollama's store — whatever ``path`` turns out to be.

One unreadable file must not hide the others: each failure becomes a line in
``Discovery.problems`` (the ``ModelFileError`` message, which names the file and the
fault) and discovery carries on.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from gpuplan.errors import ModelError
from gpuplan.models.files import LocalModel
from gpuplan.models.files.gguf_model import read_gguf
from gpuplan.models.files.hf_dir import is_hf_cache, iter_hf_cache, read_hf_model
from gpuplan.models.files.ollama_store import is_ollama_store, iter_manifests, read_ollama_model


class Discovery(BaseModel):
    """Models found under a path, and what could not be read."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    models: tuple[LocalModel, ...] = Field(default=(), description="Models read from headers.")
    problems: tuple[str, ...] = Field(default=(), description="One line per unreadable model.")


_SPLIT = re.compile(r"-(\d{5})-of-\d{5}$")


def _is_split_tail(path: Path) -> bool:
    match = _SPLIT.search(path.stem)
    return match is not None and int(match[1]) != 1


def gguf_model_files(directory: Path) -> list[Path]:
    """GGUF model files of a folder: split tails and vision projectors are not models."""
    return [
        p
        for p in sorted(directory.glob("*.gguf"))
        # is_file: a FIFO or socket named *.gguf would block the reader forever
        if p.is_file() and not _is_split_tail(p) and "mmproj" not in p.name.lower()
    ]


def discover(path: str | Path) -> Discovery:
    """Every model under ``path``, read from headers only."""
    path = Path(path).expanduser()
    found: list[LocalModel] = []
    problems: list[str] = []

    def attempt(read: Callable[[], LocalModel]) -> None:
        try:
            found.append(read())
        except ModelError as error:
            problems.append(str(error))
        except OSError as error:  # unreadable (permissions, I/O): say so, scan the rest
            problems.append(f"{error.filename or path}: cannot be read: {error.strerror or error}")

    if path.is_file():
        if path.suffix == ".gguf":
            attempt(partial(read_gguf, path))
        elif path.name == "config.json":
            attempt(partial(read_hf_model, path))
        else:
            problems.append(f"{path}: neither a .gguf file nor a config.json")
    elif is_ollama_store(path):
        for name, _ in iter_manifests(path):
            attempt(partial(read_ollama_model, path, name))
    elif is_hf_cache(path):
        for repo_id, snapshot in iter_hf_cache(path):
            attempt(partial(read_hf_model, snapshot, repo_id))
    elif (path / "config.json").is_file():
        attempt(partial(read_hf_model, path))
    elif path.is_dir():
        for gguf in gguf_model_files(path):
            attempt(partial(read_gguf, gguf))
        # A models folder of `--local-dir` downloads: one HF model directory each.
        for child in sorted(path.iterdir()):
            if child.is_dir() and (child / "config.json").is_file():
                attempt(partial(read_hf_model, child))
    else:
        problems.append(f"{path}: no such file or directory")
    return Discovery(models=tuple(found), problems=tuple(problems))
