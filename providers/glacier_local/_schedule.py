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
- Incremental runs (``run(..., cache=RunCache(...))``): a job is not run again (status
  ``cached``) when its key, a hash of its ``fingerprint`` (code and parameters, computed by the
  caller: :func:`task_fingerprint`) and of its inputs' fingerprints, equals the key recorded
  by the run that produced its current outputs, and those outputs are in place and unchanged
  (same size and modification time as recorded). See :class:`RunCache` for the records, the
  fingerprints of datasets, and what happens with ephemeral outputs.
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
    result = run(jobs, store, targets=None, max_workers=None, mode="thread", log=print)
    print(result.summary()); sys.exit(0 if result.ok else 1)

(Alternatively, exec each source into its own ``types.ModuleType``.)
"""

from __future__ import annotations

import inspect
import os
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
    "Observer",
    "PayloadTypeError",
    "RunCache",
    "RunResult",
    "SourceMissingError",
    "StoreLike",
    "TaskResult",
    "age_text",
    "own_copy",
    "payload_classes",
    "pipeline_directory",
    "preview",
    "run",
    "select",
    "task_fingerprint",
    "topological_order",
]

Status = Literal["succeeded", "cached", "failed", "skipped"]


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


def task_fingerprint(code: str | None, parameters: Mapping[str, object]) -> str | None:
    """A job's ``fingerprint``: its code fingerprint (``glacier.fingerprint``) and the values
    of its run parameters (by ``repr``); ``None`` when the code has no fingerprint."""
    if code is None:
        return None
    import hashlib

    values = repr(sorted((str(k), repr(v)) for k, v in parameters.items()))
    return hashlib.sha256(f"{code}\0{values}".encode()).hexdigest()


class RunCache:
    """What incremental runs remember, under ``<data_dir>/.glacier-run/<pipeline>/``.

    - ``tasks/<task>.json``, one per task, written atomically (a temporary file, then
      ``os.replace``) once the task's outputs are written: the task's key, when it finished,
      and the size and modification time (ns) of each stored output's file. A crash before
      the record is replaced leaves the previous one, and the outputs written since no longer
      match it, so the task runs again: no record claims an output that is not fully written.
    - ``sources/<dataset>.json``: a source dataset's fingerprint, the SHA-256 of its file,
      with the size and modification time it was computed at. The file is read and hashed
      again only when its size or modification time changes (a touched but unchanged file
      keeps its fingerprint, and its readers do not run again).

    A task's key hashes its ``Job.fingerprint`` (code and parameters) and its inputs'
    fingerprints; the fingerprint of a task's output is derived from that key, so it is
    known without reading the output. A task is ``cached`` when its key equals its record's
    and every stored output's file has the recorded size and modification time (an output in
    a database table: the recorded hash of its rows as read, pickled; the same for a source
    in a table). A task without a code fingerprint always runs.

    Ephemeral outputs (in memory, not kept) cannot be reused: a task that has one is not run
    when its key matches and no task of this run that reads that output runs; when one does,
    the task runs first, on demand (logged ``rerun``), so its reader gets the value. A task
    whose ephemeral output no task reads (a value the caller gets back in
    ``RunResult.outputs``) always runs.

    ``force``: ``True`` runs every task again, or the names of the tasks to run again
    regardless of their records (their outputs' fingerprints stay derived from their keys,
    so their readers run again only if the key changed).
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        pipeline: str,
        force: bool | Iterable[str] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.directory = pipeline_directory(data_dir, pipeline)
        self.force_all = force is True
        self.force = frozenset() if isinstance(force, bool) else frozenset(force)
        self.clock = clock
        self.read_only = False  # a preview: records are read, never written
        self._lock = threading.Lock()
        self._counter = 0

    def forced(self, task: str) -> bool:
        return self.force_all or task in self.force

    def _path(self, kind: str, name: str) -> str:
        return os.path.join(self.directory, kind, _safe_name(name) + ".json")

    def _load(self, kind: str, name: str) -> dict[str, Any] | None:
        import json

        try:
            with open(self._path(kind, name), encoding="utf-8") as fh:
                record = json.load(fh)
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict) or record.get("name") != name:
            return None  # another name that maps to the same file
        return record

    def _save(self, kind: str, name: str, record: dict[str, Any]) -> None:
        import json

        if self.read_only:
            return
        path = self._path(kind, name)
        with self._lock:
            self._counter += 1
            temp = f"{path}.{os.getpid()}.{threading.get_ident()}.{self._counter}.tmp"
        os.makedirs(os.path.dirname(path), exist_ok=True)
        try:
            with open(temp, "w", encoding="utf-8") as fh:
                json.dump({"name": name, **record}, fh, sort_keys=True)
            os.replace(temp, path)
        except BaseException:
            try:
                os.unlink(temp)
            except OSError:
                pass
            raise

    def record(self, task: str) -> dict[str, Any] | None:
        """The record of the run that produced ``task``'s current outputs, if any."""
        return self._load("tasks", task)

    def save(self, task: str, key: str, outputs: Mapping[str, list[Any]]) -> None:
        self._save("tasks", task, {"key": key, "finished": self.clock(), "outputs": outputs})

    def forget(self, task: str) -> None:
        try:
            os.unlink(self._path("tasks", task))
        except OSError:
            pass

    def source_fingerprint(self, dataset: str, store: StoreLike) -> str | None:
        """The content hash of a source dataset: of its file, else of its value as read."""
        location = store.location(dataset)
        state = file_state(location)
        if state is None:
            return value_hash(store, dataset)
        known = self._load("sources", dataset)
        if known is not None and known.get("state") == state and known.get("path") == location:
            return str(known["sha256"])
        import hashlib

        digest = hashlib.sha256()
        try:
            with open(location, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
        except OSError:
            return None
        fingerprint = digest.hexdigest()
        try:
            self._save(
                "sources", dataset, {"path": location, "state": state, "sha256": fingerprint}
            )
        except OSError:
            pass  # a read-only data dir: hash again next time
        return fingerprint


def output_state(store: StoreLike, dataset: str) -> list[Any] | None:
    """What shows that a stored output is unchanged: its file's size and modification time,
    or for a table the hash of its value as read (``None``: nothing stored)."""
    state = file_state(store.location(dataset))
    if state is not None:
        return state
    digest = value_hash(store, dataset)
    return None if digest is None else ["value", digest]


def value_hash(store: StoreLike, dataset: str) -> str | None:
    """SHA-256 of a dataset's value as read (pickled, protocol 4), for datasets in tables."""
    import hashlib
    import pickle

    try:
        if not store.exists(dataset):
            return None
        return hashlib.sha256(pickle.dumps(store.read(dataset), protocol=4)).hexdigest()
    except Exception:  # noqa: BLE001 - no fingerprint: the readers run
        return None


def file_state(path: str) -> list[int] | None:
    """A file's ``[size, mtime_ns]`` (``None``: not a regular file)."""
    try:
        stat = os.stat(path)
    except (OSError, ValueError):
        return None
    import stat as stat_module

    if not stat_module.S_ISREG(stat.st_mode):
        return None
    return [stat.st_size, stat.st_mtime_ns]


def pipeline_directory(data_dir: str | os.PathLike[str], pipeline: str) -> str:
    """Where a pipeline's records are kept: ``RunCache``'s, and its runs' (``_runlog``)."""
    return os.path.join(os.fspath(data_dir), ".glacier-run", _safe_name(pipeline))


def _safe_name(name: str) -> str:
    """``name`` as one file name: itself when plainly safe, else a readable part and a hash."""
    import re

    if re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}", name) and name.upper() not in _RESERVED:
        return name
    import hashlib

    readable = re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_-")[:40]
    return f"{readable}_{hashlib.sha256(name.encode()).hexdigest()[:12]}"


