# The fixed part of every generated `run_local.py`, as a real module: type-checked, linted and
# unit-tested here, then embedded verbatim by `codegen._runner` (`codegen.embedded.parts`).
# Only the text inside the `# --- embedded: NAME ---` sections is embedded: the template
# `codegen/templates/run_local.py.j2` writes the part that varies per pipeline (the header,
# the task table, the datasets, the carried modules) between `head` and `body`. The
# `# --- not embedded ---` section stands in for that part here, empty: tests fill it in.
# Standard library only: the runner runs under `python -I -S`, without Glacier installed.
# --- embedded: head ---
"""Standalone local runner for one Glacier pipeline: no Glacier installation needed.

    python run_local.py [--data-dir DIR] [--workers N] [--only TASK] [--from TASK]
                        [--param [TASK.]NAME=VALUE] [--params FILE] [--force [TASK]]
                        [--strict] [--dry-run] [--list]

It carries the pipeline's static schedule, its task code (the user's modules with their
glacier declarations, infrastructure and task decorators left out; line numbers unchanged, so
tracebacks point at the real files) and the storage and scheduling code of `glacier_local`,
embedded from the same source as `LocalExecutor`, so both store datasets identically.

Run it from the directory you would run the pipeline from: relative paths in the task code and
the default data directory `.glacier/data` are relative to the current working directory,
exactly as with `LocalExecutor`. Third-party libraries the tasks import must be installed; the
user's own modules are carried in this file or found next to the original sources.

`--from TASK` runs TASK and everything downstream of it, reusing what earlier runs stored for
everything upstream: stored datasets from their storage, ephemeral ones from the copies every
run keeps under `<data dir>/.glacier-run/` (values that cannot be pickled are not kept, and a
resume that needs them says so). The exit status is 0 only if every task that ran succeeded.

`--param n=5` sets run parameter `n` (a task parameter that is not a dataset and has a
default) of every task that has it, `--param rank.n=5` task `rank`'s only; `--params FILE`
reads them from a JSON file (YAML with PyYAML installed); `--param` wins over the file.
Values are parsed by the parameter's annotation; a parameter no task has, or a value its
annotation cannot take, exits with status 2 before any task runs.
Runs are incremental: a task whose code (as sliced into this file: its function and the
helpers, constants and project modules it uses; not comments or formatting), parameters and
inputs are those of the run that produced its outputs, still in place and unchanged, is not
run again and shows as `cached` with the age of its outputs. Records live in
`<data dir>/.glacier-run/<pipeline>/` (tasks/ and sources/), shared with `LocalExecutor`;
a source file is hashed again only when its size or modification time changes.
`--force` runs every task regardless, `--force TASK` that task; `--only` and `--from` run the
tasks they name regardless.

The runner carries the code it was built from. When the source files beside it (where they
were when it was built) changed since, it says so and runs the code it carries; `--strict`
refuses instead (exit 2): rebuild it with `glacier build`.
"""

from __future__ import annotations
import __future__

import argparse
import importlib.abc
import importlib.util
import os
import sys
import time
import traceback
import types
from typing import Any

# --- not embedded ---
# What the template writes in place of this section, for one pipeline.
PIPELINE = ""
BUILD_DIR = ""
TASKS: list[dict[str, Any]] = []
DATASETS: dict[str, dict[str, Any] | None] = {}
PAYLOADS: dict[str, tuple[str, str, str]] = {}
SHARED: list[str] = []
IMPORT_ROOTS: list[str] = []
MODULES: dict[str, tuple[str, bool, str]] = {}
SOURCES: dict[str, str] = {}
RUNTIME: dict[str, str] = {}

# --- embedded: body ---
HERE = os.path.dirname(os.path.abspath(__file__))
RESUME_BUCKET = ".glacier-run"


# -- loading the embedded modules --------------------------------------------------------------


