"""Logs, progress and run records of local runs (``glacier_local._runlog``), through
``LocalExecutor``: the runner embeds the same module (tests/test_runner*.py run it)."""

from __future__ import annotations

import io
import json
import logging
import re
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from glacier import Dataset, ObjectStorage, Pipeline
from glacier_local import LocalExecutor, _runlog


class _Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def _record(data: Path, pipeline: str, run_id: str | None) -> dict[str, Any]:
    assert run_id is not None
    kept = json.loads((data / ".glacier-run" / pipeline / run_id / "run.json").read_text())
    assert isinstance(kept, dict)
    return kept


def _chatty(lines: int = 200) -> Pipeline:
    """Three tasks in parallel, each printing many lines in small pieces, the way a loop of
    ``print(..., end="")`` does."""
    p = Pipeline("chat")
    outs = [Dataset(f"o{i}") for i in range(3)]
    barrier = threading.Barrier(3, timeout=10)

    def make(i: int) -> Any:
        def talk() -> outs[i]:  # type: ignore[valid-type]
            barrier.wait()  # all three talk at once
            for n in range(lines):
                print(f"task{i} line {n}", end="")
                print(" tail", end="")
                print()
            return i

        talk.__name__ = f"talk{i}"
        return talk

    for i in range(3):
        p.task()(make(i))
    return p


def test_parallel_tasks_lines_are_whole_and_prefixed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = LocalExecutor(tmp_path, max_workers=3).execute(_chatty())
    assert result.ok
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 600
    pattern = re.compile(r"\[chat\] talk(\d) \| task(\d) line (\d+) tail")
    seen: dict[str, list[int]] = {}
    for line in out:
        match = pattern.fullmatch(line)
        assert match, f"a line ran together with another: {line!r}"
        assert match[1] == match[2]
        seen.setdefault(match[1], []).append(int(match[3]))
    assert seen == {str(i): list(range(200)) for i in range(3)}
    # and each task's own log has its lines, in order, with the stream they went to
    kept = tmp_path / ".glacier-run" / "chat" / str(result.run_id) / "logs"
    log = (kept / "talk1.log").read_text().splitlines()
    assert log[0].endswith("start  talk1")
    assert [line.split(" ", 1)[1] for line in log[1:4]] == [
        "stdout| task1 line 0 tail",
        "stdout| task1 line 1 tail",
        "stdout| task1 line 2 tail",
    ]
    assert log[-1].split(" ", 1)[1].startswith("done   talk1 in ")


def test_stderr_and_logging_go_to_the_task_and_its_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = Pipeline("logs")
    a, b = Dataset("a"), Dataset("b")
    logger = logging.getLogger("test_runlog.user")
    handler = logging.StreamHandler(sys.stderr)  # made before the run, as basicConfig does
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.propagate = False

    @p.task()
    def first() -> a:
        logger.warning("careful")
        print("oops", file=sys.stderr)
        print("partial without newline", end="")
        return 1

    @p.task()
    def second(x: a) -> b:
        return x

    try:
        result = LocalExecutor(tmp_path).execute(p)
    finally:
        logger.removeHandler(handler)
    assert result.ok
    out, err = capsys.readouterr()
    assert out == "[logs] first | partial without newline\n"
    assert err.splitlines() == [
        "[logs] first | WARNING test_runlog.user: careful",
        "[logs] first | oops",
    ]
    assert handler.stream is sys.stderr  # pointed back after the run
    logs = tmp_path / ".glacier-run" / "logs" / str(result.run_id) / "logs"
    assert sorted(p.name for p in logs.iterdir()) == ["first.log"]  # `second` said nothing
    text = (logs / "first.log").read_text()
    assert "stderr| WARNING test_runlog.user: careful" in text
    assert "stdout| partial without newline" in text
    record = _record(tmp_path, "logs", result.run_id)
    assert [t["log"] for t in record["tasks"]] == ["logs/first.log", None]


def _failing() -> Pipeline:
    p = Pipeline("bad")
    a, b, c = Dataset("a", storage=ObjectStorage(bucket="lake")), Dataset("b"), Dataset("c")

    @p.task()
    def ok() -> a:
        print("fine")
        return {"rows": [1, 2, 3]}

    @p.task(retries=1)
    def broken(x: a) -> b:
        raise ValueError("bad rows")

    @p.task()
    def after(y: b) -> c:
        return y

    return p


