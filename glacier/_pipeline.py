"""``Pipeline`` and its tasks: the DAG is inferred from the tasks' annotations."""

from __future__ import annotations

import inspect
import sys
import types
from collections import ChainMap
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from glacier import messages, validate
from glacier._dataset import Dataset, is_dataset
from glacier.compute import Container, Serverless
from glacier.errors import (
    CycleError,
    DuplicateDatasetError,
    DuplicateProducerError,
    DuplicateTaskError,
    MissingAnnotationError,
    NotADatasetError,
    UsageError,
)
from glacier.model import RETRY_BACKOFF, RETRY_DELAY_S
from glacier.source import CallSite, call_site

if TYPE_CHECKING:
    from glacier.model import PipelineModel

__all__ = ["Pipeline", "Task", "TaskDecorator"]

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True, eq=False)
class Task:
    """A registered task: a function, the datasets it reads (by parameter) and writes."""

    name: str
    function: Callable[..., Any]
    inputs: tuple[tuple[str, Dataset[Any]], ...]
    outputs: tuple[Dataset[Any], ...]
    returns_tuple: bool
    compute: Serverless | Container | None
    retries: int
    timeout: float | None
    retry_delay_s: float = RETRY_DELAY_S
    backoff: float = RETRY_BACKOFF
    retry_on: tuple[type[Exception], ...] = ()
    """The exception classes worth a retry; empty: every exception."""

    def __repr__(self) -> str:
        return f"Task({self.name!r})"


class TaskDecorator:
    """What ``pipeline.task(...)`` returns: apply it to a function to register a task.

    The decorated function is returned unchanged, so it stays callable and testable.
    """

    __slots__ = ("_compute", "_name", "_pipeline", "_retries", "_retry", "_timeout")

    def __init__(
        self,
        pipeline: Pipeline,
        name: str | None,
        compute: Serverless | Container | None,
        retries: int,
        timeout: float | None,
        retry: _Retry | None = None,
    ) -> None:
        self._pipeline = pipeline
        self._name = name
        self._compute = compute
        self._retries = retries
        self._timeout = timeout
        self._retry = retry or _Retry()

    def __call__(self, fn: F) -> F:
        # names local to the defining scope, for string annotations of nested definitions
        scope = sys._getframe(1).f_locals
        self._pipeline._register(
            fn, self._name, self._compute, self._retries, self._timeout, scope, self._retry
        )
        return fn


@dataclass(frozen=True, slots=True)
class _Retry:
    """How a task's attempts are spaced and which failures earn another one."""

    delay_s: float = RETRY_DELAY_S
    backoff: float = RETRY_BACKOFF
    on: tuple[type[Exception], ...] = ()


