"""Ollama's local model store: manifests → GGUF blobs → headers.

Ollama keeps ``manifests/{registry}/{namespace}/{model}/{tag}`` (OCI-style JSON) and
content-addressed ``blobs/sha256-{hex}``. A manifest's layer of media type
``application/vnd.ollama.image.model`` is the GGUF weights; ``…image.projector`` a
vision projector (mmproj GGUF) that loads onto the GPU too; ``…image.params`` a
JSON of default options (``num_ctx``…). Names print as Ollama prints them:
``llama3.1:8b`` for the default registry's ``library`` namespace, otherwise
``namespace/model:tag`` or ``host/namespace/model:tag``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from gpuplan.documents import (
    DocumentReadError,
    DocumentSyntaxError,
    read_document,
)
from gpuplan.errors import ModelFileError, ModelNotFoundError
from gpuplan.models.files import LocalModel
from gpuplan.models.files.gguf_header import read_gguf_header
from gpuplan.models.files.gguf_model import read_gguf

DEFAULT_REGISTRY = "registry.ollama.ai"
MODEL_MEDIA = "application/vnd.ollama.image.model"
PROJECTOR_MEDIA = "application/vnd.ollama.image.projector"
PARAMS_MEDIA = "application/vnd.ollama.image.params"


def default_store(env: Mapping[str, str] | None = None) -> Path:
    """$OLLAMA_MODELS, else ~/.ollama/models."""
    env = os.environ if env is None else env
    return Path(env.get("OLLAMA_MODELS") or "~/.ollama/models").expanduser()


def is_ollama_store(path: Path) -> bool:
    return (path / "manifests").is_dir() and (path / "blobs").is_dir()


def _display_name(parts: tuple[str, ...]) -> str:
    host, namespace, model, tag = parts
    if host == DEFAULT_REGISTRY:
        base = model if namespace == "library" else f"{namespace}/{model}"
    else:
        base = f"{host}/{namespace}/{model}"
    return f"{base}:{tag}"


def iter_manifests(store: str | Path) -> Iterator[tuple[str, Path]]:
    """(name, manifest path) for every model tag in the store."""
    root = Path(store) / "manifests"
    if not root.is_dir():
        return
    for manifest in sorted(root.glob("*/*/*/*")):
        if manifest.is_file():
            host, namespace, model, tag = manifest.relative_to(root).parts
            yield _display_name((host, namespace, model, tag)), manifest


def manifest_path(store: str | Path, name: str) -> Path:
    """The manifest of 'model[:tag]', 'namespace/model[:tag]' or 'host/ns/model[:tag]'."""
    base, _, tag = name.partition(":")
    parts = base.split("/")
    if len(parts) == 1:
        parts = [DEFAULT_REGISTRY, "library", *parts]
    elif len(parts) == 2:
        parts = [DEFAULT_REGISTRY, *parts]
    return Path(store, "manifests", *parts, tag or "latest")


def _blob(store: Path, digest: Any, manifest: Path) -> Path:
    if not isinstance(digest, str) or not digest.startswith("sha256:"):
        raise ModelFileError(f"{manifest}: layer digest {digest!r} is not 'sha256:…'")
    blob = store / "blobs" / digest.replace(":", "-", 1)
    if not blob.is_file():
        raise ModelFileError(
            f"{manifest}: blob {blob.name} is missing from {store / 'blobs'}",
            hint="run `ollama pull` for this model again",
        )
    return blob


def read_ollama_model(store: str | Path, name: str) -> LocalModel:
    """One Ollama model by name, from its manifest and its GGUF blob's header."""
    store = Path(store)
    manifest = manifest_path(store, name)
    if not manifest.is_file():
        raise ModelNotFoundError(
            f"no Ollama model {name!r} in {store}", hint="`ollama list` shows the local models"
        )
    try:
        layers = read_document(manifest, "json")["layers"]  # type: ignore[index]
        if not isinstance(layers, list):
            raise TypeError("layers is not a list")
    except (DocumentReadError, DocumentSyntaxError, KeyError, TypeError) as error:
        raise ModelFileError(f"{manifest}: unreadable manifest ({error})") from None
    by_media = {layer.get("mediaType"): layer for layer in layers if isinstance(layer, dict)}
    if MODEL_MEDIA not in by_media:
        raise ModelFileError(f"{manifest}: no model layer ({MODEL_MEDIA})")
    blob = _blob(store, by_media[MODEL_MEDIA].get("digest"), manifest)
    model = read_gguf(blob)
    notes = list(model.notes)
    weights = model.weights
    if PROJECTOR_MEDIA in by_media and weights is not None:
        projector = read_gguf_header(
            _blob(store, by_media[PROJECTOR_MEDIA].get("digest"), manifest)
        )
        vision = sum(t.n_bytes for t in projector.tensors)
        weights = weights.model_copy(
            update={"total_bytes": weights.total_bytes + vision, "vision_bytes": vision}
        )
        notes.append(f"vision projector {vision / 2**20:,.0f} MiB loads with the model")
    if PARAMS_MEDIA in by_media:
        notes.extend(_params_notes(store, by_media[PARAMS_MEDIA].get("digest"), manifest))
    return model.model_copy(
        update={"id": name if ":" in name else f"{name}:latest", "kind": "ollama",
                "path": str(blob), "weights": weights, "notes": tuple(notes)}
    )  # fmt: skip


def _params_notes(store: Path, digest: Any, manifest: Path) -> list[str]:
    try:
        params = read_document(_blob(store, digest, manifest), "json")
    except (ModelFileError, DocumentReadError, DocumentSyntaxError):
        return []
    if isinstance(params, dict) and isinstance(params.get("num_ctx"), int):
        return [f"the model's Modelfile sets num_ctx {params['num_ctx']}"]
    return []
