"""The scheduling core: run a DAG of jobs in dependency order, in parallel where it can.

Self-contained on purpose, like ``_io``: standard library only, no ``glacier`` import. The
runtime (``LocalExecutor``) adapts a live ``Pipeline`` to ``Job``s; the generated standalone
runner embeds this source verbatim and builds the same ``Job``s from its own table, so both run
pipelines with one scheduler.

Semantics
---------
- Jobs run in topological order; ties follow the order the jobs were given in.
- A job whose upstream job failed (or was skipped) is skipped; independent branches finish.
- A job is attempted ``1 + retries`` times; an attempt is the call, the check of its result
  (a ``tuple[a, b]`` output must return a 2-tuple) and the writing of its stored outputs.
  Like the deployed state machine's ``Retry`` (``IntervalSeconds``, ``BackoffRate``,
  ``ErrorEquals``): the first retry waits ``retry_delay_s``, each next one ``backoff`` times
  longer, and only an exception whose class, or one of its base classes, is named in
  ``retry_on`` is retried (empty: every exception). ``run(..., sleep=)`` replaces
  ``time.sleep`` for the waits (tests).
- ``payloads`` (dataset → runtime classes, declared type, where it is declared): a returned
  value that is not an instance of its dataset's classes fails the job with a
  ``PayloadTypeError`` before anything is stored, and is not retried (the same code would
  return the same type). :func:`payload_classes` turns a payload type into those classes.
- Every task that reads a value gets its own copy, for each attempt (:func:`own_copy`: a
  deep copy, ``DataFrame.copy()`` for a pandas frame, immutable scalars as they are), so
  a task that changes its input in place changes nothing another task, or its own retry,
  sees: a full run gives what a resumed one does, whose inputs come from storage. The
  datasets in ``run(..., shared=)`` (``Dataset(copy=False)``) are handed over as they are,
  and so is a value that cannot be copied (noted in the log). In process mode the value is
  pickled to the worker, which is a copy already.
- ``async def`` functions run with ``asyncio.run``.
- ``timeout`` (seconds): an async function is cancelled; a sync function runs in a helper
  thread and is abandoned when the timeout passes (Python cannot stop a thread: it keeps
  running in the background and its result is discarded). In process mode the call is
  abandoned the same way and the pool's worker processes are terminated when the run ends.
- Threads (``mode="thread"``) suit I/O-bound tasks and code that releases the GIL.
  ``mode="process"`` calls each function in a ``concurrent.futures.ProcessPoolExecutor``:
  the function, its inputs and its result must be picklable, so tasks must be module-level
  functions of an importable module (the default ``fork`` start method on Linux also accepts
  functions of ``__main__``); reading and writing storage stays in the parent.
- Sequential runs (``max_workers=1``) and chains take a fast path without any thread pool:
  a job runs in the calling thread whenever it is the only one ready and nothing else runs.

Embedding (for the code generator)
----------------------------------
``_io.py`` and ``_schedule.py`` share no top-level names except ``__all__``, so a runner can
carry both verbatim: one ``from __future__ import annotations`` at its top, then each source
with that line removed, then::

    jobs = [Job("extract", extract, (), ("raw",)), Job("clean", clean, (("rows", "raw"),),
            ("clean",), retries=2, timeout=60.0)]
    store = Store({"raw": {"kind": "object", "bucket": "b", "prefix": "", "format": None},
                   "clean": None}, ".glacier/data")
    result = run(jobs, store, targets=None, max_workers=None, mode="thread", log=print_log)
    print(result.summary()); sys.exit(0 if result.ok else 1)

(Alternatively, exec each source into its own ``types.ModuleType``.)
"""

from __future__ import annotations

import inspect
import os
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:  # asyncio and concurrent.futures cost ~25 ms to import: only when used
    from concurrent.futures import Future, ThreadPoolExecutor

