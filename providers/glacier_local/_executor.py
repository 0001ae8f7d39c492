"""``LocalExecutor``: run a live ``Pipeline`` on this machine.

A thin adapter: it turns the pipeline's tasks into ``_schedule.Job``s and its datasets' storage
into ``_io`` descriptions, then lets the self-contained scheduler run them (the generated
standalone runner uses the same two modules).
"""

from __future__ import annotations

import copy
import os
import time
import typing
import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from glacier import params as run_params
from glacier.errors import SourceMissingError, UsageError
from glacier.storage.kinds import LOCAL_FIELDS
from glacier_local import _io, _runlog, _schedule
from glacier_local._schedule import RunResult

if TYPE_CHECKING:
    from glacier import Dataset, Pipeline

__all__ = ["LocalExecutor"]


class _Prepared:
    """A pipeline's jobs and storage descriptions, built once per pipeline shape."""

    __slots__ = ("codes", "jobs", "key", "parameters", "shared", "storages", "tasks")

    def __init__(
        self,
        key: tuple[Any, ...],
        jobs: list[_schedule.Job],
        storages: dict[str, Any],
        shared: frozenset[str],
        tasks: tuple[Any, ...] = (),
    ) -> None:
        self.key = key
        self.jobs = jobs
        self.storages = storages
        self.shared = shared  # datasets declared with `copy=False`
        # task name -> its run parameters (name, annotation, default), read on first use
        self.parameters: dict[str, run_params.Parameters] | None = None
        self.tasks = tasks
        self.codes: list[str | None] | None = None  # code fingerprints, read on first use

    def fingerprinted(self, jobs: list[_schedule.Job]) -> list[_schedule.Job]:
        """``jobs`` (these, or copies given run parameters) with their fingerprints: code
        (read from the task modules' files once per pipeline shape, so they describe the code
        that runs: defaults included) and the run parameters the run sets."""
        from glacier.fingerprint import function_fingerprints

        if self.codes is None:
            self.codes = function_fingerprints(task.function for task in self.tasks)
        for job, code in zip(jobs, self.codes, strict=True):
            job.fingerprint = _schedule.task_fingerprint(code, job.params)
        return jobs


_PREPARED: weakref.WeakKeyDictionary[Any, _Prepared] = weakref.WeakKeyDictionary()