def test_quiet_keeps_failures_and_the_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    quiet = LocalExecutor(tmp_path, verbose=True, quiet=True, sleep=lambda seconds: None)
    result = quiet.execute(_failing())
    assert not result.ok
    out, err = capsys.readouterr()
    assert out == ""  # the tasks' output is hidden
    lines = err.splitlines()
    assert lines[0].startswith("[bad] retry  broken in 2s (attempt 1 of 2: ValueError: bad rows")
    assert lines[1].startswith("[bad] FAILED broken in ") and lines[1].endswith("bad rows")
    assert lines[2] == "[bad] skip   after (upstream task `broken` failed)"
    assert len(lines) == 3
    logs = tmp_path / ".glacier-run" / "bad" / str(result.run_id) / "logs"
    assert "stdout| fine" in (logs / "ok.log").read_text()
    broken = (logs / "broken.log").read_text()
    assert "Traceback (most recent call last)" in broken and "ValueError: bad rows" in broken


def test_the_run_record(tmp_path: Path) -> None:
    p = _failing()
    result = LocalExecutor(tmp_path, sleep=lambda seconds: None).execute(p, force=True)
    record = _record(tmp_path, "bad", result.run_id)
    assert record["schema"] == _runlog.SCHEMA
    assert record["id"] == result.run_id and record["pipeline"] == "bad"
    assert record["runner"] == "LocalExecutor" and record["status"] == "failed"
    assert record["data_dir"] == str(tmp_path)
    assert record["started"] <= record["finished"]
    assert record["duration_s"] >= 0
    tasks = {t["name"]: t for t in record["tasks"]}
    assert [t["name"] for t in record["tasks"]] == ["ok", "broken", "after"]
    assert tasks["ok"]["status"] == "succeeded" and tasks["ok"]["attempts"] == 1
    stored = tasks["ok"]["outputs"]["a"]
    assert stored["location"] == str(tmp_path / "lake" / "a.json")
    assert stored["bytes"] == (tmp_path / "lake" / "a.json").stat().st_size
    assert stored["storage"]["bucket"] == "lake"
    assert tasks["broken"]["status"] == "failed" and tasks["broken"]["attempts"] == 2
    assert tasks["broken"]["error"] == "ValueError: bad rows"
    assert tasks["broken"]["outputs"] == {}
    assert tasks["after"]["status"] == "skipped" and tasks["after"]["upstream"] == "broken"


def test_parameters_are_recorded_and_an_interrupted_run_says_so(tmp_path: Path) -> None:
    p = Pipeline("stop")
    a = Dataset("a")

    @p.task()
    def wait(n: int = 1) -> a:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        LocalExecutor(tmp_path).execute(p, params={"n": 3})
    (kept,) = (tmp_path / ".glacier-run" / "stop").glob("2*")
    record = json.loads((kept / "run.json").read_text())
    assert record["status"] == "interrupted"
    assert record["params"] == {"wait.n": 3}
    assert sys.stdout is sys.__stdout__ or not isinstance(sys.stdout, _runlog._TaskStream)


def test_only_the_newest_runs_are_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_runlog, "KEEP_RUNS", 3)
    p = Pipeline("many")
    a = Dataset("a")

    @p.task()
    def one() -> a:
        return 1

    ids = []
    make_id = _runlog.new_run_id
    for second in range(5):
        ids.append(make_id(1_800_000_000 + second))
        monkeypatch.setattr(_runlog, "new_run_id", lambda now=None, i=ids[-1]: i)
        LocalExecutor(tmp_path).execute(p)
    kept = sorted(p.name for p in (tmp_path / ".glacier-run" / "many").glob("2*"))
    assert kept == ids[-3:]
    assert LocalExecutor(tmp_path).runs(p)[0]["id"] == ids[-1]


def test_verbose_gives_each_line_its_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = Pipeline("timed")
    a = Dataset("a")

    @p.task()
    def one() -> a:
        print("hi")
        return 1

    log = _runlog.RunLog("timed", verbose=True, live=False, out=sys.stdout, err=sys.stderr)
    from glacier_local import _io, _schedule

    job = _schedule.Job("one", one, (), ("a",))
    _schedule.run([job], _io.Store({"a": None}, tmp_path), observer=log)
    out, err = capsys.readouterr()
    assert re.fullmatch(r"\[timed 00:\d\d\.\d\] one \| hi\n", out)
    assert re.match(r"\[timed 00:\d\d\.\d\] start  one\n", err)