class _EmbeddedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports the carried task code and runtime from this file, never from Glacier."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname in RUNTIME:
            return importlib.util.spec_from_loader(fullname, self, origin=f"<embedded {fullname}>")
        if fullname not in MODULES:
            return None
        file, package, _ = MODULES[fullname]
        origin = os.path.normpath(os.path.join(HERE, file))
        spec = importlib.util.spec_from_loader(fullname, self, origin=origin, is_package=package)
        if spec is not None:
            spec.has_location = True
            if package:
                spec.submodule_search_locations = [os.path.dirname(origin)]
        return spec

    def create_module(self, spec: Any) -> None:
        return None

    def exec_module(self, module: types.ModuleType) -> None:
        name = module.__name__
        if name in RUNTIME:
            code = compile(RUNTIME[name], f"<embedded {name}>", "exec", dont_inherit=True)
        else:
            file = module.__spec__.origin if module.__spec__ and module.__spec__.origin else name
            module.__file__ = file
            # Annotations stay unevaluated strings: they name datasets, which are left out.
            flags = __future__.annotations.compiler_flag
            code = compile(MODULES[name][2], file, "exec", flags=flags, dont_inherit=True)
        exec(code, module.__dict__)  # noqa: S102 - running the carried task code is the point


def _install() -> tuple[Any, Any, Any, Any]:
    here = os.path.normcase(HERE)
    sys.path[:] = [p for p in sys.path if os.path.normcase(os.path.abspath(p or ".")) != here]
    for root in reversed(IMPORT_ROOTS):
        sys.path.insert(0, os.path.normpath(os.path.join(HERE, root)))
    sys.meta_path.insert(0, _EmbeddedModules())
    import _glacier_io  # type: ignore[import-not-found]
    import _glacier_params  # type: ignore[import-not-found]
    import _glacier_runlog  # type: ignore[import-not-found]
    import _glacier_schedule  # type: ignore[import-not-found]

    return _glacier_io, _glacier_params, _glacier_schedule, _glacier_runlog


# -- storage, with resume copies of ephemeral outputs ------------------------------------------


class _RunStore:
    """`_io.Store` for stored datasets; ephemeral ones are also pickled for `--from`."""

    def __init__(self, io: Any, data_dir: str, log: Any) -> None:
        self.io = io
        self.log = log
        self.stored = io.Store(DATASETS, data_dir)
        resume = {"kind": "object", "bucket": RESUME_BUCKET, "prefix": BUILD_DIR}
        resume["format"] = "pickle"
        self.resume = io.Store({name: resume for name in DATASETS}, data_dir)

    def _store(self, dataset: str) -> Any:
        return self.stored if self.stored.persistent(dataset) else self.resume

    def persistent(self, dataset: str) -> bool:
        return True

    def exists(self, dataset: str) -> bool:
        if self.stored.persistent(dataset):
            return bool(self.stored.exists(dataset))
        try:
            return bool(self.resume.exists(dataset))
        except ValueError:  # a name that cannot be a file name is never kept
            return False

    def location(self, dataset: str) -> str:
        if self.stored.persistent(dataset):
            return str(self.stored.location(dataset))
        try:
            return str(self.resume.location(dataset))
        except ValueError as exc:
            return f"<not kept: {exc}>"

    def read(self, dataset: str) -> Any:
        return self._store(dataset).read(dataset)

    def write(self, dataset: str, value: Any) -> Any:
        if self.stored.persistent(dataset):
            return self.stored.write(dataset, value)
        try:
            return self.resume.write(dataset, value)
        except Exception as exc:  # noqa: BLE001 - an unpicklable value only costs the resume
            self.log(f"note   `{dataset}` is not kept for --from ({type(exc).__name__}: {exc})")
            return None

    def description(self, dataset: str) -> Any:
        """The storage description the dataset is read with (its resume copy's, ephemeral)."""
        return self._store(dataset).storages.get(dataset)

    def forget(self, dataset: str) -> None:
        """Drop the resume copy of an ephemeral dataset about to be produced again."""
        if self.stored.persistent(dataset):
            return
        try:
            os.unlink(self.resume.location(dataset))
        except (OSError, ValueError):
            pass


# -- planning ----------------------------------------------------------------------------------


def _producers() -> dict[str, str]:
    return {out: task["name"] for task in TASKS for out in task["outputs"]}


def _downstream(start: str) -> set[str]:
    """``start`` and every task that depends on it, directly or not."""
    consumers: dict[str, list[str]] = {}
    for task in TASKS:
        for _, dataset in task["inputs"]:
            consumers.setdefault(dataset, []).append(task["name"])
    by_name = {task["name"]: task for task in TASKS}
    found, stack = set(), [start]
    while stack:
        name = stack.pop()
        if name in found:
            continue
        found.add(name)
        for out in by_name[name]["outputs"]:
            stack.extend(consumers.get(out, ()))
    return found


