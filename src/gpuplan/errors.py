"""gpuplan's one error hierarchy.

Every error a user can cause by their own input (a bad hardware spec, a broken
profile file, an unknown model) is a ``GpuplanError``: it names the thing, the
problem and the fix, and the CLI prints it as one ``Error: …`` line and exits
non-zero instead of showing a traceback. Anything else is a bug in gpuplan.

    GpuplanError
    ├── HardwareError
    │   ├── HardwareSpecError      declared hardware ("2x RTX 4090", a file) is wrong
    │   ├── UnknownGPUError        a GPU name is not in the catalog
    │   └── ToolOutputError        a vendor tool printed something we cannot read
    ├── ProfileError
    │   ├── ProfileNotFoundError   no profile of that name or path
    │   └── ProfileValidationError a profile file is malformed
    ├── ModelError
    │   ├── ModelNotFoundError     no model of that id
    │   ├── UnknownRoleError       a role name that is not one of the roles
    │   └── ModelFileError         a model file or header is unreadable
    ├── StoreError                 the database cannot be reached, migrated or written
    │   ├── StaleWriteError        someone saved since you read (HTTP 412)
    │   └── HistoryNotFoundError   no history entry of that id
    ├── ApplyError                 a configuration could not be applied (and was rolled back)
    │   ├── ApplyBusyError         another apply holds the lock
    │   ├── ComposeFileError       the base Compose file is missing or lacks a service
    │   └── InvalidConfigError     a requested assignment names no known service
    ├── LaunchError                a service cannot be launched as planned (engine, GPU, image)
    ├── PlacementError             services cannot be placed as asked (manual without pins)
    │   └── ServicesFileError      a services file is malformed: file, line, field, fix
    ├── TuningError
    │   ├── TuningConfigError      a tuning task's layers, parameters or SLOs are unusable
    │   ├── TuningProfileNotFoundError  no tuning profile of that name (a ProfileNotFoundError)
    │   └── TaskNotFoundError      no tuning task of that name or id
    └── ServingError
        ├── UnknownServiceError    a request names no service, alias or served role
        ├── BackendStartError      a backend exited or never became healthy
        ├── BackendFailedError     a backend died or broke off while answering
        ├── CannotFitError         the model can never fit the budget next to pinned ones
        └── QueueFullError         too many requests wait for a swap (503, Retry-After)
"""

from __future__ import annotations


class GpuplanError(Exception):
    """Base of every error caused by the user's input or environment."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} ({self.hint})"
        return self.message


class HardwareError(GpuplanError):
    """Something about the GPUs (declared or detected) cannot be used."""


class HardwareSpecError(HardwareError):
    """A declared hardware spec or hardware file cannot be understood."""


class UnknownGPUError(HardwareSpecError):
    """A GPU name that matches nothing in the catalog."""

    def __init__(self, name: str, suggestions: list[str]) -> None:
        hint = (
            "closest catalog names: " + ", ".join(suggestions)
            if suggestions
            else "run `gpuplan hardware catalog` to list known GPUs"
        )
        shown = name if len(name) <= 60 else name[:59] + "…"  # never echo a pasted blob whole
        super().__init__(f"unknown GPU {shown!r}", hint=hint)
        self.name = name
        self.suggestions = suggestions


class ToolOutputError(HardwareError):
    """A vendor tool (nvidia-smi, amd-smi, rocm-smi) printed unreadable output."""


class ProfileError(GpuplanError):
    """A deployment profile cannot be found or used."""


class ProfileNotFoundError(ProfileError):
    """No deployment profile of the requested name or path."""


class ProfileValidationError(ProfileError):
    """A deployment profile file is malformed: names the file, the field and the fix."""


class ModelError(GpuplanError):
    """A model cannot be found, read or estimated."""


class ModelNotFoundError(ModelError):
    """No model of the requested id."""


class UnknownRoleError(ModelError):
    """A task role that gpuplan does not know (seed 001: 400 Bad Request)."""


class ModelFileError(ModelError):
    """A model file (config.json, GGUF, safetensors) is unreadable or corrupt."""


class PlacementError(GpuplanError):
    """Services cannot be placed as asked: unpinned services under manual, a pin to no GPU."""


class ServicesFileError(PlacementError):
    """A services file is malformed: names the file, the line, the field and the fix."""


class StoreError(GpuplanError):
    """The configuration database cannot be reached, migrated or written."""


class StaleWriteError(StoreError):
    """A save based on a revision that is no longer the current one (lost update)."""

    def __init__(self, expected: int, current: int) -> None:
        super().__init__(
            f"the GPU configuration changed since revision {expected} (now {current})",
            hint="reload it (GET /api/system/gpu-config), reapply your change and save again",
        )
        self.expected = expected
        self.current = current


class HistoryNotFoundError(StoreError):
    """No history entry of the requested id."""


class ApplyError(GpuplanError):
    """A configuration could not be applied; the previous one is back in place."""


class ApplyBusyError(ApplyError):
    """Another apply is running (it holds the apply lock)."""


class ComposeFileError(ApplyError):
    """The base Compose file is missing, unreadable, or lacks a service being placed."""


class InvalidConfigError(ApplyError):
    """A requested configuration names a service the services file does not define."""


class LaunchError(GpuplanError):
    """A placed service cannot be launched as asked: engine on the wrong vendor, no image."""


class TuningError(GpuplanError):
    """A tuning task cannot be built, run or found."""


class TuningConfigError(TuningError):
    """A tuning task's configuration is unusable: names the field, the values and the fix."""


class TuningProfileNotFoundError(TuningError, ProfileNotFoundError):
    """No tuning profile of the requested name (``GET /api/profiles/{name}``: 404)."""


class TaskNotFoundError(TuningError):
    """No tuning task of the requested name or id."""


class ServingError(GpuplanError):
    """Serving models through ``gpuplan serve``'s proxy went wrong."""


class UnknownServiceError(ServingError):
    """A request names no service, alias, model or role that any service serves."""


class BackendStartError(ServingError):
    """A backend process exited during start-up or was not healthy in time."""

    def __init__(self, message: str, *, hint: str | None = None, timed_out: bool = False) -> None:
        super().__init__(message, hint=hint)
        self.timed_out = timed_out


class BackendFailedError(ServingError):
    """A running backend died or broke the connection while answering a request."""


class CannotFitError(ServingError):
    """The requested model cannot fit within the budget, whatever is evicted."""


class QueueFullError(ServingError):
    """More requests wait for a model swap than the queue holds; retry later."""

    def __init__(self, message: str, *, retry_after_seconds: int, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.retry_after_seconds = retry_after_seconds
