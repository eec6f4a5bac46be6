"""Hugging Face model directories and the Hugging Face cache.

A model directory holds ``config.json`` and (usually) safetensors shards; the
architecture comes from the config, the exact weight bytes from the shard headers.
The hub cache (``~/.cache/huggingface/hub``) keeps each repo as
``models--{org}--{name}/snapshots/{revision}/``, with ``refs/main`` naming the
revision a plain ``from_pretrained`` would load.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from gpuplan.documents import DocumentReadError, DocumentSyntaxError, read_document
from gpuplan.errors import ModelError, ModelFileError
from gpuplan.models.files import LocalModel
from gpuplan.models.files.safetensors_header import checkpoint_files, safetensors_weights
from gpuplan.models.hf_config import parse_hf_config


def read_config(path: Path) -> dict[str, Any]:
    """A config.json as a dict; ModelFileError naming the file when it is unreadable."""
    try:
        data = read_document(path, "json")
    except DocumentReadError as error:
        raise ModelFileError(str(error), hint=error.hint) from None
    except DocumentSyntaxError as error:
        raise ModelFileError(
            f"{path} is {error}", hint="re-download the model's config.json"
        ) from None
    if not isinstance(data, dict):
        raise ModelFileError(f"{path}: top level is not a JSON object")
    return data


def read_hf_model(path: str | Path, model_id: str | None = None) -> LocalModel:
    """A HF model directory (or its config.json) → LocalModel with exact safetensors bytes."""
    path = Path(path)
    directory = path.parent if path.is_file() else path
    config_path = path if path.is_file() else path / "config.json"
    config = read_config(config_path)
    try:
        arch = parse_hf_config(config)
    except ModelError as error:
        raise ModelFileError(f"{config_path}: {error.message}", hint=error.hint) from None
    files = checkpoint_files(directory)
    notes: list[str] = []
    weights = None
    if files:
        weights = safetensors_weights(files, arch.checkpoint_quant)
    else:
        notes.append(f"no safetensors in {directory}: weights from parameters × bits")
    quant = arch.checkpoint_quant or (weights.quant if weights else None) or arch.dtype
    return LocalModel(
        id=model_id or directory.name,
        kind="hf",
        path=str(directory),
        arch=arch,
        weights=weights,
        quant=quant,
        notes=tuple(notes),
    )


def default_hf_cache(env: Mapping[str, str] | None = None) -> Path:
    """$HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub."""
    env = os.environ if env is None else env
    if env.get("HF_HUB_CACHE"):
        return Path(env["HF_HUB_CACHE"]).expanduser()
    if env.get("HF_HOME"):
        return Path(env["HF_HOME"]).expanduser() / "hub"
    return Path("~/.cache/huggingface/hub").expanduser()


def _snapshot(repo: Path) -> Path | None:
    snapshots = repo / "snapshots"
    ref = repo / "refs" / "main"
    if ref.is_file():
        candidate = snapshots / ref.read_text().strip()
        if candidate.is_dir():
            return candidate
    if not snapshots.is_dir():
        return None
    revisions = [p for p in snapshots.iterdir() if p.is_dir()]
    return max(revisions, key=lambda p: p.stat().st_mtime) if revisions else None


def iter_hf_cache(root: str | Path) -> Iterator[tuple[str, Path]]:
    """(repo id, snapshot dir) of every cached model repo that has a config.json."""
    root = Path(root)
    if not root.is_dir():
        return
    for repo in sorted(root.glob("models--*")):
        snapshot = _snapshot(repo)
        if snapshot is None or not (snapshot / "config.json").is_file():
            continue
        repo_id = repo.name.removeprefix("models--").replace("--", "/", 1)
        yield repo_id, snapshot


def is_hf_cache(path: Path) -> bool:
    """A hub cache directory: it holds models--org--name repos."""
    return path.is_dir() and any(path.glob("models--*"))