class Pipeline:
    """A set of tasks whose DAG is inferred from their dataset annotations.

    ``check_payloads`` (default ``True``): a task's return value must be an instance of the
    runtime class of its dataset's ``Dataset[T]`` (the origin of a generic: ``list``,
    ``dict``, ``DataFrame``; element types are not checked), or the task fails, once.

    >>> pipeline = Pipeline(name="etl")
    """

    def __init__(
        self,
        name: str,
        *,
        schedule: str | None = None,
        description: str | None = None,
        check_payloads: bool = True,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"Pipeline name must be a non-empty string, got {name!r}")
        for error in (validate.schedule(schedule), validate.check_payloads(check_payloads)):
            if error is not None:
                raise error
        self.name = name
        self.schedule = schedule
        self.description = description
        self.check_payloads = check_payloads
        """Whether a task's return value is checked against its dataset's ``Dataset[T]``."""
        self._tasks: dict[str, Task] = {}
        self._producers: dict[str, Task] = {}
        self._consumed: set[str] = set()  # names of the datasets some task reads
        self._datasets: dict[str, Dataset[Any]] = {}
        self._site: CallSite = call_site()

    def __repr__(self) -> str:
        return f"Pipeline({self.name!r}, tasks={len(self._tasks)})"

    # -- definition -------------------------------------------------------------------------

    def task(
        self,
        name: str | None = None,
        *,
        compute: Serverless | Container | None = None,
        retries: int = 0,
        timeout: float | None = None,
        retry_delay_s: float = RETRY_DELAY_S,
        backoff: float = RETRY_BACKOFF,
        retry_on: type[Exception] | tuple[type[Exception], ...] | None = None,
    ) -> TaskDecorator:
        """Register the decorated function as a task of this pipeline.

        Parameters annotated with a dataset are the task's inputs; the return annotation is
        its output: one dataset, a ``tuple[a, b]`` of datasets (return a tuple), or ``None``.

        A failed attempt is retried ``retries`` times, the first after ``retry_delay_s``
        seconds, each next one ``backoff`` times later (2, 4, 8 s by default: the deployed
        state machine's ``IntervalSeconds`` and ``BackoffRate``); only exceptions of the
        ``retry_on`` classes (default: every exception) are retried.
        """
        if callable(name):
            raise UsageError("use `@pipeline.task()` with parentheses")
        if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
            raise UsageError(f"retries must be a non-negative integer, got {retries!r}")
        if timeout is not None and not (
            isinstance(timeout, (int, float)) and not isinstance(timeout, bool) and timeout > 0
        ):
            raise UsageError(f"timeout must be a positive number of seconds, got {timeout!r}")
        if compute is not None and not isinstance(compute, (Serverless, Container)):
            raise UsageError(f"compute must be Serverless(...) or Container(...), got {compute!r}")
        for error in (
            validate.retry_delay_s(retry_delay_s),
            validate.retry_backoff(backoff),
            validate.retry_on(retry_on),
        ):
            if error is not None:
                raise UsageError(str(error))
        on = retry_on if isinstance(retry_on, tuple) else () if retry_on is None else (retry_on,)
        retry = _Retry(float(retry_delay_s), float(backoff), on)
        return TaskDecorator(self, name, compute, retries, timeout, retry)

    def _register(
        self,
        fn: Callable[..., Any],
        name: str | None,
        compute: Serverless | Container | None,
        retries: int,
        timeout: float | None,
        scope: Mapping[str, Any] | None = None,
        retry: _Retry | None = None,
    ) -> None:
        from glacier._runtime_model import dataset_span, task_span

        task_name = name or fn.__name__
        site = _Site(f"function `{fn.__qualname__}`", task_name)
        existing = self._tasks.get(task_name)
        if existing is not None:
            raise DuplicateTaskError(
                site.says(
                    messages.DUPLICATE_TASK,
                    pipeline=self.name,
                    where=task_span(existing),
                    variable=self._site.variable_for(self) or "pipeline",
                )
            )
        inputs, outputs, returns_tuple = _signature_datasets(fn, site, scope or {})
        for ds in (*(d for _, d in inputs), *outputs):
            known = self._datasets.get(ds.name)
            if known is not None and known is not ds:
                raise DuplicateDatasetError(
                    site.says(
                        messages.DUPLICATE_DATASET,
                        pipeline=self.name,
                        dataset=ds.name,
                        where=dataset_span(known),
                    )
                )
        for ds in outputs:
            other = self._producers.get(ds.name)
            if other is not None:
                raise DuplicateProducerError(
                    site.says(
                        messages.DUPLICATE_PRODUCER,
                        dataset=ds.name,
                        other=other.name,
                        where=task_span(other),
                    )
                )
        retry = retry or _Retry()
        task = Task(
            task_name,
            fn,
            inputs,
            outputs,
            returns_tuple,
            compute,
            retries,
            timeout,
            retry.delay_s,
            retry.backoff,
            retry.on,
        )
        cycle = self._cycle_through(task)
        if cycle:
            raise CycleError(
                site.says(
                    messages.DATASET_CYCLE,
                    pipeline=self.name,
                    cycle=" -> ".join(f"`{n}`" for n in cycle),
                ),
                cycle,
            )
        self._tasks[task_name] = task
        for ds in (*(d for _, d in inputs), *outputs):
            self._datasets[ds.name] = ds
        for ds in outputs:
            self._producers[ds.name] = task
        self._consumed.update(ds.name for _, ds in inputs)

    def _cycle_through(self, new: Task) -> tuple[str, ...]:
        """A cycle the new task would close, as task, dataset, task, ... back to the task.

        Only a task that reads one of the new task's outputs (itself included) can close a
        cycle; when none is registered yet (tasks written in data-flow order), nothing is walked, so registration
        stays linear. Otherwise the walk goes upstream from the new task's inputs, iteratively.
        """
        outputs = {ds.name for ds in new.outputs}
        if outputs.isdisjoint(self._consumed) and outputs.isdisjoint(
            ds.name for _, ds in new.inputs
        ):
            return ()
        # a depth-first walk upstream, with the path as an explicit stack instead of recursion:
        # tasks[i + 1] produces reads[i], which tasks[i] reads
        tasks: list[Task] = [new]
        reads: list[str] = []
        inputs = [iter(new.inputs)]
        seen: set[str] = set()
        while inputs:
            for _, ds in inputs[-1]:
                if ds.name in outputs:
                    path = [new.name, ds.name]
                    for task, read in zip(reversed(tasks), reversed(reads), strict=False):
                        path += [task.name, read]
                    # presented along the data flow: back to the new task
                    return (*path, new.name)
                producer = self._producers.get(ds.name)
                if producer is None or producer.name in seen:
                    continue
                seen.add(producer.name)
                tasks.append(producer)
                reads.append(ds.name)
                inputs.append(iter(producer.inputs))
                break
            else:
                inputs.pop()
                tasks.pop()
                if reads:
                    reads.pop()
        return ()

    # -- queries ----------------------------------------------------------------------------

    @property
    def tasks(self) -> tuple[Task, ...]:
        return tuple(self._tasks.values())

    @property
    def datasets(self) -> tuple[Dataset[Any], ...]:
        return tuple(self._datasets.values())

    def producer(self, dataset: Dataset[Any] | str) -> Task | None:
        """The task that writes ``dataset``, or ``None`` for a source."""
        name = dataset if isinstance(dataset, str) else dataset.name
        return self._producers.get(name)

    def sources(self) -> tuple[Dataset[Any], ...]:
        """Datasets no task produces: they must be read from storage."""
        return tuple(d for d in self._datasets.values() if d.name not in self._producers)

    def to_model(self) -> PipelineModel:
        """The intermediate model of this pipeline (see ``glacier.model``)."""
        from glacier._runtime_model import pipeline_model

        return pipeline_model(self)


