"""The generated runner's fixed code, tested as the module it is kept in
(``codegen/embedded/run_local.py``): planning, arguments, the run store, loading carried code.

Each test fills in the pipeline the template would write (``TASKS``, ``DATASETS``...) on the
module; the end-to-end runs of generated runners are in ``test_runner.py``.
"""

from __future__ import annotations

import json
import os
import pickle
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import codegen.embedded.run_local as runner
from codegen._runner import runtime_sources
from glacier_local import _io


def _task(name: str, inputs: dict[str, str], outputs: list[str]) -> dict[str, Any]:
    return {
        "name": name,
        "module": "tiny_tasks",
        "function": name,
        "inputs": list(inputs.items()),
        "outputs": outputs,
        "returns_tuple": len(outputs) > 1,
        "retries": 0,
        "timeout": None,
        "retry_delay_s": 2.0,
        "backoff": 2.0,
        "retry_on": [],
        "fingerprint": None,  # no code fingerprint: never reused from an earlier run
        "parameters": [],
    }


# raw (a source) -> extract -> rows -> clean -> cleaned -> report -> summary
#                              rows -> stats -> counts --^                 ; audit reads raw
TASKS = [
    _task("extract", {"source": "raw"}, ["rows"]),
    _task("audit", {"source": "raw"}, []),
    _task("clean", {"rows": "rows"}, ["cleaned"]),
    _task("stats", {"rows": "rows"}, ["counts"]),
    _task("report", {"cleaned": "cleaned", "counts": "counts"}, ["summary"]),
]
STORED = {"kind": "object", "bucket": "lake", "prefix": "in", "format": "json"}
DATASETS: dict[str, dict[str, Any] | None] = {
    "raw": STORED,
    "rows": None,
    "cleaned": None,
    "counts": None,
    "summary": {"kind": "object", "bucket": "lake", "prefix": "out", "format": None},
}


@pytest.fixture(autouse=True)
def pipeline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "PIPELINE", "sales")
    monkeypatch.setattr(runner, "BUILD_DIR", "sales")
    monkeypatch.setattr(runner, "TASKS", TASKS)
    monkeypatch.setattr(runner, "DATASETS", DATASETS)


def _names(tasks: list[dict[str, Any]] | None) -> list[str]:
    assert tasks is not None
    return [task["name"] for task in tasks]


# -- planning ----------------------------------------------------------------------------------


def test_producers_map_each_output_to_its_task() -> None:
    assert runner._producers() == {
        "rows": "extract",
        "cleaned": "clean",
        "counts": "stats",
        "summary": "report",
    }


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        ("extract", {"extract", "clean", "stats", "report"}),
        ("clean", {"clean", "report"}),
        ("report", {"report"}),
        ("audit", {"audit"}),  # a sink: only itself
    ],
)
def test_downstream_is_the_task_and_everything_that_depends_on_it(
    start: str, expected: set[str]
) -> None:
    assert runner._downstream(start) == expected


def test_downstream_of_a_long_chain_needs_no_recursion(monkeypatch: pytest.MonkeyPatch) -> None:
    chain = [_task(f"t{i}", {"x": f"d{i}"} if i else {}, [f"d{i + 1}"]) for i in range(20_000)]
    monkeypatch.setattr(runner, "TASKS", chain)
    assert len(runner._downstream("t0")) == 20_000


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], ["extract", "audit", "clean", "stats", "report"]),
        (["--only", "report", "--only", "extract"], ["extract", "report"]),  # pipeline order
        (["--from", "clean"], ["clean", "report"]),
    ],
)
def test_selected_tasks_keep_the_topological_order(argv: list[str], expected: list[str]) -> None:
    assert _names(runner._selected(runner._arguments(argv))) == expected


def test_an_unknown_task_is_named_with_the_known_ones(capsys: pytest.CaptureFixture[str]) -> None:
    assert runner._selected(runner._arguments(["--from", "nope"])) is None
    assert capsys.readouterr().err == (
        "error: pipeline 'sales' has no task 'nope'; tasks: extract, audit, clean, stats, report\n"
    )


