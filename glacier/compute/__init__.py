"""Provider-agnostic compute configs: how a deployed task runs."""

from __future__ import annotations

from dataclasses import dataclass

from glacier import _validate

__all__ = ["Container", "Serverless"]


@dataclass(frozen=True, slots=True)
class Serverless:
    """A function (AWS Lambda): the default compute of a task."""

    memory_mb: int = 512
    timeout_s: int = 300

    def __post_init__(self) -> None:
        error = _validate.serverless(self.memory_mb, self.timeout_s)
        if error is not None:
            raise error


@dataclass(frozen=True, slots=True)
class Container:
    """A container task (ECS Fargate). ``cpu`` is in CPU units (1024 = one vCPU)."""

    image: str | None = None
    cpu: int = 256
    memory_mb: int = 512

    def __post_init__(self) -> None:
        error = _validate.container(self.cpu, self.memory_mb)
        if error is not None:
            raise error