# -- reading a task's signature ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Site:
    """The task being registered, for its error messages: ``where`` names its function."""

    where: str
    task: str

    def says(self, message: messages.Message, **fields: Any) -> str:
        """An error's text: where, then the catalogue's message and hint for this task."""
        return f"{self.where}: {message.sentence(task=self.task, **fields)}"


def _signature_datasets(
    fn: Callable[..., Any], site: _Site, scope: Mapping[str, Any]
) -> tuple[tuple[tuple[str, Dataset[Any]], ...], tuple[Dataset[Any], ...], bool]:
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError) as exc:
        raise NotADatasetError(f"{site.where}: cannot read its signature: {exc}") from None
    annotations: Mapping[str, Any] = getattr(fn, "__annotations__", {})
    inputs: list[tuple[str, Dataset[Any]]] = []
    for param in signature.parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        has_default = param.default is not param.empty
        if param.name not in annotations:
            if has_default:
                continue
            raise MissingAnnotationError(site.says(messages.MISSING_ANNOTATION, param=param.name))
        what = messages.parameter_annotation(param.name)
        value = _resolve(fn, annotations[param.name], site, what, scope)
        if is_dataset(value):
            inputs.append((param.name, value))
            continue
        if has_default:
            continue
        raise NotADatasetError(
            site.says(
                messages.NOT_A_DATASET,
                what=what,
                annotation=_describe(annotations[param.name]),
                advice=messages.PARAMETER_ADVICE,
            )
        )
    if "return" not in annotations:
        raise MissingAnnotationError(site.says(messages.MISSING_RETURN_ANNOTATION))
    outputs, returns_tuple = _outputs(fn, annotations["return"], site, scope)
    return tuple(inputs), outputs, returns_tuple


