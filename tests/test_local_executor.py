"""LocalExecutor: ordering, parallelism, failures, retries, targets, sources, crashes, modes.

No `from __future__ import annotations` here: the tasks are nested functions whose annotations
name local datasets, which only eager annotations can see.
"""

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from _postgres import postgres_url  # noqa: F401  (session fixture)

from glacier import Database, Dataset, ObjectStorage, Pipeline
from glacier.errors import SourceMissingError, UsageError
from glacier_local import LocalExecutor, RunResult, TaskResult

# -- a pipeline for process mode: module-level functions, so they pickle by reference ----------

proc_pipeline = Pipeline("proc")
proc_numbers = Dataset("proc_numbers")
proc_pids = Dataset("proc_pids")
proc_summary = Dataset("proc_summary", storage=ObjectStorage("proc"))


@proc_pipeline.task()
def proc_first() -> tuple[proc_numbers, proc_pids]:
    return [1, 2, 3], [os.getpid()]


@proc_pipeline.task()
async def proc_second(numbers: proc_numbers, pids: proc_pids) -> proc_summary:
    await asyncio.sleep(0)
    return {"total": sum(numbers), "pids": [*pids, os.getpid()]}


slow_pipeline = Pipeline("slow-proc")
slow_out, quick_out = Dataset("slow_out"), Dataset("quick_out")


@slow_pipeline.task(timeout=0.5)
def proc_sleeper() -> slow_out:
    time.sleep(60)


@slow_pipeline.task()
def proc_quick() -> quick_out:
    return os.getpid()


parallel_pipeline = Pipeline("parallel-proc")
left_pid, right_pid = Dataset("left_pid"), Dataset("right_pid")


@parallel_pipeline.task()
def proc_left() -> left_pid:
    time.sleep(1)
    return os.getpid()


@parallel_pipeline.task()
def proc_right() -> right_pid:
    time.sleep(1)
    return os.getpid()


# -- helpers ----------------------------------------------------------------------------------


def run(pipeline: Pipeline, tmp_path: Path, **kwargs) -> RunResult:
    targets = kwargs.pop("targets", None)
    return LocalExecutor(tmp_path / "data", **kwargs).execute(pipeline, targets=targets)


def statuses(result: RunResult) -> dict[str, str]:
    return {name: t.status for name, t in result.tasks.items()}


# -- order and values -------------------------------------------------------------------------


@pytest.mark.parametrize("workers", [1, None])
def test_values_flow_in_dependency_order(tmp_path: Path, workers: int | None) -> None:
    p = Pipeline("flow")
    raw, clean, total = Dataset("raw"), Dataset("clean"), Dataset("total")
    seen: list[str] = []

    # registered out of order on purpose: the consumer first
    @p.task()
    def summarise(rows: clean) -> total:
        seen.append("summarise")
        return sum(rows)

    @p.task()
    def transform(rows: raw) -> clean:
        seen.append("transform")
        return [r * 10 for r in rows]

    @p.task()
    def extract() -> raw:
        seen.append("extract")
        return [1, 2, 3]

    result = run(p, tmp_path, max_workers=workers)
    assert result.ok
    assert seen == ["extract", "transform", "summarise"]
    assert result.outputs == {"raw": [1, 2, 3], "clean": [10, 20, 30], "total": 60}
    assert list(result.tasks) == ["extract", "transform", "summarise"]
    for task in result.tasks.values():
        assert isinstance(task, TaskResult)
        assert task.status == "succeeded" and task.attempts == 1 and task.error is None
        assert task.duration >= 0
    # ephemeral datasets stay in memory: only the run's record is kept
    assert [p.name for p in (tmp_path / "data").iterdir()] == [".glacier-run"]
    (kept,) = (tmp_path / "data" / ".glacier-run" / "flow").iterdir()
    assert (kept / "run.json").is_file() and kept.name == result.run_id


