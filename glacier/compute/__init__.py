"""Provider-agnostic compute configs: how a deployed task runs."""

from __future__ import annotations

from dataclasses import dataclass

from glacier import validate

__all__ = ["Container", "Serverless"]


@dataclass(frozen=True, slots=True)
class Serverless:
    """A function (AWS Lambda): the default compute of a task.

    ``tmp_mb`` is the size of the function's ``/tmp`` (Lambda's ephemeral storage, 512 to
    10,240 MB); ``None`` leaves Lambda's default, 512 MB.
    """

    memory_mb: int = 512
    timeout_s: int = 300
    tmp_mb: int | None = None

    def __post_init__(self) -> None:
        error = validate.serverless(self.memory_mb, self.timeout_s, self.tmp_mb)
        if error is not None:
            raise error


@dataclass(frozen=True, slots=True)
class Container:
    """A container task (ECS Fargate). ``cpu`` is in CPU units (1024 = one vCPU).

    Without ``image``, the generated Pulumi program builds the task's image from the bundle
    (``bundle/Dockerfile``: the bundle on ``python:3.12-slim``), pushes it to the pipeline's
    ECR repository and runs it by digest. An ``image`` you name is used as is: the task runs
    ``python -m glacier_handler <task>`` in it, so it must contain the bundle the way the
    generated Dockerfile puts it there (``COPY bundle/ /var/task``, its requirements installed,
    ``PYTHONPATH=/var/task``); build it with ``docker build --build-arg BASE=<your base>
    bundle/``.
    """

    image: str | None = None
    cpu: int = 256
    memory_mb: int = 512

    def __post_init__(self) -> None:
        error = validate.container(self.cpu, self.memory_mb)
        if error is not None:
            raise error