def _outputs(
    fn: Callable[..., Any], annotation: Any, site: _Site, scope: Mapping[str, Any]
) -> tuple[tuple[Dataset[Any], ...], bool]:
    what = messages.RETURN_ANNOTATION
    value = _resolve(fn, annotation, site, what, scope)
    if value is None or value is type(None):
        return (), False
    if is_dataset(value):
        return (value,), False
    if isinstance(value, types.GenericAlias) and value.__origin__ is tuple:
        items = value.__args__
        if len(items) == 1 and is_dataset(items[0]):
            # The model, the standalone runner and the deployed handlers unpack a tuple only
            # for two or more outputs: `tuple[a]` would store the 1-tuple there, not here.
            raise NotADatasetError(
                site.says(
                    messages.NOT_A_DATASET,
                    what=what,
                    annotation=_written(annotation, f"tuple[{items[0].name}]"),
                    advice=messages.ONE_OUTPUT_ADVICE.format(item=items[0].name),
                )
            )
        if items and all(is_dataset(item) for item in items):
            seen: set[str] = set()
            for item in items:
                if item.name in seen:
                    raise NotADatasetError(site.says(messages.DUPLICATE_OUTPUT, dataset=item.name))
                seen.add(item.name)
            return tuple(items), True
    raise NotADatasetError(
        site.says(
            messages.NOT_A_DATASET,
            what=what,
            annotation=_describe(annotation),
            advice=messages.RETURN_ADVICE,
        )
    )


def _resolve(
    fn: Callable[..., Any], annotation: Any, site: _Site, what: str, scope: Mapping[str, Any]
) -> Any:
    """Evaluate a string annotation (``from __future__ import annotations``) like Python would.

    ``typing.get_type_hints`` rejects Dataset instances, so names are looked up directly: in
    the function's globals, then the scope that defined it, then its closure.
    """
    if not isinstance(annotation, str):
        return _check_nested(annotation, annotation, site, what)
    # globals, shadowed by the defining scope, shadowed by the closure; the globals are not
    # copied (a module of 10,000 tasks has 20,000), and at module level they are the scope
    global_names: dict[str, Any] = getattr(fn, "__globals__", None) or {}
    cells: dict[str, Any] = {}
    closure = getattr(fn, "__closure__", None) or ()
    for name, cell in zip(fn.__code__.co_freevars, closure, strict=False):
        try:
            cells[name] = cell.cell_contents
        except ValueError:
            pass
    local_names = ChainMap(cells, dict(scope)) if scope is not global_names else cells
    where = f"{site.where}: {what}"
    try:
        value = eval(annotation, global_names, local_names)
        if isinstance(value, str):
            # a quoted annotation under `from __future__ import annotations`: "raw"
            value = eval(value, global_names, local_names)
    except NameError as exc:
        raise NotADatasetError(
            f"{where} names `{annotation}`, which is not defined ({exc})"
        ) from None
    except SyntaxError as exc:
        raise NotADatasetError(f"{where} `{annotation}` is not valid Python ({exc})") from None
    except TypeError as exc:
        raise NotADatasetError(
            f"{where} `{annotation}` cannot be evaluated: {exc}; a dataset cannot be "
            "nested inside another type"
        ) from None
    return _check_nested(value, annotation, site, what)


def _check_nested(value: Any, annotation: Any, site: _Site, what: str) -> Any:
    """Reject datasets nested in other types (``list[raw]``, ``raw | None``); ``annotation``
    is what the function says (the source text under ``from __future__ import annotations``)."""
    if is_dataset(value) or value is None:
        return value
    if isinstance(value, types.GenericAlias) and value.__origin__ is tuple:
        return value
    for arg in getattr(value, "__args__", ()) or ():
        if is_dataset(arg):
            raise NotADatasetError(
                site.says(
                    messages.NESTED_DATASET,
                    what=what,
                    dataset=arg.name,
                    annotation=_describe(annotation),
                )
            )
    if value is Dataset or getattr(value, "__origin__", None) is Dataset:
        raise NotADatasetError(site.says(messages.DATASET_CLASS, what=what))
    return value


def _written(annotation: Any, default: str) -> str:
    """The annotation as its source text says it, if it is text, else ``default``."""
    return annotation if isinstance(annotation, str) else default


def _describe(annotation: Any) -> str:
    if isinstance(annotation, str):
        return annotation
    if isinstance(annotation, type):
        return annotation.__qualname__
    return repr(annotation)
