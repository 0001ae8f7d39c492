"""What a local run shows while it goes and keeps afterwards: logs, progress, run records.

Self-contained on purpose, like ``_io`` and ``_schedule``: standard library only, no
``glacier`` import; the generated standalone runner embeds this source verbatim, so
``LocalExecutor`` and the runner show and keep the same things. ``RunLog`` is the observer
``_schedule.run(..., observer=)`` reports to.

What the terminal shows
-----------------------
One writer: every line, the scheduler's events as the tasks' own output, is written whole,
under one lock, prefixed with the pipeline's name (``[shop] start  clean``); two tasks'
lines never run together. A task's ``print`` output, what it writes to ``sys.stderr`` and
the ``logging`` records a handler prints to either are shown prefixed with the task's name
(``[shop] clean | read 120 rows``), on the stream they were written to. ``quiet`` hides the
tasks' output and the start/done lines (failures, retries and notes stay); ``verbose`` adds
each line's time since the run started. On a terminal (standard error a TTY, ``TERM`` not
``dumb``) a live line at the bottom shows done/running/failed/total, the elapsed time and the
running tasks; elsewhere (CI logs, pipes, notebooks) there is no such line, only whole lines.
A task running longer than ``slow_after`` seconds is named every ``every`` seconds
(``still running clean (2m 0s)``).

How output is captured
----------------------
While a run goes, ``sys.stdout`` and ``sys.stderr`` are stand-ins that know which task the
writing thread runs (the scheduler tells, ``enter``/``leave``); ``logging`` handlers that
print to the real streams are pointed at the stand-ins for the run. Threads a task starts
itself are not attributed (their lines pass through whole, unprefixed); a subprocess writes to
the file descriptors directly and is not captured. In process mode the worker collects the
task's output and hands it back with the result (``_schedule``).

What is kept
------------
Under ``<data_dir>/.glacier-run/<pipeline>/<run id>/`` (``record_dir``; the pipeline's
directory is ``_schedule.pipeline_directory``, beside the incremental records; run ids sort by
start time: ``20261207T201309.042Z-3fa2``):

- ``run.json``: the run record (``SCHEMA``): id, pipeline, which runner, status (``running``
  until the run ends, then ``succeeded``, ``failed`` or ``interrupted``), start and end,
  parameters, targets, the data directory, and per task its status, attempts, duration,
  when it started (``started_s``: seconds after the run), error, the log file and its outputs (location, size in bytes, storage description), so a
  stored or kept output can be read back (``glacier show``). Written atomically when the run
  starts and when it ends.
- ``logs/<task>.log``: the task's events and output, with times; the traceback of a failure.
  Only a task that printed something, failed, retried, was skipped or ran long has one (the
  file is made then, and grows while the task runs).

The newest ``KEEP_RUNS`` runs of a pipeline are kept; older run directories are removed when
a run starts.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TextIO

__all__ = [
    "KEEP_RUNS",
    "RUNS_DIR",
    "SCHEMA",
    "RunLog",
    "capture_call",
    "is_run_id",
    "new_run_id",
]

RUNS_DIR = ".glacier-run"
SCHEMA = 1
KEEP_RUNS = 100

_STATE = threading.local()  # .sink: the RunLog whose task this thread runs; .task: its name


def new_run_id(now: float | None = None) -> str:
    """A run id: the UTC start time to the millisecond, then 4 random hex digits; ids sort
    in the order the runs started."""
    now = time.time() if now is None else now
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now))
    return f"{stamp}.{int(now * 1000) % 1000:03d}Z-{os.urandom(2).hex()}"


def _safe(name: str) -> str:
    """A file name for a task's log (a task's name is an identifier already; anything else
    is spelled out)."""
    if name.isidentifier():
        return name
    return "".join(c if c.isalnum() or c in "-_." else f"%{ord(c):02x}" for c in name)


# -- capture ----------------------------------------------------------------------------------


class _TaskStream(io.TextIOBase):
    """``sys.stdout`` or ``sys.stderr`` during a run: a task thread's text goes, line by line,
    to its run; anything else passes through (whole lines while a run draws its live line)."""

    def __init__(self, name: str, original: TextIO) -> None:
        super().__init__()
        self.stream_name = name
        self.original = original
        self._pending = threading.local()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.original, "encoding", None) or "utf-8"

    def isatty(self) -> bool:
        return False  # lines are prefixed: no cursor tricks (progress bars draw plain lines)

    def fileno(self) -> int:
        return self.original.fileno()

    @property
    def buffer(self) -> Any:
        """The real stream's bytes (what is written there is not attributed to a task)."""
        return self.original.buffer

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        sink = getattr(_STATE, "sink", None)
        if sink is None:
            sink = _ACTIVE[-1] if _ACTIVE else None
            if sink is None or not sink.live:
                return self.original.write(text)
        pending = getattr(self._pending, "text", "") + text
        *lines, rest = pending.split("\n")
        self._pending.text = rest
        if rest:
            _STATE.partial = True  # the task's end hands it on (``flush_thread``)
        for line in lines:
            sink.line(getattr(_STATE, "task", None), self.stream_name, line)
        return len(text)

    def flush(self) -> None:
        self.original.flush()

    def flush_thread(self) -> None:
        """Hand on what this thread wrote after its last newline (a task ended)."""
        rest = getattr(self._pending, "text", None)
        if rest:
            self._pending.text = ""
            sink = getattr(_STATE, "sink", None) or (_ACTIVE[-1] if _ACTIVE else None)
            if sink is not None:
                sink.line(getattr(_STATE, "task", None), self.stream_name, rest)
            else:
                self.original.write(rest)