__all__ = [
    "Job",
    "PayloadTypeError",
    "RunResult",
    "SourceMissingError",
    "StoreLike",
    "TaskResult",
    "own_copy",
    "payload_classes",
    "run",
    "select",
    "topological_order",
]

Status = Literal["succeeded", "failed", "skipped"]


class SourceMissingError(Exception):
    """A source dataset has nothing stored; raised before any job starts.

    The runtime passes ``glacier.errors.SourceMissingError`` to :func:`run` instead.
    """


class PayloadTypeError(TypeError):
    """A task returned a value that is not of its dataset's declared payload type."""


def payload_classes(payload: Any) -> tuple[type, ...] | None:
    """The classes a value of the type ``payload`` (``T`` of ``Dataset[T]``) is an instance
    of, or ``None`` when nothing can be checked (``Any``, a type variable, a ``Literal``).

    A generic's origin stands for it (``list[int]``: ``list``; element types are not
    checked); a union is any of its members; ``float`` also accepts ``int`` and ``complex``
    both, as type checkers do.
    """
    import types
    import typing

    if payload is None or payload is type(None):
        return (type(None),)
    if payload is typing.Any:
        return None
    origin = typing.get_origin(payload)
    if origin is typing.Annotated:
        return payload_classes(typing.get_args(payload)[0])
    if origin is typing.Union or origin is types.UnionType:
        found: list[type] = []
        for member in typing.get_args(payload):
            classes = payload_classes(member)
            if classes is None:
                return None
            found.extend(classes)
        return tuple(dict.fromkeys(found))
    cls = origin if origin is not None else payload
    if not isinstance(cls, type):
        return None
    if cls is float:
        return (float, int)
    if cls is complex:
        return (complex, float, int)
    return (cls,)


_IMMUTABLE = frozenset({str, bytes, int, float, complex, bool, type(None), range})


def own_copy(value: Any) -> Any:
    """A copy of ``value`` no other task shares: a deep copy, ``DataFrame.copy()`` (deep)
    for a pandas object, and an immutable scalar itself. Raises what ``deepcopy`` raises."""
    kind = type(value)
    if kind in _IMMUTABLE:
        return value
    if kind.__module__.partition(".")[0] == "pandas" and callable(getattr(value, "copy", None)):
        return value.copy()  # pandas is imported already when a frame exists
    import copy

    return copy.deepcopy(value)


def _is_instance(value: Any, classes: tuple[type, ...]) -> bool:
    try:
        return isinstance(value, classes)
    except TypeError:  # a class isinstance refuses (a protocol without @runtime_checkable)
        return True


class StoreLike(Protocol):
    """What the scheduler needs from storage (``_io.Store`` implements it)."""

    def persistent(self, dataset: str) -> bool: ...
    def exists(self, dataset: str) -> bool: ...
    def location(self, dataset: str) -> str: ...
    def read(self, dataset: str) -> Any: ...
    def write(self, dataset: str, value: Any) -> Any: ...