def _selected(args: argparse.Namespace) -> list[dict[str, Any]] | None:
    """The tasks to run, in topological order; ``None`` (after a message) for an unknown one."""
    names = {task["name"] for task in TASKS}
    forced = [name for name in args.force or () if name]
    for name in [*(args.only or ()), *([args.from_task] if args.from_task else []), *forced]:
        if name not in names:
            known = ", ".join(task["name"] for task in TASKS)
            message = f"error: pipeline {PIPELINE!r} has no task {name!r}; tasks: {known}"
            print(message, file=sys.stderr)
            return None
    if args.only:
        chosen = set(args.only)
    elif args.from_task:
        chosen = _downstream(args.from_task)
    else:
        chosen = names
    return [task for task in TASKS if task["name"] in chosen]


def _not_chosen(tasks: list[dict[str, Any]]) -> list[str]:
    """The names of the pipeline's tasks that are not among ``tasks``, in topological order."""
    chosen = {task["name"] for task in tasks}
    return [task["name"] for task in TASKS if task["name"] not in chosen]


def _external_inputs(tasks: list[dict[str, Any]]) -> list[str]:
    """Datasets the chosen tasks read but do not produce themselves, in first-use order."""
    produced = {out for task in tasks for out in task["outputs"]}
    found: dict[str, None] = {}
    for task in tasks:
        for _, dataset in task["inputs"]:
            if dataset not in produced:
                found[dataset] = None
    return list(found)


def _missing_resume(store: _RunStore, tasks: list[dict[str, Any]]) -> list[str]:
    producers = _producers()
    problems = []
    for dataset in _external_inputs(tasks):
        if dataset in producers and DATASETS.get(dataset) is None and not store.exists(dataset):
            problems.append(
                f"dataset {dataset!r} is ephemeral (output of task {producers[dataset]!r}) and "
                f"no copy was kept by an earlier run at {store.location(dataset)}; run the "
                f"whole pipeline, or --from {producers[dataset]!r}, first"
            )
    return problems


def _print_list() -> None:
    width = max(len(task["name"]) for task in TASKS) if TASKS else 0
    print(f"pipeline {PIPELINE!r}: {len(TASKS)} tasks in topological order")
    for task in TASKS:
        reads = ", ".join(dataset for _, dataset in task["inputs"]) or "-"
        writes = ", ".join(task["outputs"]) or "-"
        print(f"  {task['name']:<{width}}  reads {reads}  writes {writes}")


def _print_plan(
    store: _RunStore,
    tasks: list[dict[str, Any]],
    data_dir: str,
    ages: dict[str, str],
    values: dict[str, dict[str, Any]],
) -> None:
    """What a run would do: each chosen task, whether it runs or is ``cached`` (``ages``: a
    cached task -> how old the outputs it reuses are, from ``_schedule.preview``), its run
    parameters, what it reads and writes."""
    skipped = _not_chosen(tasks)
    cached = [t["name"] for t in tasks if t["name"] in ages]
    counts = f"{len(tasks) - len(cached)} of {len(TASKS)} tasks"
    extra = f", {len(cached)} cached" if cached else ""
    print(f"pipeline {PIPELINE!r}: {counts} would run{extra} (data dir {data_dir})")
    produced = {out for task in tasks for out in task["outputs"]}
    for number, task in enumerate(tasks, 1):
        age = ages.get(task["name"])
        state = "" if age is None else f"  (cached: output from {age} ago)"
        print(f"  {number}. {task['name']}{state}")
        chosen = values.get(task["name"]) or {}
        for name, annotation, default in task["parameters"]:
            value = f"{chosen[name]!r} (set)" if name in chosen else f"{default} (default)"
            print(f"       param  {name}: {annotation} = {value}")
        for param, dataset in task["inputs"]:
            if dataset in produced:
                where = "from this run"
            else:
                state = "" if store.exists(dataset) else " (MISSING)"
                where = f"from {store.location(dataset)}{state}"
            print(f"       reads  {dataset} as {param} {where}")
        for dataset in task["outputs"]:
            where = store.location(dataset) if DATASETS.get(dataset) else "memory"
            print(f"       writes {dataset} to {where}")
    if skipped:
        print("  not run: " + ", ".join(skipped))


def _summary(result: Any, not_run: list[str]) -> str:
    text = result.summary()
    if not_run:
        text += "\nnot run (earlier outputs reused): " + ", ".join(not_run)
    return str(text)