def test_independent_tasks_run_in_parallel(tmp_path: Path) -> None:
    p = Pipeline("parallel")
    a, b, both = Dataset("a"), Dataset("b"), Dataset("both")
    threads: set[str] = set()

    @p.task()
    def slow_a() -> a:
        threads.add(threading.current_thread().name)
        time.sleep(1)
        return "a"

    @p.task()
    def slow_b() -> b:
        threads.add(threading.current_thread().name)
        time.sleep(1)
        return "b"

    @p.task()
    def join(x: a, y: b) -> both:
        return x + y

    start = time.perf_counter()
    result = run(p, tmp_path, max_workers=4)
    elapsed = time.perf_counter() - start
    assert result.ok, result.summary()
    assert result.outputs["both"] == "ab"
    assert elapsed < 1.6, f"two 1 s tasks took {elapsed:.2f}s: they did not overlap"
    assert len(threads) == 2
    assert result.tasks["slow_a"].duration >= 1


def test_max_workers_one_runs_sequentially_in_the_calling_thread(tmp_path: Path) -> None:
    p = Pipeline("seq")
    a, b = Dataset("a"), Dataset("b")
    threads = []

    @p.task()
    def one() -> a:
        threads.append(threading.current_thread())
        time.sleep(0.2)

    @p.task()
    def two() -> b:
        threads.append(threading.current_thread())
        time.sleep(0.2)

    start = time.perf_counter()
    assert run(p, tmp_path, max_workers=1).ok
    assert time.perf_counter() - start >= 0.4
    assert threads == [threading.current_thread()] * 2


# -- failures ---------------------------------------------------------------------------------


@pytest.mark.parametrize("workers", [1, None])
def test_failure_skips_descendants_and_independent_branch_finishes(
    tmp_path: Path, workers: int | None
) -> None:
    p = Pipeline("fail")
    raw = Dataset("raw")
    broken, after, last = Dataset("broken"), Dataset("after"), Dataset("last")
    fine = Dataset("fine", storage=ObjectStorage("out"))

    @p.task()
    def extract() -> raw:
        return 5

    @p.task()
    def explode(x: raw) -> broken:
        raise ValueError(f"cannot handle {x}")

    @p.task()
    def downstream(x: broken) -> after:
        raise AssertionError("must not run")

    @p.task()
    def further(x: after, y: raw) -> last:
        raise AssertionError("must not run")

    @p.task()
    def sibling(x: raw) -> fine:
        time.sleep(0.2)  # still running when its sibling fails
        return {"x": x}

    result = run(p, tmp_path, max_workers=workers)
    assert not result.ok
    assert statuses(result) == {
        "extract": "succeeded",
        "explode": "failed",
        "downstream": "skipped",
        "further": "skipped",
        "sibling": "succeeded",
    }
    failed = result.tasks["explode"]
    assert failed.attempts == 1
    assert failed.error is not None
    assert "Traceback (most recent call last)" in failed.error
    assert "in explode" in failed.error
    assert "ValueError: cannot handle 5" in failed.error
    assert isinstance(failed.exception, ValueError)
    assert result.tasks["downstream"].upstream == "explode"
    assert result.tasks["further"].upstream == "explode"
    assert result.tasks["downstream"].attempts == 0
    assert result.failed == ("explode",)
    assert set(result.skipped) == {"downstream", "further"}
    # the finished output is in place
    assert json.loads((tmp_path / "data" / "out" / "fine.json").read_text()) == {"x": 5}
    assert "broken" not in result.outputs
    summary = result.summary()
    assert "run FAILED: 2 succeeded, 1 failed, 2 skipped" in summary
    assert "ValueError: cannot handle 5" in summary


def test_retries_are_honoured_and_counted(tmp_path: Path) -> None:
    p = Pipeline("retry")
    ok_out, bad_out = Dataset("ok_out"), Dataset("bad_out")
    calls = {"flaky": 0, "hopeless": 0}

    @p.task(retries=2)
    def flaky() -> ok_out:
        calls["flaky"] += 1
        if calls["flaky"] < 3:
            raise ConnectionError(f"attempt {calls['flaky']} failed")
        return "finally"

    @p.task(retries=1)
    def hopeless() -> bad_out:
        calls["hopeless"] += 1
        raise ConnectionError(f"attempt {calls['hopeless']} failed")

    log: list[str] = []
    waits: list[float] = []
    result = LocalExecutor(tmp_path, log=log.append, sleep=waits.append).execute(p)
    # the deployed state machine's defaults: 2 s, then twice as long each time
    assert sorted(waits) == [2.0, 2.0, 4.0]
    assert result.tasks["flaky"].status == "succeeded"
    assert result.tasks["flaky"].attempts == 3
    assert result.outputs["ok_out"] == "finally"
    assert result.tasks["hopeless"].status == "failed"
    assert result.tasks["hopeless"].attempts == 2
    assert "ConnectionError: attempt 2 failed" in (result.tasks["hopeless"].error or "")
    assert calls == {"flaky": 3, "hopeless": 2}
    assert sum(line.startswith("retry  flaky") for line in log) == 2