def test_not_chosen_and_external_inputs_of_a_partial_run() -> None:
    tasks = [task for task in TASKS if task["name"] in ("clean", "report")]
    assert runner._not_chosen(tasks) == ["extract", "audit", "stats"]
    # first-use order; `cleaned` is produced by a chosen task
    assert runner._external_inputs(tasks) == ["rows", "counts"]


# -- arguments ---------------------------------------------------------------------------------


def test_arguments_default_to_a_whole_run_in_the_usual_data_dir() -> None:
    args = runner._arguments([])
    assert (args.data_dir, args.workers, args.only, args.from_task) == (
        ".glacier/data",
        None,
        None,
        None,
    )
    assert not args.dry_run and not args.list


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--workers", "0"], "--workers must be at least 1"),
        (["--only", "clean", "--from", "extract"], "not allowed with argument"),
        (["--workers", "two"], "invalid int value"),
    ],
)
def test_bad_arguments_are_usage_errors(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        runner._arguments(argv)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


# -- the run store -----------------------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> tuple[runner._RunStore, list[str]]:
    notes: list[str] = []
    return runner._RunStore(_io, str(tmp_path), notes.append), notes


def test_stored_datasets_go_to_their_storage(store, tmp_path: Path) -> None:
    run_store, _ = store
    assert not run_store.exists("raw")
    run_store.write("raw", {"n": 1})
    assert (tmp_path / "lake" / "in" / "raw.json").read_text() == '{"n": 1}'
    assert run_store.exists("raw") and run_store.read("raw") == {"n": 1}
    run_store.forget("raw")  # never drops a stored dataset
    assert run_store.exists("raw")


def test_ephemeral_outputs_are_kept_as_pickles_for_from(store, tmp_path: Path) -> None:
    run_store, notes = store
    assert run_store.persistent("rows")  # to the scheduler, every dataset is kept
    run_store.write("rows", [1, 2, 3])
    kept = tmp_path / runner.RESUME_BUCKET / "sales" / "rows.pkl"
    assert pickle.loads(kept.read_bytes()) == [1, 2, 3]
    assert run_store.exists("rows") and run_store.location("rows") == str(kept)
    assert run_store.read("rows") == [1, 2, 3]
    run_store.forget("rows")
    assert not kept.exists() and not run_store.exists("rows")
    assert notes == []


def test_an_unpicklable_output_only_costs_the_resume(store) -> None:
    run_store, notes = store
    assert run_store.write("rows", threading.Lock()) is None
    assert not run_store.exists("rows")
    (note,) = notes
    assert note.startswith("note   `rows` is not kept for --from (TypeError: ")


def test_a_name_that_cannot_be_a_file_is_never_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner, "DATASETS", {**DATASETS, "a/b": None})
    run_store = runner._RunStore(_io, str(tmp_path), print)
    assert not run_store.exists("a/b")
    assert run_store.location("a/b") == "<not kept: dataset name `a/b` cannot be a file name>"
    run_store.forget("a/b")  # nothing to drop, no error


def test_a_resume_without_the_kept_input_names_what_to_run_first(store) -> None:
    run_store, _ = store
    tasks = [task for task in TASKS if task["name"] == "clean"]
    (problem,) = runner._missing_resume(run_store, tasks)
    assert problem.startswith("dataset 'rows' is ephemeral (output of task 'extract') and no ")
    assert problem.endswith("run the whole pipeline, or --from 'extract', first")
    run_store.write("rows", [1])
    assert runner._missing_resume(run_store, tasks) == []


# -- listing and planning output ----------------------------------------------------------------


def test_list_shows_every_task_with_what_it_reads_and_writes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert runner.main(["--list"]) == 0  # before anything is installed or imported
    assert capsys.readouterr().out.splitlines() == [
        "pipeline 'sales': 5 tasks in topological order",
        "  extract  reads raw  writes rows",
        "  audit    reads raw  writes -",
        "  clean    reads rows  writes cleaned",
        "  stats    reads rows  writes counts",
        "  report   reads cleaned, counts  writes summary",
    ]