def test_the_live_line_on_a_terminal_and_slow_tasks(tmp_path: Path) -> None:
    from glacier_local import _io, _schedule

    terminal, out = _Terminal(), io.StringIO()
    release = threading.Event()

    def slow() -> int:
        release.wait(5)
        return 1

    def quick() -> int:
        return 2

    jobs = [_schedule.Job("slow", slow, (), ("a",)), _schedule.Job("quick", quick, (), ("b",))]
    log = _runlog.RunLog("p", out=out, err=terminal, slow_after=0.2, every=0.2)

    def later() -> None:
        deadline = time.monotonic() + 5
        while "still running slow" not in terminal.getvalue() and time.monotonic() < deadline:
            time.sleep(0.05)
        release.set()

    threading.Thread(target=later).start()
    result = _schedule.run(jobs, _io.Store({"a": None, "b": None}, tmp_path), observer=log)
    assert result.ok
    text = terminal.getvalue()
    assert log.live
    assert "\r\x1b[2K[p] 0/2 done, 0 running, 0 failed, 00:00" in text  # drawn at once
    assert re.search(r"\[p\] 1/2 done, 1 running, 0 failed, 00:\d\d\.\d: slow", text)
    assert re.search(r"\[p\] still running slow \(0s\)\n", text)
    assert text.endswith("\r\x1b[2K")  # the live line is gone when the run ends
    # every event line starts on a cleared line: nothing is written over the live line
    for line in text.split("\n")[:-1]:
        assert "[p] start" not in line or line.split("\r\x1b[2K")[-1].startswith("[p] ")


def test_not_a_terminal_gets_no_live_line(tmp_path: Path) -> None:
    from glacier_local import _io, _schedule

    err = io.StringIO()
    log = _runlog.RunLog("p", out=io.StringIO(), err=err)
    job = _schedule.Job("one", lambda: 1, (), ("a",))
    _schedule.run([job], _io.Store({"a": None}, tmp_path), observer=log)
    assert "\r" not in err.getvalue() and "\x1b" not in err.getvalue()
    assert err.getvalue().splitlines()[0] == "[p] start  one"


proc_pipeline = Pipeline("proc-out")
_x = Dataset("x")


@proc_pipeline.task()
def speak() -> _x:
    print("from a worker process")
    print("and its stderr", file=sys.stderr)
    return 1


def test_process_mode_output_is_captured(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = LocalExecutor(tmp_path, mode="process", max_workers=2).execute(proc_pipeline)
    assert result.ok, result.summary()
    out, err = capsys.readouterr()
    assert out == "[proc-out] speak | from a worker process\n"
    assert err == "[proc-out] speak | and its stderr\n"


def test_history_off_keeps_nothing(tmp_path: Path) -> None:
    p = Pipeline("quiet")
    a = Dataset("a")

    @p.task()
    def one() -> a:
        return 1

    result = LocalExecutor(tmp_path, history=False).execute(p, cache=False)
    assert result.ok and not tmp_path.joinpath(".glacier-run").exists()


def test_a_task_can_use_the_stream_like_a_real_one(tmp_path: Path) -> None:
    p = Pipeline("streams")
    a = Dataset("a")
    seen: dict[str, Any] = {}

    @p.task()
    def probe() -> a:
        seen["isatty"] = sys.stdout.isatty()  # prefixed lines: no cursor tricks
        seen["encoding"] = sys.stdout.encoding
        seen["fileno"] = sys.stderr.fileno()
        sys.stdout.writelines(["one\n", "two\n"])
        sys.stdout.flush()
        return 1

    out = io.StringIO()
    log = _runlog.RunLog("streams", out=out, err=io.StringIO(), live=False, events=False)
    from glacier_local import _io, _schedule

    real_stderr = sys.stderr
    job = _schedule.Job("probe", probe, (), ("a",))
    _schedule.run([job], _io.Store({"a": None}, tmp_path), observer=log)
    assert seen["isatty"] is False and seen["encoding"]
    assert seen["fileno"] == real_stderr.fileno()
    assert out.getvalue() == "[streams] probe | one\n[streams] probe | two\n"
    assert sys.stderr is real_stderr  # given back