class LocalExecutor:
    """Runs a pipeline's tasks in dependency order, in parallel where the DAG allows.

    ``data_dir`` holds stored datasets (layout: see ``glacier_local._io``); ``max_workers``
    bounds parallel tasks (``None``: CPUs + 4 threads, or CPUs processes; ``1``: sequential,
    in the calling thread); ``mode`` is ``"thread"`` or ``"process"`` (functions, inputs and
    results must then be picklable); ``verbose`` prints a line per task start and finish on
    standard error (or passes it to ``log``), and on a terminal a live progress line
    (``progress=False``: never); ``quiet`` (with ``verbose``) keeps only failures, retries
    and notes. Otherwise silent, but for the tasks' own output: what a task prints or logs is
    shown whole, prefixed with the pipeline's and the task's names (``[shop] clean | ...``).
    ``sleep`` waits between a task's attempts (default ``time.sleep``; tests pass a recorder).

    Every run keeps a record and the tasks' logs under
    ``<data_dir>/.glacier-run/<pipeline>/<run id>/`` (``glacier_local._runlog``;
    ``history=False``: none); ``runs()`` lists them and ``load()``/``show()`` read an output
    back, as ``glacier runs`` and ``glacier show`` do.

    Runs are incremental: a task whose code, parameters and inputs are those of the run that
    produced its stored outputs, still in place and unchanged, is not run again (status
    ``cached``); records live in ``<data_dir>/.glacier-run/<pipeline>/`` (see
    ``glacier_local._schedule.RunCache``). ``execute(..., cache=False)`` or ``force=``
    runs tasks regardless.
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str] = ".glacier/data",
        max_workers: int | None = None,
        mode: str = "thread",
        verbose: bool = False,
        *,
        log: Callable[[str], None] | None = None,
        sleep: Callable[[float], object] | None = None,
        quiet: bool = False,
        progress: bool | None = None,
        history: bool = True,
    ) -> None:
        if mode not in ("thread", "process"):
            raise UsageError(f"mode must be 'thread' or 'process', got {mode!r}")
        if max_workers is not None and (not isinstance(max_workers, int) or max_workers < 1):
            raise UsageError(f"max_workers must be a positive integer or None, got {max_workers!r}")
        self.data_dir = os.fspath(data_dir)
        self.max_workers = max_workers
        self.mode = mode
        self.verbose = verbose
        self.quiet = quiet
        self.progress = progress
        self.history = history
        self._log = log
        self._sleep = sleep if sleep is not None else time.sleep

    def __repr__(self) -> str:
        return (
            f"LocalExecutor(data_dir={self.data_dir!r}, max_workers={self.max_workers!r}, "
            f"mode={self.mode!r})"
        )

    def execute(
        self,
        pipeline: Pipeline,
        *,
        targets: Iterable[Dataset[Any] | str] | None = None,
        params: Mapping[str, Any] | None = None,
        cache: bool = True,
        force: bool | Iterable[str] = (),
    ) -> RunResult:
        """Run ``pipeline`` (or only what ``targets`` need) and report how each task ended.

        ``params`` sets run parameters (``glacier.params``): ``{"n": 5}`` for every task
        with a parameter ``n`` (one without a dataset annotation, with a default),
        ``{"rank.n": 5}`` for task ``rank`` only; text values are parsed by the annotation.
        ``cache``: reuse the outputs of earlier runs where nothing they depend on (code, run
        parameters, inputs) changed (``False``: run every task, and keep no records);
        ``force``: ``True``, or the names of tasks to run regardless of their records.

        Raises ``SourceMissingError`` before any task starts when a source dataset has
        nothing stored, and ``UsageError`` for an unknown target or forced task, a parameter
        no task has or a value its annotation cannot take.
        """
        prepared = _prepare(pipeline)
        names = None if targets is None else _target_names(pipeline, prepared, targets)
        jobs = _with_params(pipeline, prepared, params) if params else prepared.jobs
        records = None
        if cache:
            forced = force if isinstance(force, bool) else _task_names(pipeline, force)
            records = _schedule.RunCache(self.data_dir, pipeline.name, force=forced)
        run_id = _runlog.new_run_id()
        observer = _runlog.RunLog(
            pipeline.name,
            run_id=run_id,
            record_dir=(
                os.path.join(_schedule.pipeline_directory(self.data_dir, pipeline.name), run_id)
                if self.history
                else None
            ),
            data_dir=self.data_dir,
            params={f"{job.name}.{k}": v for job in jobs for k, v in job.params.items()},
            targets=names,
            events=self.verbose or self._log is not None,
            quiet=self.quiet,
            live=False if self.progress is False or self._log is not None else None,
            log=self._log,
        )
        return _schedule.run(
            prepared.fingerprinted(jobs) if cache else jobs,
            _io.Store(prepared.storages, self.data_dir),
            targets=names,
            max_workers=self.max_workers,
            mode=self.mode,
            source_missing=SourceMissingError,
            sleep=self._sleep,
            shared=prepared.shared,
            cache=records,
            observer=observer,
        )

    # -- past runs (glacier_local.history) -----------------------------------------------

    def runs(self, pipeline: Pipeline | str, limit: int | None = None) -> list[dict[str, Any]]:
        """The records of ``pipeline``'s runs under ``data_dir``, newest first (as
        ``glacier runs --json`` prints them)."""
        from glacier_local import history

        return history.list_runs(self.data_dir, _pipeline_name(pipeline), limit)

    def load(
        self, pipeline: Pipeline | str, dataset: Dataset[Any] | str, run: str | None = None
    ) -> Any:
        """The value of ``dataset`` that run ``run`` (default: the latest) left, read from
        its storage (``UsageError`` when it was in memory only, or there is no such run)."""
        from glacier_local import history

        try:
            record = history.find_run(self.data_dir, _pipeline_name(pipeline), run)
            return history.load_output(record, _dataset_name(dataset))
        except history.HistoryError as exc:
            raise UsageError(str(exc)) from None

    def show(
        self,
        pipeline: Pipeline | str,
        dataset: Dataset[Any] | str,
        run: str | None = None,
        limit: int = 10,
    ) -> str:
        """What ``glacier show`` prints about ``dataset`` of run ``run`` (default: latest):
        where it is, its size, and a look at its value (a DataFrame's schema and head)."""
        from glacier_local import history

        try:
            record = history.find_run(self.data_dir, _pipeline_name(pipeline), run)
            return history.show_output(record, _dataset_name(dataset), limit)
        except history.HistoryError as exc:
            raise UsageError(str(exc)) from None


def _pipeline_name(pipeline: Pipeline | str) -> str:
    return pipeline if isinstance(pipeline, str) else pipeline.name


def _dataset_name(dataset: Dataset[Any] | str) -> str:
    return dataset if isinstance(dataset, str) else str(dataset.name)


def _with_params(
    pipeline: Pipeline, prepared: _Prepared, params: Mapping[str, Any]
) -> list[_schedule.Job]:
    """The prepared jobs, each given the values ``params`` sets for its parameters."""
    if prepared.parameters is None:
        prepared.parameters = {
            t.name: tuple((p.name, p.annotation, p.default) for p in t.parameters)
            for t in pipeline.to_model().tasks
        }
    parameters = prepared.parameters
    tasks = [(name, [p[0] for p in found]) for name, found in parameters.items()]
    try:
        run_params.check_known(tasks, params)
        values = {
            job.name: run_params.run_values(job.name, parameters.get(job.name, ()), params)
            for job in prepared.jobs
        }
    except run_params.ParameterError as exc:
        raise UsageError(str(exc)) from None
    jobs = []
    for job in prepared.jobs:
        if values[job.name]:
            job = copy.copy(job)
            job.params = values[job.name]
        jobs.append(job)
    return jobs


def _task_names(pipeline: Pipeline, force: Iterable[str]) -> list[str]:
    known = {task.name for task in pipeline.tasks}
    names = [force] if isinstance(force, str) else list(force)
    for name in names:
        if name not in known:
            raise UsageError(
                f"cannot force {name!r}: pipeline `{pipeline.name}` has no such task; known: "
                + ", ".join(f"`{n}`" for n in sorted(known))
            )
    return names


def _target_names(
    pipeline: Pipeline, prepared: _Prepared, targets: Iterable[Dataset[Any] | str]
) -> list[str]:
    if isinstance(targets, str) or hasattr(targets, "__glacier_dataset__"):
        targets = [targets]  # type: ignore[list-item]
    names = []
    for target in targets:
        name = target if isinstance(target, str) else getattr(target, "name", None)
        if not isinstance(name, str) or name not in prepared.storages:
            raise UsageError(
                f"target {target!r} is not a dataset of pipeline `{pipeline.name}`; known: "
                + ", ".join(f"`{n}`" for n in sorted(prepared.storages))
            )
        names.append(name)
    return names


def _prepare(pipeline: Pipeline) -> _Prepared:
    """Jobs and storages for ``pipeline``; cached until its tasks or storages change."""
    tasks = pipeline.tasks
    datasets = pipeline.datasets
    key = (tasks, tuple((id(d.storage), d.copy) for d in datasets), pipeline.check_payloads)
    prepared = _PREPARED.get(pipeline)
    if prepared is not None and prepared.key == key:
        return prepared
    payloads = _payloads(pipeline) if pipeline.check_payloads else {}
    jobs = [
        _schedule.Job(
            task.name,
            task.function,
            tuple((param, ds.name) for param, ds in task.inputs),
            tuple(ds.name for ds in task.outputs),
            returns_tuple=task.returns_tuple,
            retries=task.retries,
            timeout=task.timeout,
            retry_delay_s=task.retry_delay_s,
            backoff=task.backoff,
            retry_on=tuple(cls.__name__ for cls in task.retry_on),
            payloads={ds.name: payloads[ds.name] for ds in task.outputs if ds.name in payloads},
        )
        for task in tasks
    ]
    storages = {d.name: storage_description(d.storage) for d in datasets}
    shared = frozenset(d.name for d in datasets if not d.copy)
    prepared = _Prepared(key, jobs, storages, shared, tasks)
    _PREPARED[pipeline] = prepared
    return prepared


def _payloads(pipeline: Pipeline) -> dict[str, tuple[tuple[type, ...], str, str]]:
    """Dataset name → what a task's return value is checked against: the runtime classes of
    its ``Dataset[T]``, ``T`` as written (as the model records it) and where the dataset is
    declared."""
    from glacier.source import payload_text_at, relative_file

    found: dict[str, tuple[tuple[type, ...], str, str]] = {}
    for ds in pipeline.datasets:
        alias = getattr(ds, "__orig_class__", None)  # set by `Dataset[T](...)`
        if alias is None or not typing.get_args(alias):
            continue
        payload = typing.get_args(alias)[0]
        classes = _schedule.payload_classes(payload)
        if classes is None:
            continue
        site = ds._site
        written = payload_text_at(site.filename, site.line, site.col)
        declared = written or getattr(payload, "__name__", None) or repr(payload)
        found[ds.name] = (classes, declared, f"{relative_file(site.filename)}:{site.line}")
    return found


def storage_description(storage: Any) -> dict[str, Any] | None:
    """A dataset's ``storage=`` value as the plain dict ``_io`` works on (``None``: ephemeral)."""
    if storage is None:
        return None
    from glacier.providers import storage_model

    model = storage_model(storage)
    if model is None:
        return None
    return {name: getattr(model, name) for name in LOCAL_FIELDS}