_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)), *(f"LPT{i}" for i in range(10))}
)


def _derived(key: str, dataset: str) -> str:
    import hashlib

    return hashlib.sha256(f"{key}\0{dataset}".encode()).hexdigest()


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


class Observer(Protocol):
    """What ``run(..., observer=)`` tells (``_runlog.RunLog`` is the one Glacier uses)."""

    capture: Any  # process mode: wraps the call in the worker, returns (value, out, err)
    wants_lines: bool  # whether routine lines (start, done, cached) go anywhere

    def begin(self, tasks: Sequence[tuple[str, Sequence[str]]]) -> None: ...
    def event(self, task: str | None, line: str, *, always: bool = False) -> None: ...
    def started_task(self, task: str) -> None: ...
    def enter(self, task: str) -> None: ...
    def leave(self) -> None: ...
    def output(self, task: str, stream: str, text: str) -> None: ...
    def ended(self, result: TaskResult) -> None: ...
    def end(
        self, results: Mapping[str, TaskResult], store: Any, error: BaseException | None
    ) -> None: ...


class Job:
    """One task as the scheduler sees it: plain names, no Glacier objects."""

    __slots__ = (
        "backoff",
        "fingerprint",
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
        fingerprint: str | None = None,
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
        # code and parameters (`task_fingerprint`); None: never reused from an earlier run
        self.fingerprint = fingerprint
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
    """How one task ended: ``status`` is ``succeeded``, ``cached`` (not run: an earlier run's
    outputs are reused), ``failed`` or ``skipped``.

    ``duration`` is wall-clock seconds over all attempts; ``error`` is the last attempt's
    exception with its traceback, as text; ``upstream`` names the failed task a skipped
    task waited for; ``age`` is how many seconds ago a cached task's outputs were produced.
    """

    __slots__ = (
        "age",
        "attempts",
        "duration",
        "error",
        "exception",
        "name",
        "status",
        "upstream",
    )

    def __init__(
        self,
        name: str,
        status: Status,
        duration: float = 0.0,
        attempts: int = 0,
        error: str | None = None,
        exception: BaseException | None = None,
        upstream: str | None = None,
        age: float | None = None,
    ) -> None:
        self.name = name
        self.status = status
        self.age = age
        self.duration = duration
        self.attempts = attempts
        self.error = error
        self.exception = exception
        self.upstream = upstream

    @property
    def ok(self) -> bool:
        return self.status in ("succeeded", "cached")

    def __repr__(self) -> str:
        extra = f", upstream={self.upstream!r}" if self.upstream else ""
        if self.age is not None:
            extra += f", age={self.age:.3f}"
        return (
            f"TaskResult({self.name!r}, {self.status!r}, duration={self.duration:.6f}, "
            f"attempts={self.attempts}{extra})"
        )


class RunResult:
    """The outcome of a run: ``tasks`` in the order they were scheduled, ``outputs`` by dataset.

    ``outputs`` holds every dataset value the run produced or read; the stored output of a
    ``cached`` task is read on first access (``outputs[name]``), not listed before.
    """

    __slots__ = ("duration", "outputs", "run_id", "tasks")

    def __init__(
        self, tasks: dict[str, TaskResult], outputs: dict[str, Any], duration: float
    ) -> None:
        self.tasks = tasks
        self.outputs = outputs
        self.duration = duration
        self.run_id: str | None = None  # the run record's id, when one was kept

    @property
    def ok(self) -> bool:
        return all(t.ok for t in self.tasks.values())

    @property
    def cached(self) -> tuple[str, ...]:
        return tuple(n for n, t in self.tasks.items() if t.status == "cached")

    @property
    def ran(self) -> tuple[str, ...]:
        """The tasks that were called (succeeded or failed), in order."""
        return tuple(n for n, t in self.tasks.items() if t.status in ("succeeded", "failed"))

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
            row = f"{name:<{width}}  {t.status:<9}  {t.attempts:>8}  {t.duration:>8.3f}"
            if t.age is not None:
                row += f"  output from {age_text(t.age)} ago"
            lines.append(row)
        counts = {s: 0 for s in ("succeeded", "cached", "failed", "skipped")}
        for t in self.tasks.values():
            counts[t.status] += 1
        state = "ok" if self.ok else "FAILED"
        cached = f"{counts['cached']} cached, " if counts["cached"] else ""
        lines.append(
            f"run {state}: {counts['succeeded']} succeeded, {cached}{counts['failed']} failed, "
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
    cache: RunCache | None = None,
    observer: Observer | None = None,
) -> RunResult:
    """Run ``jobs`` (or only what ``targets`` need) and return how each ended.

    ``observer`` (``_runlog.RunLog``) is told what happens and gets the lines ``log`` would
    (``log`` is then not called); the tasks' output is attributed to them while they run.

    Every source dataset (read by a job, produced by none) must exist in ``store``: otherwise
    ``source_missing`` is raised, naming the dataset and its location, before any job starts.
    With ``cache``, a job whose earlier outputs are still valid is not run (``RunCache``).
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
    state = _Run(order, store, sources, mode, max_workers, log, sleep, frozenset(shared), observer)
    if cache is not None:
        state.use(cache, target_list or ())
    if observer is not None:
        observer.begin([(job.name, job.outputs) for job in order])
    error: BaseException | None = None
    try:
        state.execute()
    except BaseException as exc:
        error = exc
        raise
    finally:
        state.close()
        if observer is not None:
            observer.end(state.results, store, error)
    for t in target_list or ():
        if t in sources:  # a source asked for by name: read it, so it is in the outputs
            state.source(t)
    result = RunResult(state.results, state.outputs(), time.perf_counter() - started)
    result.run_id = getattr(observer, "run_id", None)
    return result


def preview(
    jobs: Sequence[Job],
    store: StoreLike,
    cache: RunCache,
    targets: Iterable[str] | None = None,
) -> dict[str, float | None]:
    """What a run of ``jobs`` with ``cache`` would skip, without running or writing anything:
    job name -> the age of the outputs it would reuse (``cached``), or ``None`` (it runs).
    Source datasets are hashed as a run would (records of their hashes are not written).
    A job that can be skipped is reported so even when a task reading its ephemeral output
    would make it run again (``RunCache``): the standalone runner keeps every output, so
    there it is exact."""
    target_list = list(targets) if targets is not None else None
    order = topological_order(select(jobs, target_list) if target_list is not None else jobs)
    state = _Run(order, store, {}, "thread", 1, None)
    state.use(cache, target_list or ())
    read_only, cache.read_only = cache.read_only, True
    found: dict[str, float | None] = {}
    try:
        for job in order:
            try:
                key = state.key_of(job)
            except Exception:  # noqa: BLE001 - an unreadable source: the job runs
                key = None
            found[job.name] = state.reusable(job, key, cache) if state.cache is not None else None
    finally:
        cache.read_only = read_only
    return found


_UNREAD = object()
_DEFERRED = object()  # the ephemeral output of a cached task, produced when a reader runs


class _Outputs(dict[str, Any]):
    """A run's values; a cached task's stored output is read on first access."""

    def __init__(self, values: Mapping[str, Any], store: StoreLike, lazy: Iterable[str]) -> None:
        super().__init__(values)
        self.store = store
        self.lazy = set(lazy)

    def __missing__(self, dataset: str) -> Any:
        if dataset not in self.lazy:
            raise KeyError(dataset)
        value = self.store.read(dataset)
        self[dataset] = value
        return value


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
        observer: Observer | None = None,
    ) -> None:
        self.order = order
        self.sleep = sleep
        self.shared = shared  # datasets whose readers share one value
        self.store = store
        self.mode = mode
        self.log = log
        self.observer = observer
        # whether routine lines (start, done, cached) go anywhere
        self.talk = log is not None if observer is None else observer.wants_lines
        self.values: dict[str, Any] = dict.fromkeys(sources, _UNREAD)
        self.source_lock = threading.RLock()  # re-entered by an output produced on demand
        self.cache: RunCache | None = None
        self.keys: dict[str, str | None] = {}  # job name -> its key in this run
        self.fingerprints: dict[str, str | None] = {}  # dataset -> its fingerprint
        self.deferred: dict[str, Job] = {}  # ephemeral output of a cached job -> that job
        self.needed: frozenset[str] = frozenset()  # ephemeral outputs the caller gets back
        self.skippable: frozenset[str] = frozenset()  # jobs an earlier run's records can skip
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

    def use(self, cache: RunCache, targets: Iterable[str]) -> None:
        """Reuse earlier runs' outputs (see ``RunCache``); a run in which no job could ever
        be skipped (every output in memory, the last ones the caller's) keeps no records."""
        readers: dict[str, list[str]] = {}
        for job in self.order:
            for _, d in job.inputs:
                readers.setdefault(d, []).append(job.name)
        wanted = set(targets)
        self.needed = frozenset(
            out
            for job in self.order
            for out in job.outputs
            if not self.persistent[out] and (out not in readers or out in wanted)
        )
        # a job can be skipped when its outputs are stored, or read only by such jobs
        skippable: set[str] = set()
        for job in reversed(self.order):
            if all(
                self.persistent[out]
                or (out not in self.needed and all(r in skippable for r in readers.get(out, ())))
                for out in job.outputs
            ):
                skippable.add(job.name)
        self.skippable = frozenset(skippable)
        self.cache = cache if skippable else None

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
        values = {k: v for k, v in self.values.items() if v is not _UNREAD and v is not _DEFERRED}
        lazy = [k for k, v in self.values.items() if v is _UNREAD and k not in self.bad]
        return _Outputs(values, self.store, lazy)

    # -- one job ----------------------------------------------------------------------------

    def blocked_by(self, job: Job) -> str | None:
        bad = self.bad
        if bad:
            for _, d in job.inputs:
                if d in bad:
                    return bad[d]
        return None

    def say(self, task: str, line: str, important: bool = False) -> None:
        """A line about ``task`` (``important``: shown even when quiet)."""
        if self.observer is not None:
            self.observer.event(task, line, always=important)
        elif self.log is not None:
            self.log(line)

    def finish(self, job: Job, result: TaskResult) -> None:
        self.results[job.name] = result
        if self.observer is not None:
            self.observer.ended(result)
        if not result.ok:
            culprit = result.upstream or job.name
            for out in job.outputs:
                self.bad[out] = culprit

    def attempt_or_skip(self, job: Job) -> TaskResult:
        upstream = self.blocked_by(job)
        if upstream is not None:
            self.say(job.name, f"skip   {job.name} (upstream task `{upstream}` failed)", True)
            self.forget_outputs(job)
            return TaskResult(job.name, "skipped", upstream=upstream)
        if self.cache is not None:
            start = time.perf_counter()
            try:
                key = self.key_of(job)
            except Exception as exc:  # noqa: BLE001 - a source that cannot be read fails it
                return self.failed(job, exc, start, 0)
            age = self.reusable(job, key, self.cache)
            if age is not None:
                self.reuse(job)
                if self.talk:
                    self.say(job.name, f"cached {job.name} (output from {age_text(age)} ago)")
                return TaskResult(job.name, "cached", age=age)
        return self.attempt(job)

    def key_of(self, job: Job) -> str | None:
        """``job``'s key (see ``RunCache``), and so its outputs' fingerprints."""
        key = None
        if job.fingerprint is not None:
            inputs = []
            for param, dataset in job.inputs:
                fingerprint = self.dataset_fingerprint(dataset)
                if fingerprint is None:
                    break
                inputs.append(f"{param}={dataset}:{fingerprint}")
            else:
                import hashlib

                text = "\n".join([job.fingerprint, *inputs, "->", *job.outputs])
                key = hashlib.sha256(text.encode()).hexdigest()
        self.keys[job.name] = key
        # a job without a key gets outputs no earlier run had: its readers run too
        base = key if key is not None else os.urandom(16).hex()
        for out in job.outputs:
            self.fingerprints[out] = _derived(base, out)
        return key

    def dataset_fingerprint(self, dataset: str) -> str | None:
        if dataset in self.fingerprints:
            return self.fingerprints[dataset]
        assert self.cache is not None
        with self.source_lock:
            if dataset not in self.fingerprints:
                self.fingerprints[dataset] = self.cache.source_fingerprint(dataset, self.store)
            return self.fingerprints[dataset]

    def reusable(self, job: Job, key: str | None, cache: RunCache) -> float | None:
        """The age of ``job``'s outputs when they can be reused, else ``None``."""
        if key is None or job.name not in self.skippable or cache.forced(job.name):
            return None
        record = cache.record(job.name)
        if record is None or record.get("key") != key:
            return None
        files = record.get("outputs")
        if not isinstance(files, dict):
            return None
        for out in job.outputs:
            if self.persistent[out]:
                state = files.get(out)
                if state is None or output_state(self.store, out) != state:
                    return None
            elif out in self.needed:
                return None
        finished = record.get("finished")
        return max(0.0, cache.clock() - finished) if isinstance(finished, (int, float)) else 0.0

    def reuse(self, job: Job) -> None:
        """Stand ``job``'s earlier outputs in for this run's: read when needed."""
        values = self.values
        for out in job.outputs:
            if self.persistent[out]:
                values[out] = _UNREAD
            else:
                self.deferred[out] = job
                values[out] = _DEFERRED

    def forget_outputs(self, job: Job) -> None:
        """Tell the store (the runner's keeps ephemeral outputs) that ``job``'s outputs are
        about to change or be missing."""
        forget = getattr(self.store, "forget", None)
        if forget is not None:
            for out in job.outputs:
                forget(out)

    def rerun(self, job: Job) -> None:
        """Run the cached ``job`` (and the cached jobs it needs) for its ephemeral outputs."""
        chain: dict[str, Job] = {}
        stack = [job]
        while stack:
            current = stack.pop()
            if current.name in chain:
                continue
            chain[current.name] = current
            for _, d in current.inputs:
                if self.values.get(d) is _DEFERRED:
                    stack.append(self.deferred[d])
        index = {j.name: i for i, j in enumerate(self.order)}
        for current in sorted(chain.values(), key=lambda j: index[j.name]):
            if not any(self.values.get(out) is _DEFERRED for out in current.outputs):
                continue
            self.say(
                current.name,
                f"rerun  {current.name} (a task that runs reads its ephemeral output)",
            )
            result = self.attempt(current)
            self.results[current.name] = result
            if not result.ok:
                for out in current.outputs:
                    self.bad[out] = current.name
                    self.values.pop(out, None)
                raise RuntimeError(
                    f"task `{current.name}` ran again to produce its ephemeral output and failed"
                )

    def attempt(self, job: Job) -> TaskResult:
        self.forget_outputs(job)
        if self.talk:
            self.say(job.name, f"start  {job.name}")
        if self.observer is not None:
            self.observer.started_task(job.name)
        start = time.perf_counter()
        values = self.values
        try:
            kwargs = {param: values[d] for param, d in job.inputs}
        except KeyError as exc:  # a dataset neither produced nor a source: a planning bug
            return self.failed(job, exc, start, 0)
        if any(value is _UNREAD or value is _DEFERRED for value in kwargs.values()):
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
                    self.say(
                        job.name,
                        f"retry  {job.name} in {delay:g}s (attempt {attempts} of {tries}: "
                        f"{_one_line(exc)})",
                        True,
                    )
                    if delay > 0:
                        self.sleep(delay)
                    continue
                return self.failed(job, exc, start, attempts)
            duration = time.perf_counter() - start
            if self.talk:
                self.say(job.name, f"done   {job.name} in {duration:.3f}s")
            self.remember(job)
            return TaskResult(job.name, "succeeded", duration, attempts)

    def remember(self, job: Job) -> None:
        """Record what produced ``job``'s outputs (after they are written)."""
        cache, key = self.cache, self.keys.get(job.name)
        if cache is None or job.name not in self.skippable:
            return
        files: dict[str, list[Any]] = {}
        for out in job.outputs:
            if self.persistent[out]:
                state = output_state(self.store, out)
                if state is None:  # nothing to compare with next time: never reused
                    key = None
                    break
                files[out] = state
        try:
            if key is None:
                cache.forget(job.name)
            else:
                cache.save(job.name, key, files)
        except OSError as exc:
            self.say(
                job.name,
                f"note   no record of `{job.name}` for the next run ({_one_line(exc)})",
                True,
            )

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
                    self.say(
                        job.name,
                        f"note   `{dataset}` is shared with `{job.name}`, not copied "
                        f"({_one_line(exc)})",
                        True,
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
        self.say(job.name, f"FAILED {job.name} in {duration:.3f}s: {_one_line(exc)}", True)
        return TaskResult(job.name, "failed", duration, attempts, text, exc)

    def source(self, dataset: str) -> Any:
        value = self.values[dataset]
        if value is not _UNREAD and value is not _DEFERRED:
            return value
        with self.source_lock:
            value = self.values[dataset]
            if value is _DEFERRED:
                self.rerun(self.deferred[dataset])
                value = self.values[dataset]
            if value is _UNREAD:
                value = self.store.read(dataset)
                self.values[dataset] = value
            return value

    def call(self, job: Job, kwargs: dict[str, Any]) -> Any:
        if self.mode == "process":
            return self.call_in_process(job, kwargs)
        observer = self.observer
        if observer is None or job.timeout is not None:  # a helper thread says it itself
            return self.call_here(job, kwargs)
        observer.enter(job.name)
        try:
            return self.call_here(job, kwargs)
        finally:
            observer.leave()

    def call_here(self, job: Job, kwargs: dict[str, Any]) -> Any:
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

        observer = self.observer

        def target() -> None:
            if observer is not None:
                observer.enter(job.name)
            try:
                future.set_result(job.function(**kwargs))
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
                future.set_exception(exc)
            finally:
                if observer is not None:
                    observer.leave()

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
        observer = self.observer
        capture = observer.capture if observer is not None else None
        future = self.processes.submit(
            _invoke, job.function, kwargs, job.is_async, job.timeout, capture
        )
        try:
            result = future.result(job.timeout)
        except TimeoutError:
            if not future.done():
                self.timed_out = True
                raise TimeoutError(
                    f"task `{job.name}` did not finish within {job.timeout:g}s"
                ) from None
            raise
        except BaseException as exc:
            output = getattr(exc, "__glacier_output__", None)
            if observer is not None and output is not None:
                observer.output(job.name, "stdout", output[0])
                observer.output(job.name, "stderr", output[1])
            raise
        if observer is None:
            return result
        value, out, err = result
        observer.output(job.name, "stdout", out)
        observer.output(job.name, "stderr", err)
        return value

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
    function: Callable[..., Any],
    kwargs: dict[str, Any],
    is_async: bool,
    timeout: float | None,
    capture: Callable[[Callable[..., Any], dict[str, Any]], Any] | None = None,
) -> Any:
    """Runs in a worker process; ``capture`` (the observer's) wraps the call to collect the
    task's output."""
    if capture is not None:
        return capture(
            _invoke,
            {"function": function, "kwargs": kwargs, "is_async": is_async, "timeout": timeout},
        )
    if is_async:
        import asyncio

        if timeout is None:
            return asyncio.run(function(**kwargs))
        return asyncio.run(asyncio.wait_for(function(**kwargs), timeout))
    return function(**kwargs)


def age_text(seconds: float) -> str:
    """``42s``, ``5m``, ``3h``, ``2d``: how long ago, roughly."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