def test_tuple_outputs_unpack_and_wrong_arity_fails_clearly(tmp_path: Path) -> None:
    p = Pipeline("tuples")
    left, right = Dataset("left"), Dataset("right", storage=ObjectStorage("t"))
    x, y, z = Dataset("x"), Dataset("y"), Dataset("z")

    @p.task()
    def split() -> tuple[left, right]:
        return [1], {"r": 2}

    @p.task()
    def wrong() -> tuple[x, y, z]:
        return 1, 2

    @p.task()
    def not_a_tuple() -> tuple[Dataset("p"), Dataset("q")]:
        return {"p": 1}

    result = run(p, tmp_path)
    assert result.outputs["left"] == [1] and result.outputs["right"] == {"r": 2}
    assert (tmp_path / "data" / "t" / "right.json").is_file()
    assert result.tasks["wrong"].status == "failed"
    assert (
        "task `wrong` returned 2 values; its return annotation needs a tuple of 3 "
        "(`x`, `y`, `z`)" in (result.tasks["wrong"].error or "")
    )
    assert "task `not_a_tuple` returned a dict" in (result.tasks["not_a_tuple"].error or "")
    assert "x" not in result.outputs


def test_async_tasks_run(tmp_path: Path) -> None:
    p = Pipeline("async")
    a, b = Dataset("a"), Dataset("b")

    @p.task()
    async def fetch() -> a:
        await asyncio.sleep(0.01)
        return 20

    @p.task()
    async def add(x: a) -> b:
        return x + 1

    result = run(p, tmp_path)
    assert result.ok and result.outputs["b"] == 21


@pytest.mark.parametrize("workers", [1, None])
def test_timeouts_fail_the_task(tmp_path: Path, workers: int | None) -> None:
    p = Pipeline("timeouts")
    a, b, c = Dataset("a"), Dataset("b"), Dataset("c")
    release = threading.Event()

    @p.task(timeout=0.2)
    def stuck() -> a:
        release.wait(10)
        return 1

    @p.task(timeout=0.2)
    async def stuck_async() -> b:
        await asyncio.sleep(10)

    @p.task(timeout=5)
    def quick() -> c:
        return "in time"

    start = time.perf_counter()
    result = run(p, tmp_path, max_workers=workers)
    release.set()
    assert time.perf_counter() - start < 3
    assert result.tasks["stuck"].status == "failed"
    assert "task `stuck` did not finish within 0.2s" in (result.tasks["stuck"].error or "")
    assert result.tasks["stuck_async"].status == "failed"
    assert "task `stuck_async` did not finish within 0.2s" in (
        result.tasks["stuck_async"].error or ""
    )
    assert result.outputs["c"] == "in time"


def test_a_task_added_after_a_run_is_picked_up(tmp_path: Path) -> None:
    p = Pipeline("grows")
    a, b = Dataset("a"), Dataset("b")

    @p.task()
    def first() -> a:
        return 1

    executor = LocalExecutor(tmp_path)
    assert list(executor.execute(p).tasks) == ["first"]

    @p.task()
    def second(x: a) -> b:
        return x + 1

    assert executor.execute(p).outputs == {"a": 1, "b": 2}


# -- targets ----------------------------------------------------------------------------------


def test_targets_run_only_what_they_need(tmp_path: Path) -> None:
    p = Pipeline("targets")
    raw, left, right, leftmost = (Dataset(n) for n in ("raw", "left", "right", "leftmost"))
    ran: list[str] = []

    @p.task()
    def extract() -> raw:
        ran.append("extract")
        return 1

    @p.task()
    def go_left(x: raw) -> left:
        ran.append("go_left")
        return x - 1

    @p.task()
    def go_further(x: left) -> leftmost:
        ran.append("go_further")
        return x - 1

    @p.task()
    def go_right(x: raw) -> right:
        ran.append("go_right")
        return x + 1

    result = run(p, tmp_path, targets=[left])
    assert ran == ["extract", "go_left"]
    assert list(result.tasks) == ["extract", "go_left"]
    assert result.outputs == {"raw": 1, "left": 0}

    ran.clear()
    result = run(p, tmp_path, targets=["right", leftmost])
    assert sorted(ran) == ["extract", "go_further", "go_left", "go_right"]
    ran.clear()
    assert run(p, tmp_path, targets=right).outputs["right"] == 2  # a single dataset
    assert ran == ["extract", "go_right"]

    with pytest.raises(UsageError, match="target 'nope' is not a dataset of pipeline `targets`"):
        run(p, tmp_path, targets=["nope"])


