"""The standalone runner: valid code, runs without glacier, same outputs as LocalExecutor."""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from _codegen_support import (
    EXAMPLE_DATA,
    analyze_paths,
    copy_examples,
    glacier_is_importable,
    run_isolated,
    write_project,
)

import glacier
from codegen import build as build_artifacts
from codegen import write_tree

pytestmark = pytest.mark.slow


def _build(root: Path, *paths: str) -> tuple[Any, dict[str, Path]]:
    analysis = analyze_paths(*(root / p for p in paths))
    assert not [d for d in analysis.diagnostics if d.severity == "error"], analysis.diagnostics
    out = root / "build"
    artifacts, clashes = build_artifacts(
        analysis.pipelines, analysis.modules, out_dir=str(out), version=glacier.__version__
    )
    assert not clashes
    write_tree(str(out), artifacts)
    runners = {a.pipeline: out / a.dir_name / "run_local.py" for a in artifacts}
    return analysis, runners


@pytest.fixture(scope="module")
def examples(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any, dict[str, Path]]:
    root = copy_examples(tmp_path_factory.mktemp("examples"))
    analysis, runners = _build(root, "examples")
    return root, analysis, runners


def test_generated_python_compiles_passes_ruff_and_is_formatted(examples) -> None:
    _root, _, runners = examples
    for runner in runners.values():
        compile(runner.read_text(), str(runner), "exec")
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", *map(str, runners.values())],
        cwd=Path(glacier.__file__).parents[1],  # the project's own ruff settings
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    formatted = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", *map(str, runners.values())],
        cwd=Path(glacier.__file__).parents[1],
        capture_output=True,
        text=True,
        check=False,
    )
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr


def test_the_isolated_interpreter_cannot_import_glacier(tmp_path: Path) -> None:
    assert not glacier_is_importable(tmp_path)


def test_list_and_dry_run_run_nothing(examples, tmp_path: Path) -> None:
    _root, _, runners = examples
    listed = run_isolated(tmp_path, runners["orders"], "--list", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0] == "pipeline 'orders': 5 tasks in topological order"
    assert lines[1].split()[0] == "validate"
    plan = run_isolated(tmp_path, runners["orders"], "--dry-run", "--data-dir", "d", cwd=tmp_path)
    assert plan.returncode == 0, plan.stderr
    assert "5 of 5 tasks would run" in plan.stdout
    assert "raw_orders.json (MISSING)" in plan.stdout
    assert not (tmp_path / "d").exists()


PARAMETERISED = """\
from glacier import Dataset, ObjectStorage, Pipeline

pipeline = Pipeline(name="plan")
lake = ObjectStorage(bucket="lake")
first = Dataset(name="first", storage=lake)
second = Dataset(name="second", storage=lake)


@pipeline.task()
def make(n: int = 3) -> first:
    return list(range(n))


@pipeline.task()
def total(values: first, scale: float = 1.0) -> second:
    return sum(values) * scale
"""


def test_dry_run_says_which_tasks_are_cached_and_the_parameters(tmp_path: Path) -> None:
    root = write_project(tmp_path, {"plan.py": PARAMETERISED})
    _, runners = _build(root, "plan.py")
    runner = runners["plan"]

    def plan(*args: str) -> list[str]:
        result = run_isolated(tmp_path, runner, "--dry-run", *args, cwd=root)
        assert result.returncode == 0, result.stderr
        return result.stdout.splitlines()

    before = plan("--param", "total.scale=2")
    assert before[0] == "pipeline 'plan': 2 of 2 tasks would run (data dir .glacier/data)"
    assert before[1:3] == ["  1. make", "       param  n: int = 3 (default)"]
    assert "       param  scale: float = 2.0 (set)" in before
    assert not (root / ".glacier").exists()  # a plan writes nothing

    ran = run_isolated(tmp_path, runner, cwd=root)
    assert ran.returncode == 0, ran.stderr
    after = plan()
    assert after[0] == "pipeline 'plan': 0 of 2 tasks would run, 2 cached (data dir .glacier/data)"
    assert after[1] == "  1. make  (cached: output from 0s ago)"
    # a parameter the last run did not have: that task and what reads its output run
    changed = plan("--param", "n=5")
    assert changed[0] == "pipeline 'plan': 2 of 2 tasks would run (data dir .glacier/data)"
    only_total = plan("--param", "scale=3")
    assert only_total[0] == (
        "pipeline 'plan': 1 of 2 tasks would run, 1 cached (data dir .glacier/data)"
    )
    assert "  2. total" in only_total
    forced = plan("--force", "make")
    assert forced[0].startswith("pipeline 'plan': 1 of 2 tasks would run, 1 cached")
    # what the plan said is what a run does
    real = run_isolated(tmp_path, runner, "--param", "scale=3", cwd=root)
    assert real.returncode == 0, real.stderr
    assert re.search(r"^make +cached ", real.stdout, re.MULTILINE)
    assert re.search(r"^total +succeeded ", real.stdout, re.MULTILINE)