_ACTIVE: list[RunLog] = []  # runs going in this process, innermost last
_INSTALL_LOCK = threading.Lock()
_SAVED: list[Any] = []  # [stdout, stderr, stand-ins, [(handler, stream)]] while installed


def _install(run: RunLog) -> None:
    import logging

    with _INSTALL_LOCK:
        _ACTIVE.append(run)
        if _SAVED:
            return
        out, err = sys.stdout, sys.stderr
        stand_ins = (_TaskStream("stdout", out), _TaskStream("stderr", err))
        moved = []
        for handler in _stream_handlers(logging):
            stream = getattr(handler, "stream", None)
            for original, stand_in in zip((out, err), stand_ins, strict=True):
                if stream is original:
                    moved.append((handler, stream))
                    handler.setStream(stand_in)
        sys.stdout, sys.stderr = stand_ins
        _SAVED[:] = [out, err, stand_ins, moved]


def _uninstall(run: RunLog) -> None:
    with _INSTALL_LOCK:
        if run in _ACTIVE:
            _ACTIVE.remove(run)
        if _ACTIVE or not _SAVED:
            return
        out, err, stand_ins, moved = _SAVED
        _SAVED.clear()
        if sys.stdout is stand_ins[0]:
            sys.stdout = out
        if sys.stderr is stand_ins[1]:
            sys.stderr = err
        for handler, stream in moved:
            if getattr(handler, "stream", None) in stand_ins:
                handler.setStream(stream)


def _stream_handlers(logging: Any) -> list[Any]:
    """The handlers that print to a stream given when they were made (``lastResort`` and
    its like read ``sys.stderr`` when they print: nothing to point elsewhere)."""
    loggers = [logging.getLogger()]
    loggers += [
        lg for lg in list(logging.Logger.manager.loggerDict.values()) if hasattr(lg, "handlers")
    ]
    found = []
    for lg in loggers:
        for handler in lg.handlers:
            if (
                isinstance(handler, logging.StreamHandler)
                and not isinstance(handler, logging.FileHandler)
                and not isinstance(getattr(type(handler), "stream", None), property)
                and handler not in found
            ):
                found.append(handler)
    return found


def _streams_of_thread() -> list[_TaskStream]:
    return [s for s in (sys.stdout, sys.stderr) if isinstance(s, _TaskStream)]