# -- sources ----------------------------------------------------------------------------------


def test_missing_source_fails_before_any_task_starts(tmp_path: Path) -> None:
    p = Pipeline("sources")
    raw = Dataset("raw", storage=ObjectStorage("landing", prefix="in"))
    early, late = Dataset("early", storage=ObjectStorage("out")), Dataset("late")
    started: list[str] = []

    @p.task()
    def independent() -> early:  # would run first: it needs nothing
        started.append("independent")
        return 1

    @p.task()
    def consume(rows: raw) -> late:
        started.append("consume")
        return rows

    data = tmp_path / "data"
    with pytest.raises(SourceMissingError) as info:
        LocalExecutor(data).execute(p)
    message = str(info.value)
    assert "source dataset `raw`" in message
    assert str(data / "landing" / "in" / "raw.*") in message
    assert started == []
    assert not (data / "out").exists()

    (data / "landing" / "in").mkdir(parents=True)
    (data / "landing" / "in" / "raw.json").write_text('[{"id": 1}]')
    result = LocalExecutor(data).execute(p)
    assert result.ok
    assert result.outputs["late"] == [{"id": 1}]
    assert result.outputs["raw"] == [{"id": 1}]


def test_missing_database_source_names_the_table(tmp_path: Path) -> None:
    p = Pipeline("db-source")
    customers, out = Dataset("customers", storage=Database(table="crm_customers")), Dataset("o")

    @p.task()
    def consume(rows: customers) -> out:
        return rows

    with pytest.raises(SourceMissingError) as info:
        run(p, tmp_path)
    assert "source dataset `customers` has nothing stored at" in str(info.value)
    assert f"{tmp_path / 'data' / 'glacier.sqlite'} table `crm_customers`" in str(info.value)


def test_a_source_target_is_read_into_the_outputs(tmp_path: Path) -> None:
    p = Pipeline("source-target")
    given = Dataset("given", storage=ObjectStorage("in"))
    derived = Dataset("derived")

    @p.task()
    def derive(x: given) -> derived:
        return x * 2

    (tmp_path / "data" / "in").mkdir(parents=True)
    (tmp_path / "data" / "in" / "given.json").write_text("21")
    result = run(p, tmp_path, targets=[given])
    assert result.tasks == {}
    assert result.outputs == {"given": 21}


def test_existing_storage_is_local_storage_like_any_other(tmp_path: Path) -> None:
    """`existing=True` only changes what a deployment creates: the same files locally."""
    p = Pipeline("existing-locally")
    landing = Dataset("landing", storage=ObjectStorage("partner", prefix="in", existing=True))
    kept = Dataset("kept", storage=ObjectStorage("partner", prefix="out", existing=True))

    @p.task()
    def keep(x: landing) -> kept:
        return x * 2

    (tmp_path / "data" / "partner" / "in").mkdir(parents=True)
    (tmp_path / "data" / "partner" / "in" / "landing.json").write_text("21")
    result = run(p, tmp_path)
    assert result.ok
    assert (tmp_path / "data" / "partner" / "out" / "kept.json").read_text() == "42"


def test_ephemeral_source_is_an_error_before_running(tmp_path: Path) -> None:
    p = Pipeline("ephemeral-source")
    nowhere, out = Dataset("nowhere"), Dataset("out")

    @p.task()
    def consume(x: nowhere) -> out:
        return x

    with pytest.raises(SourceMissingError, match="source dataset `nowhere` has no storage"):
        run(p, tmp_path)