# -- main --------------------------------------------------------------------------------------


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="run_local.py",
        description=f"Run the Glacier pipeline {PIPELINE!r} locally, without Glacier installed.",
    )
    parser.add_argument(
        "--data-dir",
        default=".glacier/data",
        help="where stored datasets live (default: .glacier/data, relative to the current "
        "directory, as with LocalExecutor)",
    )
    parser.add_argument("--workers", type=int, default=None, help="tasks run in parallel at most")
    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        "--only", action="append", metavar="TASK", help="run only this task (repeatable)"
    )
    which.add_argument(
        "--from",
        dest="from_task",
        metavar="TASK",
        help="run TASK and everything downstream, reusing earlier outputs upstream",
    )
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="[TASK.]NAME=VALUE",
        help="set a run parameter of every task that has it, or of TASK only (repeatable)",
    )
    parser.add_argument(
        "--params", metavar="FILE", help="run parameters from a JSON (or YAML) file"
    )
    parser.add_argument(
        "--force",
        action="append",
        nargs="?",
        const="",
        metavar="TASK",
        help="run TASK even if its earlier outputs are still valid (repeatable); without "
        "TASK, every task. Otherwise a task whose code, parameters and inputs are unchanged "
        "since the run that produced its outputs, still in place, is not run (`cached`)",
    )
    shown = parser.add_mutually_exclusive_group()
    shown.add_argument(
        "--quiet",
        "-q",
        action="store_true",
        help="hide the tasks' output and start/done lines (kept in the run's logs); failures, "
        "retries and the summary stay",
    )
    shown.add_argument(
        "--verbose", "-v", action="store_true", help="give each line its time since the start"
    )
    parser.add_argument(
        "--slow-after",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="name a task still running after SECONDS, and every SECONDS after (default 30)",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print the plan, run nothing: each task, whether it would run or is cached, its "
        "run parameters, what it reads and writes",
    )
    parser.add_argument("--list", action="store_true", help="list the tasks and exit")
    parser.add_argument(
        "--strict",
        action="store_true",
        help="refuse to run (exit 2) when the source files beside this runner changed since "
        "it was built; without it, the runner warns and runs the code it carries",
    )
    args = parser.parse_args(argv)
    if args.workers is not None and args.workers < 1:
        parser.error("--workers must be at least 1")
    return args


def _function(task: dict[str, Any]) -> Any:
    return getattr(importlib.import_module(task["module"]), task["function"])


def _payloads(schedule: Any, tasks: list[dict[str, Any]]) -> dict[str, Any]:
    """Dataset name -> what its producer's return value is checked against, as the
    executor's: the classes of its ``Dataset[T]``'s ``T``, evaluated in the carried module
    that declares it (its imports are task code, so they are carried too)."""
    found: dict[str, Any] = {}
    for task in tasks:
        for dataset in task["outputs"]:
            if dataset not in PAYLOADS:
                continue
            text, module, where = PAYLOADS[dataset]
            try:
                if module not in MODULES:  # never import a module whose slice is not carried
                    raise ImportError(f"module {module!r} is not carried by this runner")
                namespace = vars(importlib.import_module(module))
                classes = schedule.payload_classes(eval(text, namespace))
            except Exception as exc:  # noqa: BLE001 - the check is skipped, visibly
                _log(f"note   the payload type `{text}` of `{dataset}` is not checked ({exc})")
                continue
            if classes is not None:
                found[dataset] = (classes, text, where)
    return found


def _jobs(
    schedule: Any,
    tasks: list[dict[str, Any]],
    functions: dict[str, Any],
    payloads: dict[str, Any],
    values: dict[str, dict[str, Any]],
) -> list[Any]:
    """The scheduler's jobs for ``tasks`` (``functions`` empty: a plan's, never called)."""
    return [
        schedule.Job(
            task["name"],
            functions.get(task["name"]),
            task["inputs"],
            task["outputs"],
            returns_tuple=task["returns_tuple"],
            retries=task["retries"],
            timeout=task["timeout"],
            retry_delay_s=task["retry_delay_s"],
            backoff=task["backoff"],
            retry_on=task["retry_on"],
            payloads={d: payloads[d] for d in task["outputs"] if d in payloads},
            params=values.get(task["name"]),
            # the code (defaults included) and the run parameters this run sets, as in-process
            fingerprint=schedule.task_fingerprint(
                task["fingerprint"], values.get(task["name"]) or {}
            ),
        )
        for task in tasks
    ]