def test_a_missing_source_fails_before_any_task(examples, tmp_path: Path) -> None:
    _, _, runners = examples
    result = run_isolated(tmp_path, runners["orders"], "--data-dir", "empty", cwd=tmp_path)
    assert result.returncode == 1
    assert "source dataset `raw_orders` has nothing stored" in result.stderr
    assert "start" not in result.stderr


def test_unknown_task_is_a_usage_error(examples, tmp_path: Path) -> None:
    _, _, runners = examples
    result = run_isolated(tmp_path, runners["etl"], "--only", "nope", cwd=tmp_path)
    assert result.returncode == 2
    assert "has no task 'nope'" in result.stderr


# -- the differential test --------------------------------------------------------------------

LOCAL_EXECUTOR = """\
import importlib, pickle, sys
from glacier_local import LocalExecutor

examples, data_dir, dump, pipeline_module, variable, *task_modules = sys.argv[1:]
sys.path.insert(0, examples)
for name in task_modules:
    importlib.import_module(name)
pipeline = getattr(importlib.import_module(pipeline_module), variable)
result = LocalExecutor(data_dir=data_dir, max_workers=1).execute(pipeline)
with open(dump, "wb") as fh:
    pickle.dump({"ok": result.ok, "outputs": result.outputs}, fh)
"""


def _stored(data_dir: Path) -> dict[str, Any]:
    """Every stored dataset under ``data_dir``: file bytes, or the rows of each SQLite table."""
    found: dict[str, Any] = {}
    for path in sorted(data_dir.rglob("*")):
        rel = path.relative_to(data_dir).as_posix()
        if not path.is_file() or rel.startswith(".glacier-run/"):
            continue
        if path.suffix == ".sqlite":
            with sqlite3.connect(path) as db:
                tables = [
                    r[0]
                    for r in db.execute(
                        "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY 1"
                    )
                ]
                for table in tables:
                    rows = db.execute(f'SELECT * FROM "{table}"').fetchall()
                    found[f"{rel}:{table}"] = sorted(map(repr, rows))
        else:
            found[rel] = path.read_bytes()
    return found