def capture_call(function: Callable[..., Any], kwargs: Mapping[str, Any]) -> Any:
    """Call ``function`` in a worker process, collecting what it prints: returns
    ``(result, stdout text, stderr text)``; an exception carries the texts as
    ``__glacier_output__``."""
    import logging

    out, err = io.StringIO(), io.StringIO()
    saved = sys.stdout, sys.stderr
    moved = []
    for handler in _stream_handlers(logging):
        stream = getattr(handler, "stream", None)
        if stream in saved or stream in (sys.__stdout__, sys.__stderr__):
            moved.append((handler, stream))
            handler.setStream(err if stream in (saved[1], sys.__stderr__) else out)
    sys.stdout, sys.stderr = out, err
    try:
        result = function(**kwargs)
    except BaseException as exc:
        exc.__glacier_output__ = (out.getvalue(), err.getvalue())  # type: ignore[attr-defined]
        raise
    finally:
        sys.stdout, sys.stderr = saved
        for handler, stream in moved:
            handler.setStream(stream)
    return result, out.getvalue(), err.getvalue()


# -- the run log ------------------------------------------------------------------------------


class RunLog:
    """The observer of one run (``_schedule.run(..., observer=)``): the terminal, the task
    logs and the run record.

    ``record_dir``: where ``run.json`` and ``logs/`` go (``None``: nothing is kept);
    ``events``: show the scheduler's lines (start, done, cached, ...; off: only the tasks'
    own output is shown); ``live``: draw the progress line (``None``: when ``events`` is on
    and standard error is a terminal). ``out``/``err``: where lines
    go (default: the process's standard output and error when the run starts); ``log``:
    a callable that gets the scheduler's lines instead, without prefix.
    """

    def __init__(
        self,
        pipeline: str,
        *,
        run_id: str | None = None,
        record_dir: str | None = None,
        runner: str = "LocalExecutor",
        data_dir: str = ".",
        params: Mapping[str, Any] | None = None,
        targets: Sequence[str] | None = None,
        events: bool = True,
        quiet: bool = False,
        verbose: bool = False,
        live: bool | None = None,
        slow_after: float = 30.0,
        every: float = 30.0,
        out: TextIO | None = None,
        err: TextIO | None = None,
        log: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.pipeline = pipeline
        self.run_id = run_id or new_run_id(wall())
        self.record_dir = record_dir
        self.runner = runner
        self.data_dir = os.path.abspath(data_dir)
        self.params = dict(params or {})
        self.targets = list(targets) if targets is not None else None
        self.events = events
        # whether the scheduler's routine lines (start, done, cached) are wanted: a task's log
        # gets its own start and end lines (``_to_file``, ``ended``) without them
        self.wants_lines = events
        self.quiet = quiet
        self.verbose = verbose
        self._live_choice = live
        self.live = False
        self.slow_after = slow_after
        self.every = every
        self._out = out
        self._err = err
        self.log = log
        self.clock = clock
        self.wall = wall
        self.lock = threading.RLock()
        self.total = 0
        self.order: list[str] = []
        self.running: dict[str, float] = {}  # task -> when its current attempt started
        self.noted: dict[str, float] = {}  # task -> when it was last named as still running
        self.done = 0
        self.failed = 0
        self.first_start: dict[str, float] = {}  # task -> its first attempt, on ``clock``
        self.logs: dict[str, str] = {}  # task -> its log file, once made ("": not kept)
        self.files: dict[str, TextIO] = {}  # task -> its open log file, while it runs
        self.outputs_of: dict[str, tuple[str, ...]] = {}
        self.started_wall = 0.0
        self.started = 0.0
        self.status_shown = False
        self._ticker: threading.Thread | None = None
        self._stop = threading.Event()
        self.problems: list[str] = []  # what could not be kept (shown once at the end)

    # -- the scheduler's calls ----------------------------------------------------------------

    def begin(self, tasks: Sequence[tuple[str, Sequence[str]]]) -> None:
        """The run starts: its tasks (name, output datasets) in the order they are scheduled."""
        self.order = [name for name, _ in tasks]
        self.outputs_of = {name: tuple(outputs) for name, outputs in tasks}
        self.total = len(self.order)
        self.started = self.clock()
        self.started_wall = self.wall()
        self.out = self._out if self._out is not None else sys.stdout
        self.err = self._err if self._err is not None else sys.stderr
        live = self._live_choice
        if live is None:
            isatty = getattr(self.err, "isatty", None)
            live = self.events and bool(isatty and isatty()) and os.environ.get("TERM") != "dumb"
        self.live = live
        if self.record_dir is not None:
            self._prune()
            self._write_record("running", None)
        _install(self)
        if self.live or self.events:
            self._ticker = threading.Thread(target=self._tick, name="glacier-progress", daemon=True)
            self._ticker.start()
        if self.live:
            with self.lock:
                self._draw()

    def event(self, task: str | None, line: str, *, always: bool = False) -> None:
        """A scheduler line about ``task``, kept in its log; shown when ``events`` is on,
        under ``quiet`` only when ``always`` (failures, retries, notes)."""
        if task is not None:
            self._to_file(task, line, keep=always)
        if self.events and (always or not self.quiet):
            if self.log is not None:
                self.log(line)
            else:
                self._emit(self.err, self._prefix() + line)

    def started_task(self, task: str) -> None:
        now = self.clock()
        self.running[task] = now  # a dict's item: no lock needed but to draw
        if task not in self.first_start:
            self.first_start[task] = now
        if self.live:
            with self.lock:
                self._draw()

    capture = staticmethod(capture_call)  # process mode: the worker's wrapper of a call

    def enter(self, task: str) -> None:
        """The calling thread runs ``task``'s code from now on."""
        _STATE.sink = self
        _STATE.task = task

    def leave(self) -> None:
        if getattr(_STATE, "partial", False) and _SAVED:
            _STATE.partial = False
            for stream in _SAVED[2]:
                stream.flush_thread()
        _STATE.sink = None
        _STATE.task = None

    def output(self, task: str, stream: str, text: str) -> None:
        """Text a task printed in a worker process."""
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        for line in lines:
            self.line(task, stream, line)

    def ended(self, result: Any) -> None:
        """``result``'s task is over (called from the scheduler's one loop thread)."""
        name = result.name
        self.running.pop(name, None)
        self.noted.pop(name, None)
        if result.status == "failed":
            self.failed += 1
        else:
            self.done += 1
        if name in self.files or self.live:
            self._ended_shown(result)

    def _ended_shown(self, result: Any) -> None:
        with self.lock:
            if result.name in self.files:
                if result.status == "failed" and result.error:
                    self._to_file(result.name, result.error.rstrip())
                elif not self.events and result.status == "succeeded":
                    line = f"done   {result.name} in {result.duration:.3f}s"
                    self._to_file(result.name, line)
            self._close_file(result.name)
            if self.live:
                self._draw()

    def end(self, results: Mapping[str, Any], store: Any, error: BaseException | None) -> None:
        """The run is over (``error``: it was interrupted)."""
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        for stream in _streams_of_thread():
            stream.flush_thread()
        _uninstall(self)
        for task in list(self.files):
            self._close_file(task)
        with self.lock:
            if self.status_shown:
                self.err.write("\r\x1b[2K")
                self.err.flush()
                self.status_shown = False
        if self.record_dir is None:
            return
        if error is not None:
            status = "interrupted"
        elif all(r.status in ("succeeded", "cached") for r in results.values()):
            status = "succeeded"
        else:
            status = "failed"
        self._write_record(status, (results, store))
        for problem in self.problems:
            self._emit(self.err, self._prefix() + problem)

    # -- lines --------------------------------------------------------------------------------

    def line(self, task: str | None, stream: str, text: str) -> None:
        """One whole line a task (or an unattributed thread: ``task`` None) wrote."""
        text = text.rstrip("\r")
        if task is not None:
            self._to_file(task, f"{stream}| {text}")
            if self.quiet:
                return
            shown = f"{self._prefix()}{task} | {text}"
        else:
            shown = text
        self._emit(self.out if stream == "stdout" else self.err, shown)

    def _prefix(self) -> str:
        if self.verbose:
            return f"[{self.pipeline} {_clock_text(self.clock() - self.started)}] "
        return f"[{self.pipeline}] "

    def _emit(self, stream: TextIO, text: str) -> None:
        with self.lock:
            if self.status_shown:
                self.err.write("\r\x1b[2K")
                self.status_shown = False
                if stream is not self.err:
                    self.err.flush()
            stream.write(text + "\n")
            stream.flush()
            if self.live and not self._stop.is_set():
                self._draw()

    def _draw(self) -> None:
        """The live line, under the lock: counts, elapsed time, the running tasks."""
        running = [task for task, _ in sorted(self.running.items(), key=lambda i: i[1])]
        elapsed = _clock_text(self.clock() - self.started)
        text = (
            f"[{self.pipeline}] {self.done + self.failed}/{self.total} done, "
            f"{len(running)} running, {self.failed} failed, {elapsed}"
        )
        if running:
            text += ": " + ", ".join(running)
        width = shutil.get_terminal_size((100, 24)).columns - 1
        if len(text) > width:
            text = text[: max(0, width - 1)] + "…"
        self.err.write("\r\x1b[2K" + text)
        self.err.flush()
        self.status_shown = True

    def _tick(self) -> None:
        step = 0.5 if self.live else min(5.0, max(0.1, min(self.slow_after, self.every) / 2))
        while not self._stop.wait(step):
            now = self.clock()
            slow = []
            with self.lock:
                for task, since in list(self.running.items()):
                    if now - since < self.slow_after:
                        continue
                    if now - self.noted.get(task, since) >= self.every or task not in self.noted:
                        self.noted[task] = now
                        slow.append((task, now - since))
                if self.live and not slow:
                    self._draw()
            for task, seconds in slow:
                self.event(task, f"still running {task} ({_duration_text(seconds)})", always=True)

    # -- files --------------------------------------------------------------------------------

    def _to_file(self, task: str, text: str, *, keep: bool = True) -> None:
        """Add ``text`` to ``task``'s log. The file is made once the task has something worth
        keeping (``keep``: output, a failure, a retry, a note), starting with the line of its
        start; lines not worth it (start, done, cached) go only to a file already made. A task
        that only started and finished has no file (its record says as much), which keeps
        runs of many tasks cheap."""
        if self.record_dir is None:
            return
        with self.lock:
            handle = self.files.get(task)
            now = self.wall()
            lines = [(now, text)]
            if handle is None:
                if not keep or task in self.logs:
                    return
                path = os.path.join(self.record_dir, "logs", _safe(task) + ".log")
                try:
                    os.makedirs(os.path.dirname(path), exist_ok=True)
                    handle = self.files[task] = open(path, "a", encoding="utf-8")  # noqa: SIM115
                except OSError as exc:
                    self._problem(f"note   the logs of this run are not kept ({exc})")
                    self.logs[task] = ""
                    return
                self.logs[task] = path
                first = self.first_start.get(task)
                if first is not None and not text.startswith("start  "):
                    began = now - (self.clock() - first)
                    lines.insert(0, (began, f"start  {task}"))
            try:
                handle.write("".join(_stamped(when, line) for when, line in lines))
                handle.flush()
            except OSError as exc:
                self._problem(f"note   the log of `{task}` is not complete ({exc})")

    def _close_file(self, task: str) -> None:
        if task in self.files:
            with self.lock:
                handle = self.files.pop(task, None)
            if handle is not None:
                handle.close()

    def _problem(self, text: str) -> None:
        with self.lock:
            if text not in self.problems:
                self.problems.append(text)

    def _prune(self) -> None:
        parent = os.path.dirname(self.record_dir or "")
        try:
            names = sorted(n for n in os.listdir(parent) if is_run_id(n))
        except OSError:
            return
        for name in names[: max(0, len(names) - (KEEP_RUNS - 1))]:
            shutil.rmtree(os.path.join(parent, name), ignore_errors=True)

    def _write_record(self, status: str, ending: tuple[Mapping[str, Any], Any] | None) -> None:
        assert self.record_dir is not None
        record: dict[str, Any] = {
            "schema": SCHEMA,
            "id": self.run_id,
            "pipeline": self.pipeline,
            "runner": self.runner,
            "status": status,
            "started": _iso(self.started_wall),
            "finished": None,
            "duration_s": None,
            "data_dir": self.data_dir,
            "params": self.params,
            "targets": self.targets,
            "tasks": [],
        }
        if ending is not None:
            results, store = ending
            record["finished"] = _iso(self.wall())
            record["duration_s"] = round(self.clock() - self.started, 6)
            record["tasks"] = [
                self._task_record(name, results.get(name), store) for name in self.order
            ]
        path = os.path.join(self.record_dir, "run.json")
        try:
            text = json.dumps(record, separators=(",", ":"), default=repr)  # the C encoder
            if ending is None:  # the first: a new file (a reader skips it until it is whole)
                os.makedirs(self.record_dir, exist_ok=True)
                with open(path, "w", encoding="utf-8") as fh:
                    fh.write(text + "\n")
                return
            temp = f"{path}.{os.getpid()}.tmp"
            with open(temp, "w", encoding="utf-8") as fh:
                fh.write(text + "\n")
            os.replace(temp, path)
        except (OSError, TypeError, ValueError) as exc:
            self._problem(f"note   no record of this run is kept ({exc})")

    def _task_record(self, name: str, result: Any, store: Any) -> dict[str, Any]:
        entry: dict[str, Any] = {"name": name, "status": "not run"}
        if result is None:
            return entry
        entry["status"] = result.status
        entry["attempts"] = result.attempts
        entry["duration_s"] = round(result.duration, 6)
        first = self.first_start.get(name)
        entry["started_s"] = round(first - self.started, 6) if first is not None else None
        if result.error:
            lines = result.error.strip().splitlines()
            entry["error"] = lines[-1] if lines else None
        if result.upstream:
            entry["upstream"] = result.upstream
        if result.age is not None:
            entry["output_age_s"] = round(result.age, 3)
        log = self.logs.get(name)
        entry["log"] = os.path.relpath(log, self.record_dir) if log else None
        outputs = {}
        if result.status in ("succeeded", "cached"):
            for dataset in self.outputs_of.get(name, ()):
                outputs[dataset] = _output(store, dataset)
        entry["outputs"] = outputs
        return entry


def _output(store: Any, dataset: str) -> dict[str, Any]:
    """Where an output is and how big, and its storage description (``None``: in memory)."""
    if not store.persistent(dataset):
        return {"location": None, "bytes": None, "storage": None}
    try:
        where = str(store.location(dataset))
    except Exception as exc:  # noqa: BLE001 - a location that cannot be named is reported
        return {"location": f"<{exc}>", "bytes": None, "storage": None}
    try:
        size: int | None = os.stat(where).st_size
    except OSError:
        size = None
    describe = getattr(store, "description", None)
    storage = describe(dataset) if describe is not None else None
    return {
        "location": os.path.abspath(where) if size is not None else where,
        "bytes": size,
        "storage": dict(storage) if storage is not None else None,
    }


def _stamped(when: float, text: str) -> str:
    stamp = time.strftime("%H:%M:%S", time.localtime(when))
    return "".join(f"{stamp} {line}\n" for line in text.split("\n"))


def is_run_id(name: str) -> bool:
    """Whether ``name`` is a run id (``new_run_id``), so a run's directory."""
    return len(name) == 25 and name[8] == "T" and name[15] == "." and name[19:21] == "Z-"


def _iso(seconds: float) -> str:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    return f"{stamp}.{int(seconds * 1000) % 1000:03d}Z"


def _clock_text(seconds: float) -> str:
    minutes, rest = divmod(max(0.0, seconds), 60)
    return f"{int(minutes):02d}:{rest:04.1f}"


def _duration_text(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m {rest}s" if minutes else f"{rest}s"