def test_database_source_and_output_in_sqlite(tmp_path: Path) -> None:
    import sqlite3

    data = tmp_path / "data"
    data.mkdir()
    with sqlite3.connect(data / "glacier.sqlite") as conn:
        conn.execute("CREATE TABLE customers (id INTEGER, country TEXT)")
        conn.execute("INSERT INTO customers VALUES (1, 'NL'), (2, 'FR'), (3, 'NL')")

    p = Pipeline("db")
    customers = Dataset("customers", storage=Database())
    counts = Dataset("counts", storage=Database(table="country_counts"))

    @p.task()
    def count(rows: customers) -> counts:
        totals: dict[str, int] = {}
        for row in rows:
            totals[row["country"]] = totals.get(row["country"], 0) + 1
        return [{"country": k, "n": v} for k, v in sorted(totals.items())]

    assert LocalExecutor(data).execute(p).ok
    with sqlite3.connect(data / "glacier.sqlite") as conn:
        assert conn.execute("SELECT country, n FROM country_counts").fetchall() == [
            ("FR", 1),
            ("NL", 2),
        ]


@pytest.mark.slow
def test_database_url_source_and_output_in_postgres(tmp_path: Path, postgres_url: str) -> None:  # noqa: F811
    """`Database(url=...)`: the source is read from and the output written to that server."""
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS exec_customers, exec_counts")
        conn.execute("CREATE TABLE exec_customers (id INT, country TEXT)")
        conn.execute("INSERT INTO exec_customers VALUES (1, 'NL'), (2, 'FR'), (3, 'NL')")

    p = Pipeline("pg")
    customers = Dataset("customers", storage=Database(table="exec_customers", url=postgres_url))
    counts = Dataset("counts", storage=Database(table="exec_counts", url=postgres_url))

    @p.task()
    def count(rows: customers) -> counts:
        totals: dict[str, int] = {}
        for row in rows:
            totals[row["country"]] = totals.get(row["country"], 0) + 1
        return [{"country": k, "n": v} for k, v in sorted(totals.items())]

    data = tmp_path / "data"
    result = LocalExecutor(data).execute(p)
    assert result.ok, result.summary()
    assert result.outputs["counts"] == [{"country": "FR", "n": 1}, {"country": "NL", "n": 2}]
    with psycopg.connect(postgres_url) as conn:
        rows = conn.execute("SELECT country, n FROM exec_counts ORDER BY country").fetchall()
    assert rows == [("FR", 1), ("NL", 2)]
    assert not (data / "glacier.sqlite").exists()  # nothing went to the local SQLite file

    missing = Pipeline("pg-missing")
    absent = Dataset("absent", storage=Database(table="exec_absent", url=postgres_url))

    @missing.task()
    def read_absent(rows: absent) -> None:
        raise AssertionError("must not run")

    with pytest.raises(SourceMissingError, match="table `exec_absent`"):
        LocalExecutor(data).execute(missing)


# -- verbose ----------------------------------------------------------------------------------


def test_silent_by_default_and_verbose_prints_a_line_per_start_and_finish(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = Pipeline("chatty")
    a, b = Dataset("a"), Dataset("b")

    @p.task()
    def first() -> a:
        return 1

    @p.task()
    def second(x: a) -> b:
        raise RuntimeError("nope")

    LocalExecutor(tmp_path).execute(p)
    assert capsys.readouterr() == ("", "")

    LocalExecutor(tmp_path, verbose=True).execute(p)
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert lines[0] == "[chatty] start  first"
    assert lines[1].startswith("[chatty] done   first in ") and lines[1].endswith("s")
    assert lines[2] == "[chatty] start  second"
    assert lines[3].startswith("[chatty] FAILED second in ")
    assert lines[3].endswith("RuntimeError: nope")


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="mode must be 'thread' or 'process'"):
        LocalExecutor(tmp_path, mode="fiber")
    with pytest.raises(UsageError, match="max_workers must be a positive integer"):
        LocalExecutor(tmp_path, max_workers=0)


# -- process mode -----------------------------------------------------------------------------


@pytest.mark.slow
def test_process_mode_runs_tasks_in_other_processes(tmp_path: Path) -> None:
    result = LocalExecutor(tmp_path, mode="process", max_workers=2).execute(proc_pipeline)
    assert result.ok, result.summary()
    summary = result.outputs["proc_summary"]
    assert summary["total"] == 6
    assert os.getpid() not in summary["pids"]
    stored = json.loads((tmp_path / "proc" / "proc_summary.json").read_text())
    assert stored == summary


