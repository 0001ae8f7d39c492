"""Provider-agnostic compute configs: how a deployed task runs."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Container", "Serverless"]


@dataclass(frozen=True, slots=True)
class Serverless:
    """A function (AWS Lambda): the default compute of a task."""

    memory_mb: int = 512
    timeout_s: int = 300

    def __post_init__(self) -> None:
        if self.memory_mb <= 0 or self.timeout_s <= 0:
            raise ValueError("Serverless(memory_mb, timeout_s) must be positive")


@dataclass(frozen=True, slots=True)
class Container:
    """A container task (ECS Fargate). ``cpu`` is in CPU units (1024 = one vCPU)."""

    image: str | None = None
    cpu: int = 256
    memory_mb: int = 512

    def __post_init__(self) -> None:
        if self.memory_mb <= 0 or self.cpu <= 0:
            raise ValueError("Container(cpu, memory_mb) must be positive")