class Job:
    """One task as the scheduler sees it: plain names, no Glacier objects."""

    __slots__ = (
        "backoff",
        "function",
        "inputs",
        "is_async",
        "name",
        "outputs",
        "params",
        "payloads",
        "retries",
        "retry_delay_s",
        "retry_on",
        "returns_tuple",
        "timeout",
    )

    def __init__(
        self,
        name: str,
        function: Callable[..., Any],
        inputs: Sequence[tuple[str, str]] = (),
        outputs: Sequence[str] = (),
        *,
        returns_tuple: bool | None = None,
        retries: int = 0,
        timeout: float | None = None,
        retry_delay_s: float = 0.0,
        backoff: float = 1.0,
        retry_on: Sequence[str] = (),
        payloads: Mapping[str, tuple[tuple[type, ...], str, str]] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.function = function
        self.inputs = tuple(inputs)  # (parameter, dataset) pairs
        self.outputs = tuple(outputs)
        self.returns_tuple = len(self.outputs) > 1 if returns_tuple is None else returns_tuple
        self.retries = retries
        self.timeout = timeout
        self.retry_delay_s = retry_delay_s
        self.backoff = backoff
        self.retry_on = frozenset(retry_on)  # exception class names
        # output dataset -> (its payload's classes, the type as declared, where it is declared)
        self.payloads = dict(payloads) if payloads else {}
        # run parameters the run sets (parsed): keyword arguments besides the inputs
        self.params = dict(params) if params else {}
        self.is_async = inspect.iscoroutinefunction(function)

    def __repr__(self) -> str:
        return f"Job({self.name!r})"

    def retries_on(self, exc: BaseException) -> bool:
        """Whether ``exc`` is worth another attempt: ``retry_on`` names its class or a base."""
        names = self.retry_on
        return not names or any(cls.__name__ in names for cls in type(exc).__mro__)

    def delay_before(self, attempt: int) -> float:
        """Seconds to wait before attempt ``attempt`` (2 is the first retry)."""
        return float(self.retry_delay_s * self.backoff ** (attempt - 2))


class TaskResult:
    """How one task ended: ``status`` is ``succeeded``, ``failed`` or ``skipped``.

    ``duration`` is wall-clock seconds over all attempts; ``error`` is the last attempt's
    exception with its traceback, as text; ``upstream`` names the failed task a skipped
    task waited for.
    """

    __slots__ = ("attempts", "duration", "error", "exception", "name", "status", "upstream")

    def __init__(
        self,
        name: str,
        status: Status,
        duration: float = 0.0,
        attempts: int = 0,
        error: str | None = None,
        exception: BaseException | None = None,
        upstream: str | None = None,
    ) -> None:
        self.name = name
        self.status = status
        self.duration = duration
        self.attempts = attempts
        self.error = error
        self.exception = exception
        self.upstream = upstream

    @property
    def ok(self) -> bool:
        return self.status == "succeeded"

    def __repr__(self) -> str:
        extra = f", upstream={self.upstream!r}" if self.upstream else ""
        return (
            f"TaskResult({self.name!r}, {self.status!r}, duration={self.duration:.6f}, "
            f"attempts={self.attempts}{extra})"
        )


class RunResult:
    """The outcome of a run: ``tasks`` in the order they were scheduled, ``outputs`` by dataset.

    ``outputs`` holds every dataset value the run produced or read.
    """

    __slots__ = ("duration", "outputs", "tasks")

    def __init__(
        self, tasks: dict[str, TaskResult], outputs: dict[str, Any], duration: float
    ) -> None:
        self.tasks = tasks
        self.outputs = outputs
        self.duration = duration

    @property
    def ok(self) -> bool:
        return all(t.status == "succeeded" for t in self.tasks.values())

    @property
    def failed(self) -> tuple[str, ...]:
        return tuple(n for n, t in self.tasks.items() if t.status == "failed")

    @property
    def skipped(self) -> tuple[str, ...]:
        return tuple(n for n, t in self.tasks.items() if t.status == "skipped")

    def summary(self) -> str:
        """A small table of the tasks, then one line for the run; errors follow."""
        width = max([len(n) for n in self.tasks] + [4])
        lines = [f"{'task':<{width}}  {'status':<9}  {'attempts':>8}  {'seconds':>8}"]
        for name, t in self.tasks.items():
            lines.append(f"{name:<{width}}  {t.status:<9}  {t.attempts:>8}  {t.duration:>8.3f}")
        counts = {s: 0 for s in ("succeeded", "failed", "skipped")}
        for t in self.tasks.values():
            counts[t.status] += 1
        state = "ok" if self.ok else "FAILED"
        lines.append(
            f"run {state}: {counts['succeeded']} succeeded, {counts['failed']} failed, "
            f"{counts['skipped']} skipped in {self.duration:.3f}s"
        )
        for name, t in self.tasks.items():
            if t.error:
                lines.append(f"--- {name}\n{t.error.rstrip()}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"RunResult(ok={self.ok}, tasks={len(self.tasks)}, duration={self.duration:.6f})"


# -- planning ---------------------------------------------------------------------------------


def topological_order(jobs: Sequence[Job]) -> list[Job]:
    """Producers before consumers; among ready jobs, the given order. Raises on a cycle."""
    producer = {out: job for job in jobs for out in job.outputs}
    index = {id(job): i for i, job in enumerate(jobs)}
    waiting = {}
    dependents: dict[int, list[Job]] = {id(job): [] for job in jobs}
    for job in jobs:
        ups = {id(producer[d]) for _, d in job.inputs if d in producer}
        waiting[id(job)] = len(ups)
        for up in ups:
            dependents[up].append(job)
    import heapq

    ready = [(index[id(j)], j.name, j) for j in jobs if waiting[id(j)] == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        _, _, job = heapq.heappop(ready)
        order.append(job)
        for dep in dependents[id(job)]:
            waiting[id(dep)] -= 1
            if waiting[id(dep)] == 0:
                heapq.heappush(ready, (index[id(dep)], dep.name, dep))
    if len(order) != len(jobs):
        stuck = sorted(j.name for j in jobs if waiting[id(j)] > 0)
        raise ValueError(f"the jobs form a cycle among: {', '.join(stuck)}")
    return order


def select(jobs: Sequence[Job], targets: Iterable[str]) -> list[Job]:
    """The jobs needed to produce the ``targets`` datasets: their producers and ancestors."""
    producer = {out: job for job in jobs for out in job.outputs}
    needed: set[int] = set()
    stack = [producer[t] for t in targets if t in producer]
    while stack:
        job = stack.pop()
        if id(job) in needed:
            continue
        needed.add(id(job))
        stack.extend(producer[d] for _, d in job.inputs if d in producer)
    return [job for job in jobs if id(job) in needed]


# -- running ----------------------------------------------------------------------------------


def run(
    jobs: Sequence[Job],
    store: StoreLike,
    *,
    targets: Iterable[str] | None = None,
    max_workers: int | None = None,
    mode: str = "thread",
    log: Callable[[str], None] | None = None,
    source_missing: type[Exception] = SourceMissingError,
    sleep: Callable[[float], object] = time.sleep,
    shared: Iterable[str] = (),
) -> RunResult:
    """Run ``jobs`` (or only what ``targets`` need) and return how each ended.

    Every source dataset (read by a job, produced by none) must exist in ``store``: otherwise
    ``source_missing`` is raised, naming the dataset and its location, before any job starts.
    """
    if mode not in ("thread", "process"):
        raise ValueError(f"mode must be 'thread' or 'process', got {mode!r}")
    if max_workers is not None and max_workers < 1:
        raise ValueError(f"max_workers must be at least 1, got {max_workers!r}")
    started = time.perf_counter()
    target_list = list(targets) if targets is not None else None
    chosen = select(jobs, target_list) if target_list is not None else jobs
    order = topological_order(chosen)
    produced = {out for job in order for out in job.outputs}
    sources: dict[str, None] = {}
    for job in order:
        for _, d in job.inputs:
            if d not in produced:
                sources[d] = None
    for t in target_list or ():
        if t not in produced:
            sources[t] = None
    for d in sources:
        if not store.persistent(d):
            raise source_missing(
                f"source dataset `{d}` has no storage and no task produces it; give it "
                "`storage=` or add a task that returns it"
            )
        if not store.exists(d):
            raise source_missing(
                f"source dataset `{d}` has nothing stored at {store.location(d)}; put the "
                "data there or add a task that produces it"
            )
    state = _Run(order, store, sources, mode, max_workers, log, sleep, frozenset(shared))
    try:
        state.execute()
    finally:
        state.close()
    for t in target_list or ():
        if t in sources:  # a source asked for by name: read it, so it is in the outputs
            state.source(t)
    return RunResult(state.results, state.outputs(), time.perf_counter() - started)


_UNREAD = object()


class _Run:
    """The mutable state of one run."""

    def __init__(
        self,
        order: list[Job],
        store: StoreLike,
        sources: Mapping[str, None],
        mode: str,
        max_workers: int | None,
        log: Callable[[str], None] | None,
        sleep: Callable[[float], object] = time.sleep,
        shared: frozenset[str] = frozenset(),
    ) -> None:
        self.order = order
        self.sleep = sleep
        self.shared = shared  # datasets whose readers share one value
        self.store = store
        self.mode = mode
        self.log = log
        self.values: dict[str, Any] = dict.fromkeys(sources, _UNREAD)
        self.source_lock = threading.Lock()
        self.persistent = {out: store.persistent(out) for job in order for out in job.outputs}
        self.results: dict[str, TaskResult] = {}
        self.bad: dict[str, str] = {}  # unavailable dataset → the task that failed upstream
        if max_workers is None:
            cpus = os.cpu_count() or 1
            max_workers = cpus if mode == "process" else min(32, cpus + 4)
        self.max_workers = max_workers
        self.threads: ThreadPoolExecutor | None = None
        self.processes: Any = None
        self.timed_out = False

    # -- the loop ---------------------------------------------------------------------------

    def execute(self) -> None:
        if self.max_workers == 1 or len(self.order) <= 1:
            for job in self.order:
                self.finish(job, self.attempt_or_skip(job))
            return
        self.execute_parallel()

    def execute_parallel(self) -> None:
        import queue
        from concurrent.futures import ThreadPoolExecutor

        producer = {out: job for job in self.order for out in job.outputs}
        waiting: dict[str, int] = {}
        dependents: dict[str, list[Job]] = {job.name: [] for job in self.order}
        for job in self.order:
            ups = {producer[d].name for _, d in job.inputs if d in producer}
            waiting[job.name] = len(ups)
            for up in ups:
                dependents[up].append(job)
        ready = deque(job for job in self.order if waiting[job.name] == 0)
        finished: queue.SimpleQueue[tuple[Job, TaskResult | None, BaseException | None]]
        finished = queue.SimpleQueue()
        running = 0

        def work(job: Job) -> None:
            try:
                result = self.attempt_or_skip(job)
            except BaseException as exc:  # noqa: BLE001 - a scheduler bug: re-raised below
                finished.put((job, None, exc))
            else:
                finished.put((job, result, None))

        def done(job: Job, result: TaskResult | None, error: BaseException | None) -> None:
            if error is not None:
                raise error
            assert result is not None
            self.finish(job, result)
            for dep in dependents[job.name]:
                waiting[dep.name] -= 1
                if waiting[dep.name] == 0:
                    ready.append(dep)

        while ready or running:
            if not running and len(ready) == 1:
                job = ready.popleft()  # nothing to overlap with: run it here, no hand-off
                done(job, self.attempt_or_skip(job), None)
                continue
            while ready and running < self.max_workers:
                job = ready.popleft()
                if self.blocked_by(job) is not None:
                    done(job, self.attempt_or_skip(job), None)  # a skip is instant
                    continue
                if self.threads is None:
                    self.threads = ThreadPoolExecutor(
                        self.max_workers, thread_name_prefix="glacier"
                    )
                self.threads.submit(work, job)
                running += 1
            if not running:
                continue
            done(*finished.get())
            running -= 1
            while running:  # collect everything else that finished meanwhile
                try:
                    item = finished.get_nowait()
                except queue.Empty:
                    break
                done(*item)
                running -= 1

    def close(self) -> None:
        if self.threads is not None:
            self.threads.shutdown(wait=not self.timed_out, cancel_futures=True)
        if self.processes is not None:
            if self.timed_out:  # a worker may still run an abandoned call: stop it
                for process in list(getattr(self.processes, "_processes", {}).values()):
                    process.terminate()
            self.processes.shutdown(wait=True, cancel_futures=True)

    def outputs(self) -> dict[str, Any]:
        return {k: v for k, v in self.values.items() if v is not _UNREAD}

    # -- one job ----------------------------------------------------------------------------

    def blocked_by(self, job: Job) -> str | None:
        bad = self.bad
        if bad:
            for _, d in job.inputs:
                if d in bad:
                    return bad[d]
        return None

    def finish(self, job: Job, result: TaskResult) -> None:
        self.results[job.name] = result
        if result.status != "succeeded":
            culprit = result.upstream or job.name
            for out in job.outputs:
                self.bad[out] = culprit

    def attempt_or_skip(self, job: Job) -> TaskResult:
        upstream = self.blocked_by(job)
        if upstream is not None:
            if self.log:
                self.log(f"skip   {job.name} (upstream task `{upstream}` failed)")
            return TaskResult(job.name, "skipped", upstream=upstream)
        log = self.log
        if log:
            log(f"start  {job.name}")
        start = time.perf_counter()
        values = self.values
        try:
            kwargs = {param: values[d] for param, d in job.inputs}
        except KeyError as exc:  # a dataset neither produced nor a source: a planning bug
            return self.failed(job, exc, start, 0)
        if any(value is _UNREAD for value in kwargs.values()):
            try:
                kwargs = {param: self.source(d) for param, d in job.inputs}
            except Exception as exc:  # noqa: BLE001 - any error fails the task, not the run
                return self.failed(job, exc, start, 0)
        attempts = 0
        tries = job.retries + 1
        while True:
            attempts += 1
            try:
                arguments = self.own_inputs(job, kwargs)
                if job.params:
                    arguments = {**arguments, **self.own_params(job)}
                self.complete(job, self.call(job, arguments))
            except Exception as exc:  # noqa: BLE001 - any error fails the attempt, not the run
                if (
                    attempts < tries
                    and job.retries_on(exc)
                    and not isinstance(exc, PayloadTypeError)
                ):
                    delay = job.delay_before(attempts + 1)
                    if log:
                        log(
                            f"retry  {job.name} in {delay:g}s (attempt {attempts} of {tries}: "
                            f"{_one_line(exc)})"
                        )
                    if delay > 0:
                        self.sleep(delay)
                    continue
                return self.failed(job, exc, start, attempts)
            duration = time.perf_counter() - start
            if log:
                log(f"done   {job.name} in {duration:.3f}s")
            return TaskResult(job.name, "succeeded", duration, attempts)

    def own_inputs(self, job: Job, kwargs: dict[str, Any]) -> dict[str, Any]:
        """The inputs of one attempt, each the job's own copy unless its dataset is shared."""
        if self.mode == "process" or not kwargs:
            return kwargs  # pickled to the worker: copies already
        shared = self.shared
        own = {}
        for param, dataset in job.inputs:
            value = kwargs[param]
            if dataset not in shared:
                try:
                    value = own_copy(value)
                except Exception as exc:  # noqa: BLE001 - an uncopyable value is shared
                    if self.log:
                        self.log(
                            f"note   `{dataset}` is shared with `{job.name}`, not copied "
                            f"({_one_line(exc)})"
                        )
            own[param] = value
        return own

    def own_params(self, job: Job) -> dict[str, Any]:
        """The run parameters of one attempt, copies: an attempt that changes a list it was
        given does not change what the next attempt gets."""
        if self.mode == "process":
            return job.params
        return {name: own_copy(value) for name, value in job.params.items()}

    def failed(self, job: Job, exc: BaseException, start: float, attempts: int) -> TaskResult:
        duration = time.perf_counter() - start
        text = "".join(traceback.format_exception(exc))
        if self.log:
            self.log(f"FAILED {job.name} in {duration:.3f}s: {_one_line(exc)}")
        return TaskResult(job.name, "failed", duration, attempts, text, exc)

    def source(self, dataset: str) -> Any:
        value = self.values[dataset]
        if value is not _UNREAD:
            return value
        with self.source_lock:
            value = self.values[dataset]
            if value is _UNREAD:
                value = self.store.read(dataset)
                self.values[dataset] = value
            return value

    def call(self, job: Job, kwargs: dict[str, Any]) -> Any:
        if self.mode == "process":
            return self.call_in_process(job, kwargs)
        if job.timeout is None:
            if job.is_async:
                import asyncio

                return asyncio.run(job.function(**kwargs))
            return job.function(**kwargs)
        if job.is_async:
            import asyncio

            return asyncio.run(_async_with_timeout(job, kwargs))
        return self.call_in_thread(job, kwargs)

    def call_in_thread(self, job: Job, kwargs: dict[str, Any]) -> Any:
        from concurrent.futures import Future

        future: Future[Any] = Future()

        def target() -> None:
            try:
                future.set_result(job.function(**kwargs))
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
                future.set_exception(exc)

        threading.Thread(target=target, name=f"glacier-{job.name}", daemon=True).start()
        try:
            return future.result(job.timeout)
        except TimeoutError:
            if not future.done():
                self.timed_out = True
                raise TimeoutError(
                    f"task `{job.name}` did not finish within {job.timeout:g}s"
                ) from None
            raise

    def call_in_process(self, job: Job, kwargs: dict[str, Any]) -> Any:
        with self.source_lock:
            if self.processes is None:
                from concurrent.futures import ProcessPoolExecutor

                self.processes = ProcessPoolExecutor(self.max_workers)
        future = self.processes.submit(_invoke, job.function, kwargs, job.is_async, job.timeout)
        try:
            return future.result(job.timeout)
        except TimeoutError:
            if not future.done():
                self.timed_out = True
                raise TimeoutError(
                    f"task `{job.name}` did not finish within {job.timeout:g}s"
                ) from None
            raise

    def complete(self, job: Job, result: Any) -> None:
        """Unpack the result, write stored outputs, then publish the values."""
        outputs = job.outputs
        if not outputs:
            return
        if job.returns_tuple:
            if not isinstance(result, (tuple, list)) or len(result) != len(outputs):
                got = (
                    f"{len(result)} values"
                    if isinstance(result, (tuple, list))
                    else f"a {type(result).__name__}"
                )
                raise TypeError(
                    f"task `{job.name}` returned {got}; its return annotation needs a tuple of "
                    f"{len(outputs)} ({', '.join(f'`{o}`' for o in outputs)})"
                )
            pairs = tuple(zip(outputs, result, strict=True))
        else:
            pairs = ((outputs[0], result),)
        if job.payloads:
            _check_payloads(job, pairs)
        persistent = self.persistent
        for name, value in pairs:
            if persistent[name]:
                self.store.write(name, value)
        values = self.values
        for name, value in pairs:
            values[name] = value


def _check_payloads(job: Job, pairs: Iterable[tuple[str, Any]]) -> None:
    for name, value in pairs:
        check = job.payloads.get(name)
        if check is not None and not _is_instance(value, check[0]):
            _, declared, where = check
            raise PayloadTypeError(
                f"task `{job.name}` returned {type(value).__name__} for dataset `{name}` "
                f"declared `{declared}` at {where}"
            )


async def _async_with_timeout(job: Job, kwargs: dict[str, Any]) -> Any:
    import asyncio

    try:
        return await asyncio.wait_for(job.function(**kwargs), job.timeout)
    except TimeoutError:
        raise TimeoutError(f"task `{job.name}` did not finish within {job.timeout:g}s") from None


def _invoke(
    function: Callable[..., Any], kwargs: dict[str, Any], is_async: bool, timeout: float | None
) -> Any:
    """Runs in a worker process."""
    if is_async:
        import asyncio

        if timeout is None:
            return asyncio.run(function(**kwargs))
        return asyncio.run(asyncio.wait_for(function(**kwargs), timeout))
    return function(**kwargs)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def print_log(line: str) -> None:
    """The default ``verbose`` sink: one line per event on standard error."""
    print(f"[glacier] {line}", file=sys.stderr, flush=True)