@pytest.mark.slow
def test_process_mode_runs_independent_tasks_in_parallel_processes(tmp_path: Path) -> None:
    start = time.perf_counter()
    result = LocalExecutor(tmp_path, mode="process", max_workers=2).execute(parallel_pipeline)
    elapsed = time.perf_counter() - start
    assert result.ok, result.summary()
    pids = {result.outputs["left_pid"], result.outputs["right_pid"]}
    assert len(pids) == 2 and os.getpid() not in pids
    assert elapsed < 1.8, f"two 1 s tasks took {elapsed:.2f}s in process mode: no overlap"


@pytest.mark.slow
def test_process_mode_timeout_fails_the_task_and_stops_its_worker(tmp_path: Path) -> None:
    start = time.perf_counter()
    result = LocalExecutor(tmp_path, mode="process", max_workers=2).execute(slow_pipeline)
    assert time.perf_counter() - start < 10  # the 60 s sleeper was terminated, not awaited
    assert result.tasks["proc_sleeper"].status == "failed"
    assert "did not finish within 0.5s" in (result.tasks["proc_sleeper"].error or "")
    assert result.outputs["quick_out"] != os.getpid()


@pytest.mark.slow
def test_process_mode_reports_unpicklable_tasks(tmp_path: Path) -> None:
    p = Pipeline("local-fn")
    out = Dataset("out")

    @p.task()
    def nested() -> out:  # a closure cannot be pickled by reference
        return 1

    result = LocalExecutor(tmp_path, mode="process", max_workers=1).execute(p)
    assert result.tasks["nested"].status == "failed"
    assert "pickle" in (result.tasks["nested"].error or "").lower()


# -- crashes ----------------------------------------------------------------------------------

CRASH_SCRIPT = textwrap.dedent(
    """
    import sys
    from glacier import Dataset, ObjectStorage, Pipeline
    from glacier_local import LocalExecutor

    p = Pipeline("crash")
    small = Dataset("small", storage=ObjectStorage("out"))
    big = Dataset("big", storage=ObjectStorage("out"))

    @p.task()
    def make_small() -> small:
        return {"done": True}

    @p.task()
    def make_big(s: small) -> big:
        return b"x" * int(sys.argv[2])

    result = LocalExecutor(sys.argv[1], max_workers=1).execute(p)
    print(result.ok)
    """
)


