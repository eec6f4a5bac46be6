"""The models stage: what a model is (architecture, quantization, files on disk) and
how much GPU memory serving it takes, per engine.

Submodules are imported by name (``gpuplan.memory.estimate``, ``gpuplan.models.arch``,
``gpuplan.models.files``…); this package imports none of them, so each stays cheap to
load and the registry and selection modules can live beside them independently.
"""