def test_the_plan_says_where_each_input_comes_from(
    store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_store, _ = store
    run_store.write("rows", [1])
    tasks = [task for task in TASKS if task["name"] in ("stats", "report", "clean")]
    runner._print_plan(run_store, tasks, "data", {"stats": "2m"}, {})
    kept = tmp_path / runner.RESUME_BUCKET / "sales"
    assert capsys.readouterr().out.splitlines() == [
        "pipeline 'sales': 2 of 5 tasks would run, 1 cached (data dir data)",
        "  1. clean",
        f"       reads  rows as rows from {kept / 'rows.pkl'}",
        "       writes cleaned to memory",
        "  2. stats  (cached: output from 2m ago)",
        f"       reads  rows as rows from {kept / 'rows.pkl'}",
        "       writes counts to memory",
        "  3. report",
        "       reads  cleaned as cleaned from this run",
        "       reads  counts as counts from this run",
        f"       writes summary to {tmp_path / 'lake' / 'out' / 'summary.*'}",
        "  not run: extract, audit",
    ]


# -- a whole run in-process: the carried code is imported from the runner itself ----------------

TASK_CODE = """\
def extract(source: raw) -> rows:  # `raw` and `rows` are left out of the slice
    return [n * 2 for n in source["n"]]


def audit(source: raw) -> None:
    assert source["n"]


def clean(rows: rows) -> cleaned:
    return [n for n in rows if n > 2]


def stats(rows: rows) -> counts:
    return len(rows)


def report(cleaned: cleaned, counts: counts) -> summary:
    return {"kept": cleaned, "of": counts, "file": __file__}
"""


@pytest.fixture
def isolated_imports() -> Iterator[None]:
    """``_install`` edits sys.path and sys.meta_path and imports the embedded modules."""
    path, meta_path = list(sys.path), list(sys.meta_path)
    before = set(sys.modules)
    try:
        yield
    finally:
        sys.path[:], sys.meta_path[:] = path, meta_path
        for name in set(sys.modules) - before:
            if name in ("tiny_tasks", "_glacier_io", "_glacier_schedule"):
                del sys.modules[name]


def test_main_runs_the_carried_code_and_resumes_from_a_task(
    isolated_imports: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(runner, "HERE", str(tmp_path / "build" / "sales"))
    monkeypatch.setattr(
        runner, "MODULES", {"tiny_tasks": ("../../tiny_tasks.py", False, TASK_CODE)}
    )
    monkeypatch.setattr(runner, "RUNTIME", runtime_sources())
    data = tmp_path / "data"
    (data / "lake" / "in").mkdir(parents=True)
    (data / "lake" / "in" / "raw.json").write_text('{"n": [1, 2, 3]}')

    assert runner.main(["--data-dir", str(data), "--workers", "1"]) == 0
    summary = _io.read(DATASETS["summary"], "summary", str(data))
    assert summary == {"kept": [4, 6], "of": 3, "file": str(tmp_path / "tiny_tasks.py")}
    first = capsys.readouterr().out.splitlines()[0]
    (kept,) = (data / ".glacier-run" / "sales").glob("2*")  # the run's record
    assert first == f"pipeline 'sales' (data dir {data}, run {kept.name})"
    record = json.loads((kept / "run.json").read_text())
    assert record["runner"] == "run_local.py" and record["status"] == "succeeded"
    assert [t["status"] for t in record["tasks"]] == ["succeeded"] * 5

    (data / "lake" / "in" / "raw.json").write_text('{"n": [5]}')  # only `extract` reads it
    assert runner.main(["--data-dir", str(data), "--from", "clean"]) == 0
    out = capsys.readouterr().out
    assert "not run (earlier outputs reused): extract, audit, stats" in out
    assert _io.read(DATASETS["summary"], "summary", str(data))["kept"] == [4, 6]
    assert os.path.normpath(runner.HERE) not in map(os.path.normpath, sys.path)