@pytest.mark.parametrize("pipeline", ["archive", "etl", "orders", "sales"])
def test_runner_and_local_executor_give_the_same_outputs(examples, tmp_path, pipeline) -> None:
    root, analysis, runners = examples
    model = next(p for p in analysis.pipelines if p.name == pipeline)
    runtime_dir, runner_dir = tmp_path / "runtime", tmp_path / "runner"
    shutil.copytree(EXAMPLE_DATA, runtime_dir)
    shutil.copytree(EXAMPLE_DATA, runner_dir)
    inputs = _stored(runtime_dir)

    dump = tmp_path / "runtime.pickle"
    task_modules = sorted({t.module for t in model.tasks})
    runtime = subprocess.run(
        [
            sys.executable,
            "-c",
            LOCAL_EXECUTOR,
            str(root / "examples"),
            str(runtime_dir),
            str(dump),
            model.module,
            model.variable,
            *task_modules,
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert runtime.returncode == 0, runtime.stderr
    with open(dump, "rb") as fh:
        expected = pickle.load(fh)
    assert expected["ok"]

    run = run_isolated(tmp_path, runners[pipeline], "--data-dir", str(runner_dir), cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "run ok" in run.stdout

    stored = _stored(runner_dir)
    assert stored == _stored(runtime_dir)
    produced_stored = [
        d for d in model.datasets if d.storage is not None and d.name in model.producers()
    ]
    assert len(set(stored) - set(inputs)) >= len(produced_stored) > 0 or not produced_stored
    # ephemeral outputs: the runner keeps them for --from; they equal the runtime's values
    resume = runner_dir / ".glacier-run" / pipeline
    for dataset in model.datasets:
        if dataset.storage is None and dataset.name in model.producers():
            with open(resume / f"{dataset.name}.pkl", "rb") as fh:
                assert pickle.load(fh) == expected["outputs"][dataset.name], dataset.name


# -- failure, then resume ---------------------------------------------------------------------

FLAKY = """\
import os

from glacier import Dataset, ObjectStorage, Pipeline

pipeline = Pipeline(name="flaky")
out = ObjectStorage(bucket="out")
numbers = Dataset(name="numbers")
doubled = Dataset(name="doubled")
total = Dataset(name="total", storage=out)
side = Dataset(name="side", storage=out)


def note(task):
    with open("calls.log", "a") as fh:
        fh.write(task + "\\n")


@pipeline.task()
def make() -> numbers:
    note("make")
    return [1, 2, 3]


@pipeline.task()
def double(values: numbers) -> doubled:
    note("double")
    if os.path.exists("FAIL"):
        raise RuntimeError("asked to fail")
    return [v * 2 for v in values]


@pipeline.task()
def add(values: doubled) -> total:
    note("add")
    return sum(values)


@pipeline.task()
def other(values: numbers) -> side:
    note("other")
    return len(values)
"""


def test_failure_then_from_completes_without_rerunning_finished_tasks(tmp_path: Path) -> None:
    root = write_project(tmp_path, {"flaky.py": FLAKY})
    _, runners = _build(root, "flaky.py")
    work = tmp_path / "work"
    work.mkdir()
    (work / "FAIL").write_text("")

    first = run_isolated(tmp_path, runners["flaky"], "--workers", "1", cwd=work)
    assert first.returncode == 1
    status = {line.split()[0]: line.split()[1] for line in first.stdout.splitlines()[2:6]}
    assert status == {
        "make": "succeeded",
        "double": "failed",
        "add": "skipped",
        "other": "succeeded",
    }
    assert "RuntimeError: asked to fail" in first.stdout
    line = FLAKY.splitlines().index('        raise RuntimeError("asked to fail")') + 1
    # the traceback points at the user's own file and line: slicing moves no line
    assert f'flaky.py", line {line}, in double' in first.stdout
    assert not (work / ".glacier" / "data" / "out" / "total.json").exists()

    (work / "FAIL").unlink()
    second = run_isolated(tmp_path, runners["flaky"], "--from", "double", cwd=work)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "not run (earlier outputs reused): make, other" in second.stdout
    assert (work / "calls.log").read_text().split() == ["make", "double", "other", "double", "add"]
    data = work / ".glacier" / "data" / "out"
    assert json.loads((data / "total.json").read_text()) == 12
    assert json.loads((data / "side.json").read_text()) == 3


def test_from_says_when_an_ephemeral_input_was_never_kept(tmp_path: Path) -> None:
    root = write_project(tmp_path, {"flaky.py": FLAKY})
    _, runners = _build(root, "flaky.py")
    result = run_isolated(tmp_path, runners["flaky"], "--from", "add", cwd=tmp_path)
    assert result.returncode == 1
    assert "dataset 'doubled' is ephemeral (output of task 'double')" in result.stderr
    assert not (tmp_path / "calls.log").exists()


def test_only_runs_one_task_with_stored_inputs(tmp_path: Path) -> None:
    root = write_project(tmp_path, {"flaky.py": FLAKY})
    _, runners = _build(root, "flaky.py")
    assert run_isolated(tmp_path, runners["flaky"], cwd=tmp_path).returncode == 0
    os.unlink(tmp_path / "calls.log")
    result = run_isolated(tmp_path, runners["flaky"], "--only", "add", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "calls.log").read_text().split() == ["add"]


def test_a_runner_says_when_the_sources_beside_it_changed(tmp_path: Path) -> None:
    """The runner carries the code it was built from: after an edit of its source file it
    warns (and runs what it carries); `--strict` refuses, exit 2, running nothing."""
    root = write_project(tmp_path, {"flaky.py": FLAKY})
    _, runners = _build(root, "flaky.py")
    fresh = run_isolated(tmp_path, runners["flaky"], cwd=tmp_path)
    assert fresh.returncode == 0 and "sources changed" not in fresh.stderr
    source = root / "flaky.py"
    source.write_text(source.read_text() + "\n# edited\n")
    os.unlink(tmp_path / "calls.log")
    warned = run_isolated(tmp_path, runners["flaky"], "--force", cwd=tmp_path)
    assert warned.returncode == 0, warned.stderr
    changed = os.path.relpath(source, tmp_path)
    assert (
        f"[flaky] warning: the sources changed since this runner was built ({changed}); it "
        "runs the code it carries: rebuild it (glacier build) to run the current code"
    ) in warned.stderr
    assert (tmp_path / "calls.log").exists()
    os.unlink(tmp_path / "calls.log")
    refused = run_isolated(tmp_path, runners["flaky"], "--strict", cwd=tmp_path)
    assert refused.returncode == 2
    assert refused.stderr.startswith("error: the sources changed since this runner was built")
    assert not (tmp_path / "calls.log").exists()
    _build(root, "flaky.py")  # rebuilt: current again
    again = run_isolated(tmp_path, runners["flaky"], "--strict", cwd=tmp_path)
    assert again.returncode == 0 and "sources changed" not in again.stderr


# -- glacier run ------------------------------------------------------------------------------


def test_glacier_run_builds_into_dot_glacier_and_runs(tmp_path: Path) -> None:
    root = copy_examples(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "glacier_cli", "run", "examples/layer1_local.py", "--workers", "2"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "run ok: 2 succeeded" in result.stdout
    assert (root / ".glacier" / "build" / "etl" / "run_local.py").exists()
    failed = subprocess.run(
        [sys.executable, "-m", "glacier_cli", "run", "examples/orders", "--data-dir", "nowhere"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert failed.returncode == 1
    assert "raw_orders" in failed.stderr


def test_glacier_run_without_a_path_runs_the_configured_pipeline(tmp_path: Path) -> None:
    """As `check`, `build`, `plan` and `graph` do: `[tool.glacier] pipelines`."""
    root = copy_examples(tmp_path)
    pyproject = root / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text() + '\n[tool.glacier]\npipelines = ["examples/layer1_local.py"]\n'
    )
    result = subprocess.run(
        [sys.executable, "-m", "glacier_cli", "run"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "run ok: 2 succeeded" in result.stdout


# -- task code: packages, relative imports, helpers, annotations -----------------------------

SHOP = {
    "shop/__init__.py": "",
    "shop/util.py": (
        "# a helper module that never mentions the framework: carried all the same\n"
        "def double(values):\n"
        "    return [v * 2 for v in values]\n"
    ),
    "shop/late.py": "# imported only at run time: found next to the sources\nOFFSET = 100\n",
    "shop/decls.py": (
        "from glacier import Dataset, Pipeline\n"
        "\n"
        "pipeline = Pipeline(name='shop')\n"
        "numbers = Dataset[list[int]](name='numbers')\n"
        "\n"
        "\n"
        "def scale():\n"
        "    return 10\n"
    ),
    "shop/flow.py": (
        "import importlib\n"
        "import json\n"
        "from glacier import Dataset, ObjectStorage\n"
        "from . import util\n"
        "from .decls import numbers, pipeline, scale\n"
        "\n"
        "result = Dataset(name='result', storage=ObjectStorage(bucket='out'))\n"
        "\n"
        "\n"
        "@pipeline.task(retries=1)\n"
        "def make() -> numbers:\n"
        "    return [1, 2, 3]\n"
        "\n"
        "\n"
        "@pipeline.task()\n"
        "def finish(values: numbers) -> result:\n"
        "    # no `from __future__ import annotations` here: the runner must never evaluate\n"
        "    # the dataset annotations, whose names it leaves out\n"
        "    late = importlib.import_module('shop.late')\n"
        "    return json.loads(json.dumps(util.double(values))) + [scale(), late.OFFSET]\n"
    ),
}


def test_packages_relative_imports_and_helper_modules_run(tmp_path: Path) -> None:
    root = write_project(tmp_path, SHOP)
    analysis, runners = _build(root, "shop")
    flow = analysis.modules["shop.flow"]
    assert [s.drop_names for s in flow.statements if s.drop_names] == [("numbers", "pipeline")]
    text = runners["shop"].read_text()
    assert "from .decls import scale  # glacier build: left out numbers, pipeline" in text
    assert '    "shop.util": (\n' in text  # imported by task code: carried, no glacier in it
    assert '"shop.late"' not in text  # only imported at run time, from the project's directory
    result = run_isolated(tmp_path, runners["shop"], cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    stored = tmp_path / ".glacier" / "data" / "out" / "result.json"
    assert json.loads(stored.read_text()) == [2, 4, 6, 10, 100]


def test_a_task_registered_by_a_call_runs(tmp_path: Path) -> None:
    """The runner runs what the executor runs: a call-registered task is not skipped."""
    files = {
        "flows/__init__.py": "",
        "flows/decls.py": (
            "from glacier import Dataset, ObjectStorage\n\n"
            "numbers = Dataset(name='numbers')\n"
            "doubled = Dataset(name='doubled', storage=ObjectStorage(bucket='out'))\n"
        ),
        "flows/steps.py": (
            "# a plain function: registered as a task by a call in another module\n"
            "from flows.decls import doubled, numbers\n\n\n"
            "def double(values: numbers) -> doubled:\n"
            "    return [v * 2 for v in values]\n"
        ),
        "flows/flow.py": (
            "from glacier import Pipeline\n"
            "from flows.decls import numbers\n"
            "from flows.steps import double\n"
            "\n"
            "pipeline = Pipeline(name='registered')\n"
            "\n"
            "\n"
            "def make() -> numbers:\n"
            "    return [1, 2, 3]\n"
            "\n"
            "\n"
            "pipeline.task(name='make_numbers')(make)\n"
            "pipeline.task()(double)\n"
        ),
    }
    root = write_project(tmp_path, files)
    analysis, runners = _build(root, "flows")
    assert sorted(t.name for t in analysis.pipelines[0].tasks) == ["double", "make_numbers"]
    result = run_isolated(tmp_path, runners["registered"], cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    stored = tmp_path / ".glacier" / "data" / "out" / "doubled.json"
    assert json.loads(stored.read_text()) == [2, 4, 6]


ODD = """\
import threading

from glacier import Dataset, ObjectStorage, Pipeline

pipeline = Pipeline(name="odd \\"names\\"")
lock = Dataset(name="a/b")
quoted = Dataset(name='it\\'s "quoted"')
kept = Dataset(name="kept", storage=ObjectStorage(bucket="out"))


@pipeline.task(name="make a lock")
def make() -> lock:
    return threading.Lock()  # cannot be pickled: not kept for --from, the run goes on


@pipeline.task(name="class")
def use(value: lock) -> quoted:
    return type(value).__name__


@pipeline.task()
def keep(text: quoted) -> kept:
    return text
"""


def test_odd_names_and_unpicklable_values_run(tmp_path: Path) -> None:
    root = write_project(tmp_path, {"odd.py": ODD})
    _, runners = _build(root, "odd.py")
    runner = runners['odd "names"']
    assert runner.parent.name == "odd_names"
    result = run_isolated(tmp_path, runner, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "note   `a/b` is not kept for --from" in result.stderr
    assert json.loads((tmp_path / ".glacier" / "data" / "out" / "kept.json").read_text()) == "lock"
    resumed = run_isolated(tmp_path, runner, "--from", "keep", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    blocked = run_isolated(tmp_path, runner, "--from", "class", cwd=tmp_path)
    assert blocked.returncode == 1
    assert "dataset 'a/b' is ephemeral (output of task 'make a lock')" in blocked.stderr


# -- retries and parallel workers reach the runner's scheduler ---------------------------------

BUSY = """\
import os
import threading

from glacier import Dataset, ObjectStorage, Pipeline

pipeline = Pipeline(name="busy")
out = ObjectStorage(bucket="out")
left = Dataset(name="left", storage=out)
right = Dataset(name="right", storage=out)
settled = Dataset(name="settled", storage=out)

# both branches must be running at once to get past it
MEET = threading.Barrier(2, timeout=5)


@pipeline.task()
def meet_left() -> left:
    MEET.wait()
    return "left"


@pipeline.task()
def meet_right() -> right:
    MEET.wait()
    return "right"


@pipeline.task(retries=1, retry_delay_s=0.01)
def settle() -> settled:
    if not os.path.exists("tried"):
        open("tried", "w").close()
        raise RuntimeError("first attempt fails")
    return "second attempt"
"""


def _statuses(stdout: str) -> dict[str, tuple[str, int]]:
    """``task: (status, attempts)`` from the runner's summary table."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:2] == ["task", "status"])
    found = {}
    for line in lines[start + 1 :]:
        parts = line.split()
        if len(parts) != 4:
            break
        found[parts[0]] = (parts[1], int(parts[2]))
    return found


def test_runner_retries_failed_attempts_and_runs_branches_in_parallel(tmp_path: Path) -> None:
    root = write_project(tmp_path, {"busy.py": BUSY})
    _, runners = _build(root, "busy.py")
    parallel, sequential = tmp_path / "parallel", tmp_path / "sequential"
    parallel.mkdir()
    sequential.mkdir()

    run = run_isolated(tmp_path, runners["busy"], "--workers", "3", cwd=parallel)
    assert run.returncode == 0, run.stdout + run.stderr
    assert _statuses(run.stdout) == {
        "meet_left": ("succeeded", 1),
        "meet_right": ("succeeded", 1),
        "settle": ("succeeded", 2),
    }
    stored = parallel / ".glacier" / "data" / "out"
    assert json.loads((stored / "settled.json").read_text()) == "second attempt"

    # one worker: the branches cannot meet, so `--workers` really bounds the parallelism
    (sequential / "tried").write_text("")
    alone = run_isolated(tmp_path, runners["busy"], "--workers", "1", cwd=sequential)
    assert alone.returncode == 1
    statuses = _statuses(alone.stdout)
    assert statuses["meet_left"][0] == statuses["meet_right"][0] == "failed"
    assert statuses["settle"] == ("succeeded", 1)
    assert "BrokenBarrierError" in alone.stdout


RETRYING = """\
import os

from glacier import Dataset, ObjectStorage, Pipeline

pipeline = Pipeline(name="retrying")
healed = Dataset(name="healed", storage=ObjectStorage(bucket="out"))
broken = Dataset(name="broken", storage=ObjectStorage(bucket="out"))


def attempt(name):
    count = int(open(name).read()) + 1 if os.path.exists(name) else 1
    with open(name, "w") as fh:
        fh.write(str(count))
    return count


@pipeline.task(retries=3, retry_delay_s=0.01, backoff=3, retry_on=(TimeoutError, ConnectionError))
def heal() -> healed:
    if attempt("heal") < 3:
        raise ConnectionRefusedError("not yet")  # a ConnectionError: retried
    return "healed"


@pipeline.task(retries=3, retry_delay_s=0.01, retry_on=ConnectionError)
def fail() -> broken:
    attempt("fail")
    raise ValueError("not transient")  # not a ConnectionError: fails at once
"""


def test_retries_wait_back_off_and_match_alike_in_the_runner_and_the_executor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_project(tmp_path, {"retrying.py": RETRYING})
    analysis, runners = _build(root, "retrying.py")
    static = next(p for p in analysis.pipelines if p.name == "retrying")
    assert [(t.name, t.retry_delay_s, t.backoff, t.retry_on) for t in static.tasks] == [
        ("fail", 0.01, 2.0, ("ConnectionError",)),
        ("heal", 0.01, 3.0, ("TimeoutError", "ConnectionError")),
    ]
    runner_dir, runtime_dir = tmp_path / "runner", tmp_path / "runtime"
    runner_dir.mkdir()
    runtime_dir.mkdir()

    run = run_isolated(tmp_path, runners["retrying"], cwd=runner_dir)
    assert run.returncode == 1, run.stdout + run.stderr
    assert _statuses(run.stdout) == {"fail": ("failed", 1), "heal": ("succeeded", 3)}
    retried = [line for line in run.stderr.splitlines() if line.startswith("[retrying] retry ")]
    waits = [line.split(" in ")[1].split()[0] for line in retried]
    assert waits == ["0.01s", "0.03s"]

    from glacier_local import LocalExecutor

    monkeypatch.syspath_prepend(str(root))
    monkeypatch.chdir(runtime_dir)
    import retrying  # type: ignore[import-not-found]

    assert retrying.pipeline.to_model() == static
    slept: list[float] = []
    result = LocalExecutor("data", sleep=slept.append).execute(retrying.pipeline)
    statuses = {name: (t.status, t.attempts) for name, t in result.tasks.items()}
    assert statuses == {"fail": ("failed", 1), "heal": ("succeeded", 3)}
    assert slept == pytest.approx([0.01, 0.03])
    assert "ValueError: not transient" in (result.tasks["fail"].error or "")


TYPED = """\
from collections import OrderedDict
from typing import Any

from glacier import Dataset, ObjectStorage, Pipeline

pipeline = Pipeline(name="typed")
store = ObjectStorage(bucket="out")
rows = Dataset[list[dict[str, Any]]](name="rows", storage=store)
table = Dataset[OrderedDict[str, int] | None](name="table", storage=store)
counted = Dataset[int](name="counted", storage=store)


@pipeline.task(retries=2, retry_delay_s=0)
def load() -> rows:
    return {"not": "a list"}


@pipeline.task()
def count(values: rows) -> counted:
    return len(values)


@pipeline.task()
def index() -> table:
    return OrderedDict(a=1)
"""


def test_payload_types_are_checked_alike_in_the_runner_and_the_executor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_project(tmp_path, {"typed_payloads.py": TYPED})
    _, runners = _build(root, "typed_payloads.py")
    runner_dir, runtime_dir = tmp_path / "runner", tmp_path / "runtime"
    runner_dir.mkdir()
    runtime_dir.mkdir()
    message = (
        "PayloadTypeError: task `load` returned dict for dataset `rows` declared "
        "`list[dict[str, Any]]` at typed_payloads.py:8"
    )
    expected = {"count": ("skipped", 0), "index": ("succeeded", 1), "load": ("failed", 1)}

    run = run_isolated(tmp_path, runners["typed"], cwd=runner_dir)
    assert run.returncode == 1, run.stdout + run.stderr
    assert _statuses(run.stdout) == expected
    assert message in run.stdout
    assert "is not checked" not in run.stderr

    from glacier_local import LocalExecutor

    monkeypatch.syspath_prepend(str(root))
    monkeypatch.chdir(runtime_dir)
    import typed_payloads  # type: ignore[import-not-found]

    result = LocalExecutor("data").execute(typed_payloads.pipeline)
    assert {n: (t.status, t.attempts) for n, t in result.tasks.items()} == expected
    assert message in (result.tasks["load"].error or "")
    assert result.outputs["table"] == {"a": 1}


MUTATING = """\
from glacier import Dataset, ObjectStorage, Pipeline

pipeline = Pipeline(name="mutating")
store = ObjectStorage(bucket="out")
rows = Dataset(name="rows", storage=store)
counted = Dataset(name="counted", storage=store)
kept = Dataset(name="kept", storage=store)
big = Dataset(name="big", copy=False)
seen = Dataset(name="seen", storage=store)


@pipeline.task()
def make() -> rows:
    return [{"n": 1}, {"n": 2}]


@pipeline.task()
def a_mutate(values: rows) -> counted:  # runs before its sibling: ties go by name
    values.append({"n": 3})
    values[0]["n"] = 100
    return len(values)


@pipeline.task()
def b_sibling(values: rows) -> kept:
    return values


@pipeline.task()
def c_big() -> big:
    return [0]


@pipeline.task()
def d_touch(values: big) -> None:
    values.append(1)  # shared on purpose: the next reader sees it


@pipeline.task()
def e_see(values: big) -> seen:
    return values
"""


def test_a_full_run_equals_a_resumed_one_when_a_task_changes_its_input_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_project(tmp_path, {"mutating.py": MUTATING})
    analysis, runners = _build(root, "mutating.py")
    (static,) = analysis.pipelines
    assert [d.name for d in static.datasets if not d.copy] == ["big"]
    assert 'SHARED: list[str] = ["big"]' in runners["mutating"].read_text()
    full_dir, runtime_dir = tmp_path / "full", tmp_path / "runtime"
    full_dir.mkdir()
    runtime_dir.mkdir()
    out = Path(".glacier") / "data" / "out"

    full = run_isolated(tmp_path, runners["mutating"], "--workers", "1", cwd=full_dir)
    assert full.returncode == 0, full.stdout + full.stderr
    kept = json.loads((full_dir / out / "kept.json").read_text())
    assert kept == [{"n": 1}, {"n": 2}]
    assert json.loads((full_dir / out / "counted.json").read_text()) == 3
    assert json.loads((full_dir / out / "seen.json").read_text()) == [0, 1]

    (full_dir / out / "kept.json").unlink()
    resumed = run_isolated(tmp_path, runners["mutating"], "--only", "b_sibling", cwd=full_dir)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert json.loads((full_dir / out / "kept.json").read_text()) == kept  # read from storage

    from glacier_local import LocalExecutor

    monkeypatch.syspath_prepend(str(root))
    monkeypatch.chdir(runtime_dir)
    import mutating  # type: ignore[import-not-found]

    assert mutating.pipeline.to_model() == static
    result = LocalExecutor("data", max_workers=1).execute(mutating.pipeline)
    assert result.ok, result.summary()
    assert (result.outputs["kept"], result.outputs["seen"]) == (kept, [0, 1])


PARAMS = """\
import datetime

from glacier import Dataset, ObjectStorage, Pipeline

pipeline = Pipeline(name="params")
store = ObjectStorage(bucket="out")
ranked = Dataset(name="ranked", storage=store)
picked = Dataset(name="picked", storage=store)


@pipeline.task()
def rank(
    n: int = 3,
    scale: float = 1.0,
    day: datetime.date = datetime.date(2024, 1, 1),
    tags: list[str] = ["a"],
    loud: bool = False,
    extra=None,
) -> ranked:
    tags.append("changed")  # a run parameter is the task's own copy
    return {
        "n": n, "scale": scale, "day": day.isoformat(), "tags": tags, "loud": loud, "extra": extra
    }


@pipeline.task()
def pick(values: ranked, *, n: int = 1) -> picked:
    return {"n": n, "from": values["n"]}
"""

PARAM_OPTIONS = [
    "n=5",
    "pick.n=7",
    "rank.scale=2.5",
    "day=2025-02-03",
    "tags=x, y",
    "loud=yes",
    'extra={"k": [1]}',
]
PARAM_OUTPUTS = {
    "ranked": {
        "n": 5,
        "scale": 2.5,
        "day": "2025-02-03",
        "tags": ["x", "y", "changed"],
        "loud": True,
        "extra": {"k": [1]},
    },
    "picked": {"n": 7, "from": 5},
}


def test_run_parameters_are_set_alike_in_the_runner_and_the_executor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from glacier.model import ParameterModel
    from glacier.params import parameter_values

    root = write_project(tmp_path, {"params_pipeline.py": PARAMS})
    analysis, runners = _build(root, "params_pipeline.py")
    (static,) = analysis.pipelines
    assert static.task("rank").parameters == (
        ParameterModel("n", "int", "3"),
        ParameterModel("scale", "float", "1.0"),
        ParameterModel("day", "datetime.date", "datetime.date(2024, 1, 1)"),
        ParameterModel("tags", "list[str]", "['a']"),
        ParameterModel("loud", "bool", "False"),
        ParameterModel("extra", None, "None"),
    )
    assert static.task("pick").parameters == (ParameterModel("n", "int", "1"),)
    assert parameter_values(static.task("rank"), {"n": "5", "pick.n": "7"}) == {
        "n": 5,
        "scale": 1.0,
        "day": "datetime.date(2024, 1, 1)",  # not a literal: its source text
        "tags": ["a"],
        "loud": False,
        "extra": None,
    }
    assert parameter_values(static.task("pick"), {"n": "5", "pick.n": "7"}) == {"n": 7}
    runner_dir, runtime_dir = tmp_path / "runner", tmp_path / "runtime"
    runner_dir.mkdir()
    runtime_dir.mkdir()
    out = runner_dir / ".glacier" / "data" / "out"
    runner = runners["params"]

    options = [arg for item in PARAM_OPTIONS for arg in ("--param", item)]
    run = run_isolated(tmp_path, runner, *options, cwd=runner_dir)
    assert run.returncode == 0, run.stdout + run.stderr
    for dataset, expected in PARAM_OUTPUTS.items():
        assert json.loads((out / f"{dataset}.json").read_text()) == expected

    (runner_dir / "params.json").write_text(json.dumps({"n": 4, "pick.n": 9}))
    run = run_isolated(
        tmp_path, runner, "--params", "params.json", "--param", "n=6", cwd=runner_dir
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert json.loads((out / "picked.json").read_text()) == {"n": 9, "from": 6}
    assert json.loads((out / "ranked.json").read_text())["tags"] == ["a", "changed"]

    bad_value = "task `rank` parameter `n` (int): cannot use 'five'"
    unknown = "no task has a parameter `rank.size` (parameters: `pick.n`, `rank.day`"
    for option, message in (("n=five", bad_value), ("rank.size=1", unknown)):
        run = run_isolated(tmp_path, runner, "--param", option, cwd=runner_dir)
        assert (run.returncode, run.stdout) == (2, ""), run.stderr
        assert message in run.stderr

    from glacier.errors import UsageError
    from glacier_local import LocalExecutor

    monkeypatch.syspath_prepend(str(root))
    monkeypatch.chdir(runtime_dir)
    import params_pipeline  # type: ignore[import-not-found]

    assert params_pipeline.pipeline.to_model() == static
    executor = LocalExecutor("data")
    given = dict(item.split("=", 1) for item in PARAM_OPTIONS)
    result = executor.execute(params_pipeline.pipeline, params=given)
    assert result.ok, result.summary()
    assert {d: result.outputs[d] for d in PARAM_OUTPUTS} == PARAM_OUTPUTS
    typed = {"n": 6, "pick.n": 9, "day": "2025-02-03"}  # values, not only text
    result = executor.execute(params_pipeline.pipeline, params=typed)
    assert result.outputs["picked"] == {"n": 9, "from": 6}
    assert result.outputs["ranked"]["day"] == "2025-02-03"
    for params, message in (({"n": "five"}, bad_value), ({"rank.size": 1}, unknown)):
        with pytest.raises(UsageError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
            executor.execute(params_pipeline.pipeline, params=params)
    result = executor.execute(params_pipeline.pipeline)  # the defaults again
    assert result.outputs["picked"] == {"n": 1, "from": 3}


def test_glacier_run_chooses_a_pipeline_and_passes_runner_options(tmp_path: Path) -> None:
    root = copy_examples(tmp_path)

    def glacier_run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "glacier_cli", "run", *args],
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
        )

    several = glacier_run("examples", "--list")
    assert several.returncode == 2
    assert "choose one pipeline with --pipeline (pipelines: `archive`, `etl`" in several.stderr
    listed = glacier_run("examples", "--pipeline", "orders", "--list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.startswith("pipeline 'orders': 5 tasks in topological order")
    data = root / ".glacier" / "data"
    shutil.copytree(EXAMPLE_DATA, data)
    only = glacier_run("examples/orders", "--only", "validate", "--only", "revenue_by_day")
    assert only.returncode == 0, only.stdout + only.stderr
    assert set(_statuses(only.stdout)) == {"validate", "revenue_by_day"}
    resumed = glacier_run("examples/orders", "--from", "revenue_by_day", "--dry-run")
    assert resumed.returncode == 0, resumed.stderr
    assert "2 of 5 tasks would run" in resumed.stdout
    both = glacier_run("examples/orders", "--only", "validate", "--from", "validate")
    assert both.returncode == 2
    assert "--only and --from cannot be combined" in both.stderr
    unknown = glacier_run("examples/orders", "--param", "top=3", "--dry-run")
    assert (unknown.returncode, unknown.stdout) == (2, "")
    assert "no task has a parameter `top` (parameters: none)" in unknown.stderr
    (root / "p.json").write_text('{"validate.top": 3}')
    from_file = glacier_run("examples/orders", "--params", "p.json", "--dry-run")
    assert from_file.returncode == 2
    assert "no task has a parameter `validate.top`" in from_file.stderr


NEEDS_A_LIBRARY = """\
import surely_not_installed_anywhere

from glacier import Dataset, ObjectStorage, Pipeline

pipeline = Pipeline(name="needs")
out = Dataset(name="out", storage=ObjectStorage(bucket="out"))


@pipeline.task()
def make() -> out:
    return surely_not_installed_anywhere.VALUE
"""


def test_task_code_that_cannot_be_imported_runs_nothing(tmp_path: Path) -> None:
    root = write_project(tmp_path, {"needs.py": NEEDS_A_LIBRARY})
    _, runners = _build(root, "needs.py")
    # the import of a third-party library stays in the task code (a line of its literal) ...
    assert "import surely_not_installed_anywhere\\n" in runners["needs"].read_text()
    # ... yet listing and planning never load the task code
    assert run_isolated(tmp_path, runners["needs"], "--list", cwd=tmp_path).returncode == 0
    plan = run_isolated(tmp_path, runners["needs"], "--dry-run", cwd=tmp_path)
    assert plan.returncode == 0, plan.stderr
    result = run_isolated(tmp_path, runners["needs"], cwd=tmp_path)
    assert result.returncode == 1
    assert "ModuleNotFoundError: No module named 'surely_not_installed_anywhere'" in result.stderr
    assert "error: the task code could not be loaded; nothing ran" in result.stderr
    assert not (tmp_path / ".glacier" / "data" / "out").exists()
    usage = run_isolated(tmp_path, runners["needs"], "--workers", "0", cwd=tmp_path)
    assert usage.returncode == 2
    assert "--workers must be at least 1" in usage.stderr
