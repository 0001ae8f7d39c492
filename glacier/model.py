"""The intermediate model: what Glacier knows about a pipeline, as plain data.

Both paths produce it: the runtime path (``Pipeline.to_model()``, which has imported the
module) and the static path (``analyzer``, which has only read it). For any module both can
handle, the two models are equal; the test suite compares them. Code generation reads only
this model.

Everything here is a frozen dataclass, sorted deterministically, and round-trips through
JSON (``to_json`` / ``from_json``). Spans are ``file`` (POSIX path relative to the project
root), ``line`` and ``column``, both 1-based.
"""

from __future__ import annotations

import dataclasses
import heapq
import json
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from glacier.storage.kinds import KINDS, kind_named

__all__ = [
    "RETRY_BACKOFF",
    "RETRY_DELAY_S",
    "SCHEMA_VERSION",
    "ComputeModel",
    "DatasetModel",
    "EnvironmentModel",
    "InputModel",
    "ParameterModel",
    "PipelineModel",
    "Span",
    "StorageModel",
    "TaskModel",
]

SCHEMA_VERSION = 1

RETRY_DELAY_S = 2.0
"""Seconds before a task's first retry, by default: Step Functions' ``IntervalSeconds``."""
RETRY_BACKOFF = 2.0
"""What each next retry's delay is multiplied by, by default: Step Functions' ``BackoffRate``."""

StorageKind = str
"""A name in ``glacier.storage.kinds.KINDS``."""
ComputeKind = Literal["serverless", "container"]


