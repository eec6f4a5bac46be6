"""HTTP face of gpuplan: FastAPI routes that are thin calls into the core."""

from gpuplan.api.app import create_app

__all__ = ["create_app"]