@pytest.mark.slow
def test_a_task_killed_mid_write_leaves_no_partial_file(tmp_path: Path) -> None:
    script = tmp_path / "crash.py"
    script.write_text(CRASH_SCRIPT)
    data = tmp_path / "data"
    out = data / "out"
    size = 256 * 1024 * 1024
    child = subprocess.Popen([sys.executable, str(script), str(data), str(size)])
    temporary = None
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline and child.poll() is None:
            if out.is_dir():
                temporary = next((p for p in out.iterdir() if p.name.startswith(".big.bin.")), None)
                if temporary is not None:
                    os.kill(child.pid, signal.SIGKILL)
                    break
            time.sleep(0.0005)
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()
    assert temporary is not None, "the write was not observed; the child finished too early"
    assert child.returncode == -signal.SIGKILL
    names = sorted(p.name for p in out.iterdir())
    assert "big.bin" not in names  # no partial file under the real name
    assert json.loads((out / "small.json").read_text()) == {"done": True}  # finished output kept

    # the next run replaces the leftover temporary with the whole file
    done = subprocess.run(
        [sys.executable, str(script), str(data), "1000"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.stdout.strip() == "True", done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["big.bin", "small.json"]
    assert (out / "big.bin").read_bytes() == b"x" * 1000


# -- the standalone runner's building blocks --------------------------------------------------

EMBEDDED_RUNNER_TAIL = textwrap.dedent(
    """
    import sys

    def extract():
        return [3, 1, 2]

    def order(rows, factor):
        return sorted(rows), [{"r": r, "scaled": r * factor["k"]} for r in rows]

    def broken(rows):
        raise KeyError("missing column")

    def never(x):
        return x

    jobs = [
        Job("extract", extract, (), ("raw",)),
        Job("order", order, (("rows", "raw"), ("factor", "factor")), ("sorted", "scaled")),
        Job("broken", broken, (("rows", "sorted"),), ("bad",), retries=1),
        Job("never", never, (("x", "bad"),), ("nothing",)),
    ]
    store = Store(
        {
            "raw": None,
            "factor": {"kind": "object", "bucket": "in", "prefix": "", "format": None},
            "sorted": {"kind": "object", "bucket": "out", "prefix": "p", "format": None},
            "scaled": {"kind": "database", "table": None, "url": None},
            "bad": None,
            "nothing": None,
        },
        sys.argv[1],
    )
    try:
        run(jobs, store)
    except SourceMissingError as exc:
        print("missing:", exc)
    write(store.storages["factor"], "factor", {"k": 10}, sys.argv[1])
    result = run(jobs, store, max_workers=2)
    print(result.summary())
    heavy = {"glacier", "glacier_local", "pandas", "pyarrow", "psycopg"}
    print("loaded:", sorted(m for m in sys.modules if m.split(".")[0] in heavy))
    """
)


def test_io_and_schedule_embed_into_a_runner_without_glacier(tmp_path: Path) -> None:
    """What the code generator does: both sources verbatim in one script, Glacier absent."""
    import glacier_local._io as io_module
    import glacier_local._schedule as schedule_module

    parts = ["from __future__ import annotations\n"]
    for module in (io_module, schedule_module):
        source = Path(module.__file__).read_text()
        parts.append(source.replace("from __future__ import annotations\n", "", 1))
    parts.append(EMBEDDED_RUNNER_TAIL)
    script = tmp_path / "runner.py"
    script.write_text("\n".join(parts))
    data = tmp_path / "data"
    done = subprocess.run(
        [sys.executable, "-I", "-S", str(script), str(data)],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("missing: source dataset `factor` has nothing stored at ")
    assert "run FAILED: 2 succeeded, 1 failed, 1 skipped" in done.stdout
    assert "KeyError: 'missing column'" in done.stdout
    assert "loaded: []" in done.stdout
    assert json.loads((data / "out" / "p" / "sorted.json").read_text()) == [1, 2, 3]
    import sqlite3

    with sqlite3.connect(data / "glacier.sqlite") as conn:
        assert conn.execute('SELECT r, scaled FROM "scaled"').fetchall() == [
            (3, 30),
            (1, 10),
            (2, 20),
        ]


def test_dataframes_flow_between_tasks_and_from_a_stored_source(tmp_path: Path) -> None:
    """A DataFrame input must not be compared with `==` (its truth value is ambiguous)."""
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    frames = Pipeline("frames")
    landing = Dataset("landing", storage=ObjectStorage("lake"))
    table = Dataset("table")
    total = Dataset("total", storage=ObjectStorage("lake"))

    @frames.task()
    def double(df: landing) -> table:
        return df.assign(x=df["x"] * 2)

    @frames.task()
    def add(df: table) -> total:
        return {"sum": int(df["x"].sum())}

    (tmp_path / "lake").mkdir()
    pd.DataFrame({"x": [1, 2, 3]}).to_parquet(tmp_path / "lake" / "landing.parquet")
    result = LocalExecutor(data_dir=tmp_path, max_workers=1).execute(frames)
    assert result.ok, result.tasks
    assert result.outputs["total"] == {"sum": 12}
    assert list(result.outputs["table"]["x"]) == [2, 4, 6]


# -- payload types, checked at the producer -----------------------------------------------------


def test_a_return_value_of_the_wrong_type_fails_its_producer_once(tmp_path: Path) -> None:
    p = Pipeline("typed")
    numbers = Dataset[list[int]]("numbers", storage=ObjectStorage("b"))
    ratio = Dataset[float]("ratio")
    total = Dataset[int]("total", storage=ObjectStorage("b"))
    calls = {"make": 0}

    @p.task(retries=3, retry_delay_s=0)
    def make() -> numbers:
        calls["make"] += 1
        return 3.5  # type: ignore[return-value]

    @p.task()
    def add(values: numbers) -> total:
        return sum(values)

    @p.task()
    def share() -> ratio:
        return 1  # an int is a float, as for type checkers

    result = LocalExecutor(tmp_path).execute(p)
    assert calls == {"make": 1}  # not retried: the same code returns the same type
    failed = result.tasks["make"]
    assert (failed.status, failed.attempts) == ("failed", 1)
    line = numbers._site.line
    assert (
        f"PayloadTypeError: task `make` returned float for dataset `numbers` declared "
        f"`list[int]` at tests/test_local_executor.py:{line}"
    ) in (failed.error or "")
    assert result.tasks["add"].status == "skipped"
    assert result.tasks["share"].status == "succeeded"
    assert not (tmp_path / "b" / "numbers.json").exists()  # nothing stored

    unchecked = Pipeline("unchecked", check_payloads=False)
    loose = Dataset[list[int]]("loose")

    @unchecked.task()
    def anything() -> loose:
        return 3.5  # type: ignore[return-value]

    assert LocalExecutor(tmp_path).execute(unchecked).outputs["loose"] == 3.5


def test_payload_classes_are_the_runtime_classes_of_a_payload_type() -> None:
    import collections.abc
    import typing

    from glacier_local._schedule import payload_classes

    assert payload_classes(list[dict[str, int]]) == (list,)
    assert payload_classes(typing.Dict[str, int]) == (dict,)  # noqa: UP006
    assert payload_classes(collections.abc.Mapping[str, int]) == (collections.abc.Mapping,)
    assert payload_classes(int | None) == (int, type(None))
    assert payload_classes(typing.Annotated[str, "why"]) == (str,)
    assert payload_classes(float) == (float, int)
    for unchecked in (typing.Any, typing.TypeVar("T"), typing.Literal["a"], int | typing.Any):
        assert payload_classes(unchecked) is None


# -- every reader gets its own copy -------------------------------------------------------------


def test_a_task_that_changes_its_input_in_place_changes_nothing_a_sibling_sees(
    tmp_path: Path,
) -> None:
    def pipeline(copy: bool) -> Pipeline:
        p = Pipeline("mutations")
        rows = Dataset("rows", storage=ObjectStorage("b"), copy=copy)
        counted, kept = Dataset("counted"), Dataset("kept")
        tries = {"n": 0}

        @p.task()
        def make() -> rows:
            return [{"n": 1}, {"n": 2}]

        @p.task(retries=1, retry_delay_s=0)
        def a_mutate(values: rows) -> counted:  # runs first: ties go by name
            values.append({"n": 3})
            values[0]["n"] = 100
            tries["n"] += 1
            if tries["n"] == 1:
                raise RuntimeError("its retry must see the input unchanged too")
            return len(values)

        @p.task()
        def b_sibling(values: rows) -> kept:
            return values

        return p

    copied = LocalExecutor(tmp_path / "copied", max_workers=1).execute(pipeline(copy=True))
    assert copied.ok, copied.summary()
    assert copied.outputs["counted"] == 3  # the retry saw two rows again
    assert copied.outputs["kept"] == [{"n": 1}, {"n": 2}]
    assert copied.outputs["rows"] == [{"n": 1}, {"n": 2}]
    assert json.loads((tmp_path / "copied" / "b" / "rows.json").read_text()) == [
        {"n": 1},
        {"n": 2},
    ]

    shared = LocalExecutor(tmp_path / "shared", max_workers=1).execute(pipeline(copy=False))
    assert shared.outputs["counted"] == 4  # the opt-out: one object, changed twice
    assert shared.outputs["kept"][0] == {"n": 100}


def test_own_copy_copies_frames_with_their_copy_method_and_shares_what_cannot_be_copied(
    tmp_path: Path,
) -> None:
    from glacier_local._schedule import own_copy

    class Frame:  # stands in for pandas.DataFrame: `own_copy` never imports pandas
        copies = 0

        def copy(self) -> "Frame":
            Frame.copies += 1
            return Frame()

    Frame.__module__ = "pandas.core.frame"
    frame = Frame()
    assert own_copy(frame) is not frame and Frame.copies == 1
    text, nested = "abc", {"a": [1]}
    assert own_copy(text) is text
    assert own_copy(nested) == nested and own_copy(nested)["a"] is not nested["a"]

    p = Pipeline("uncopyable")
    lock, used = Dataset("lock"), Dataset("used")

    @p.task()
    def make_lock() -> lock:
        return threading.Lock()

    @p.task()
    def use(value: lock) -> used:
        return value

    log: list[str] = []
    result = LocalExecutor(tmp_path, log=log.append).execute(p)
    assert result.ok and result.outputs["used"] is result.outputs["lock"]
    assert any(line.startswith("note   `lock` is shared with `use`, not copied") for line in log)