@dataclass(frozen=True, slots=True, order=True)
class Span:
    """Where something is written: a file relative to the project root, 1-based line and column."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True, slots=True)
class StorageModel:
    """Where a dataset lives.

    ``kind`` names a storage kind of the registry ``glacier.storage.kinds.KINDS``
    (``object``, ``database``, ``s3``, ``rds``, ``pulumi``, ...), which says what declares it
    and which of the fields below it sets.

    ``variable`` and ``module`` name the module-level variable the dataset's ``storage=``
    argument refers to, when it is a plain name (``storage=prod_bucket``).

    ``existing`` (``object`` and ``s3``) marks a bucket Glacier must not create: another
    system owns it; a deployment looks it up and fails when it is missing.
    """

    kind: StorageKind
    bucket: str | None = None
    name: str | None = None
    prefix: str = ""
    format: str | None = None
    table: str | None = None
    url: str | None = None
    environment: str | None = None
    resource: str | None = None
    variable: str | None = None
    module: str | None = None
    existing: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            kind_named(self.kind)  # raises, naming the known kinds


@dataclass(frozen=True, slots=True)
class ComputeModel:
    """How a deployed task runs: ``serverless`` (AWS Lambda) or ``container`` (ECS Fargate)."""

    kind: ComputeKind = "serverless"
    memory_mb: int = 512
    timeout_s: int | None = 300
    image: str | None = None
    cpu: int | None = None
    tmp_mb: int | None = None  # a Lambda's /tmp size; None: Lambda's default (512 MB)


@dataclass(frozen=True, slots=True)
class InputModel:
    """One task parameter and the dataset it reads."""

    param: str
    dataset: str


@dataclass(frozen=True, slots=True)
class ParameterModel:
    """A run parameter: a task parameter that is not a dataset and has a default.

    ``annotation`` and ``default`` are canonical source text (``ast.unparse`` of what is
    written: ``int``, ``3``, ``'x'``, ``date(2024, 1, 1)``); ``annotation`` is ``None`` when
    the parameter has none. A run sets it with ``--param`` (``glacier.params``)."""

    name: str
    annotation: str | None
    default: str


@dataclass(frozen=True, slots=True)
class DatasetModel:
    name: str
    module: str
    variable: str | None
    payload: str | None
    """Source text of the payload type ``T`` of ``Dataset[T]``; ``None`` when untyped (Any)."""
    storage: StorageModel | None
    span: Span
    copy: bool = True
    """Whether each reading task gets its own copy of the value in a local run
    (``Dataset(..., copy=False)``: they share one)."""


@dataclass(frozen=True, slots=True)
class TaskModel:
    name: str
    function: str
    module: str
    inputs: tuple[InputModel, ...]
    outputs: tuple[str, ...]
    """Dataset names in return order; a ``tuple[a, b]`` return gives two, ``None`` gives none."""
    compute: ComputeModel | None
    retries: int
    timeout: float | None
    span: Span
    retry_delay_s: float = RETRY_DELAY_S
    """Seconds before the first retry; each next one waits ``backoff`` times longer."""
    backoff: float = RETRY_BACKOFF
    retry_on: tuple[str, ...] = ()
    """The class names (``__name__``) of the exceptions a retry is for; empty: every exception.
    Names, not classes: Step Functions matches a Lambda error by its class name."""
    parameters: tuple[ParameterModel, ...] = ()
    """Its run parameters, in signature order (``glacier.params``)."""

    @property
    def returns_tuple(self) -> bool:
        return len(self.outputs) > 1


@dataclass(frozen=True, slots=True)
class EnvironmentModel:
    name: str
    account: str
    region: str
    module: str
    variable: str | None
    tags: tuple[tuple[str, str], ...]
    span: Span


@dataclass(frozen=True, slots=True)
class PipelineModel:
    name: str
    module: str
    variable: str | None
    schedule: str | None
    description: str | None
    span: Span
    datasets: tuple[DatasetModel, ...]
    tasks: tuple[TaskModel, ...]
    environments: tuple[EnvironmentModel, ...] = ()
    check_payloads: bool = True
    """Whether local runs check a task's return value against its datasets' payload types."""
    schema: int = field(default=SCHEMA_VERSION)

    # -- construction -----------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        *,
        name: str,
        module: str,
        variable: str | None,
        schedule: str | None,
        description: str | None,
        span: Span,
        datasets: typing.Iterable[DatasetModel],
        tasks: typing.Iterable[TaskModel],
        environments: typing.Iterable[EnvironmentModel] = (),
        check_payloads: bool = True,
    ) -> PipelineModel:
        """Build a model with every collection in its canonical (sorted) order."""
        return cls(
            name=name,
            module=module,
            variable=variable,
            schedule=schedule,
            description=description,
            span=span,
            datasets=tuple(sorted(datasets, key=lambda d: d.name)),
            tasks=tuple(sorted(tasks, key=lambda t: t.name)),
            environments=tuple(sorted(environments, key=lambda e: e.name)),
            check_payloads=check_payloads,
        )

    # -- queries ----------------------------------------------------------------------------

    def dataset(self, name: str) -> DatasetModel:
        for ds in self.datasets:
            if ds.name == name:
                return ds
        raise KeyError(name)

    def task(self, name: str) -> TaskModel:
        for task in self.tasks:
            if task.name == name:
                return task
        raise KeyError(name)

    def producers(self) -> dict[str, str]:
        """Dataset name → name of the task that produces it."""
        return {out: t.name for t in self.tasks for out in t.outputs}

    def consumers(self) -> dict[str, tuple[str, ...]]:
        """Dataset name → names of the tasks that read it, sorted."""
        found: dict[str, list[str]] = {d.name: [] for d in self.datasets}
        for t in self.tasks:
            for inp in t.inputs:
                found.setdefault(inp.dataset, []).append(t.name)
        return {k: tuple(sorted(set(v))) for k, v in found.items()}

    def sources(self) -> tuple[str, ...]:
        """Datasets no task produces: they are read from their storage."""
        produced = self.producers()
        return tuple(d.name for d in self.datasets if d.name not in produced)

    def upstream(self) -> dict[str, tuple[str, ...]]:
        """Task name → the tasks it directly depends on, sorted."""
        produced = self.producers()
        return {
            t.name: tuple(sorted({produced[i.dataset] for i in t.inputs if i.dataset in produced}))
            for t in self.tasks
        }

    def topological_order(self) -> tuple[str, ...]:
        """Task names, every producer before its consumers; ties broken by name.

        Raises ``ValueError`` when the tasks form a cycle.
        """
        deps = {name: set(up) for name, up in self.upstream().items()}
        dependents: dict[str, list[str]] = {name: [] for name in deps}
        for name, ups in deps.items():
            for up in ups:
                dependents[up].append(name)
        ready = [name for name, ups in deps.items() if not ups]
        heapq.heapify(ready)
        order: list[str] = []
        while ready:
            name = heapq.heappop(ready)
            order.append(name)
            for dep in dependents[name]:
                deps[dep].discard(name)
                if not deps[dep]:
                    heapq.heappush(ready, dep)
        if len(order) != len(deps):
            raise ValueError(f"the tasks of pipeline {self.name!r} form a cycle")
        return tuple(order)

    # -- serialisation ----------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        plain: dict[str, Any] = _to_plain(self)
        return plain

    def to_json(self, *, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PipelineModel:
        return _from_plain(cls, data)

    @classmethod
    def from_json(cls, text: str) -> PipelineModel:
        return cls.from_dict(json.loads(text))


# -- generic (de)serialisation of the dataclasses above ---------------------------------------

_D = TypeVar("_D")


def _to_plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple):
        return [_to_plain(v) for v in value]
    return value


def _from_plain(cls: type[_D], data: dict[str, Any]) -> _D:
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name in data:
            kwargs[f.name] = _convert(hints[f.name], data[f.name])
    return cls(**kwargs)


def _convert(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(hint):
            if arg is type(None):
                continue
            return _convert(arg, value)
    if origin is tuple:
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v) for v in value)
        return tuple(_convert(a, v) for a, v in zip(args, value, strict=True))
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _from_plain(hint, value)
    return value