def _run_values(params: Any, args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """Task name -> the run parameters ``--params``/``--param`` set for it, parsed by their
    annotations (``glacier.params``); raises its ``ParameterError``."""
    given: dict[str, Any] = params.load_file(args.params) if args.params else {}
    given.update(params.assignments(args.param))
    if not given:
        return {}
    params.check_known([(t["name"], [p[0] for p in t["parameters"]]) for t in TASKS], given)
    return {t["name"]: params.run_values(t["name"], t["parameters"], given) for t in TASKS}


def _forced(args: argparse.Namespace, tasks: list[dict[str, Any]]) -> bool | list[str]:
    """The tasks to run regardless of earlier runs: ``--force``'s, and those ``--only`` and
    ``--from`` name (``True``: all)."""
    if args.force and "" in args.force:
        return True
    if args.only or args.from_task:
        return [task["name"] for task in tasks]
    return list(args.force or ())


_RUN_LOG: list[Any] = []  # the run's log while it runs: lines then go through its one writer


def _log(line: str) -> None:
    if _RUN_LOG:
        _RUN_LOG[0].event(None, line, always=True)
    else:
        print(f"[{PIPELINE}] {line}", file=sys.stderr, flush=True)


def _changed_sources() -> list[str]:
    """The carried modules' files, beside this runner, that are not what it was built from
    (a file that is not there, the runner having moved, is not compared)."""
    import hashlib

    changed = []
    for path, digest in SOURCES.items():
        try:
            with open(os.path.join(HERE, path), "rb") as fh:
                current = hashlib.sha256(fh.read()).hexdigest()
        except OSError:
            continue
        if current != digest:  # named as from the current directory, as a user would
            changed.append(os.path.relpath(os.path.join(HERE, path)))
    return changed


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    if args.list:
        _print_list()
        return 0
    changed = _changed_sources()
    if changed:
        what = ", ".join(changed)
        if args.strict:
            print(
                f"error: the sources changed since this runner was built ({what}): rebuild it "
                "(glacier build) to run the current code",
                file=sys.stderr,
            )
            return 2
        print(
            f"[{PIPELINE}] warning: the sources changed since this runner was built ({what}); "
            "it runs the code it carries: rebuild it (glacier build) to run the current code",
            file=sys.stderr,
        )
    io, params, schedule, runlog = _install()
    tasks = _selected(args)
    if tasks is None:
        return 2
    try:
        values = _run_values(params, args)
    except params.ParameterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    store = _RunStore(io, args.data_dir, _log)
    if args.dry_run:  # the task code is not loaded: the plan needs only the table
        cache = schedule.RunCache(args.data_dir, PIPELINE, force=_forced(args, tasks))
        planned = _jobs(schedule, tasks, {}, {}, values)
        previewed = schedule.preview(planned, store, cache).items()
        ages = {name: schedule.age_text(age) for name, age in previewed if age is not None}
        _print_plan(store, tasks, args.data_dir, ages, values)
        return 0
    problems = _missing_resume(store, tasks)
    if problems:
        for problem in problems:
            print(f"error: {problem}", file=sys.stderr)
        return 1
    started = time.perf_counter()
    try:
        functions = {task["name"]: _function(task) for task in tasks}
    except Exception:  # noqa: BLE001 - the task code failed to import: show where
        traceback.print_exc()
        print("error: the task code could not be loaded; nothing ran", file=sys.stderr)
        return 1
    jobs = _jobs(schedule, tasks, functions, _payloads(schedule, tasks), values)
    cache = schedule.RunCache(args.data_dir, PIPELINE, force=_forced(args, tasks))
    run_id = runlog.new_run_id()
    given = {
        f"{task}.{key}": value for task, chosen in values.items() for key, value in chosen.items()
    }
    observer = runlog.RunLog(
        PIPELINE,
        run_id=run_id,
        record_dir=os.path.join(schedule.pipeline_directory(args.data_dir, PIPELINE), run_id),
        runner="run_local.py",
        data_dir=args.data_dir,
        params=given,
        targets=None,
        quiet=args.quiet,
        verbose=args.verbose,
        slow_after=args.slow_after,
        every=args.slow_after,
    )
    _RUN_LOG.append(observer)
    try:
        result = schedule.run(
            jobs, store, max_workers=args.workers, shared=SHARED, cache=cache, observer=observer
        )
    except schedule.SourceMissingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        _RUN_LOG.clear()
    not_run = _not_chosen(tasks)
    print(f"pipeline {PIPELINE!r} (data dir {args.data_dir}, run {run_id})")
    print(_summary(result, not_run))
    print(f"total {time.perf_counter() - started:.3f}s, loading the task code included")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
