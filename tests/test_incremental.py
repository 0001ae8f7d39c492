"""Incremental runs: a task runs again only when its code, parameters or inputs changed, or its
outputs did, on both local paths (``LocalExecutor`` and the standalone runner), which compute
the same code fingerprints and so reuse each other's work."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from _codegen_support import EXAMPLES, analyze_paths, run_isolated, write_project

import glacier
from codegen import build as build_artifacts
from codegen import write_tree
from codegen._runner import task_fingerprints
from glacier.fingerprint import code_fingerprint, module_facts
from glacier_local._schedule import RunCache

# -- the fingerprint ------------------------------------------------------------------------------


def _fingerprints(files: dict[str, str]) -> dict[str, str | None]:
    """``module:function`` -> fingerprint, for every top-level function of ``files``."""
    facts = {
        name.removesuffix(".py"): module_facts(text, name.removesuffix(".py"), False)
        for name, text in files.items()
    }
    found = {}
    for module, module_facts_ in facts.items():
        assert module_facts_ is not None
        for stmt in module_facts_.statements:
            if stmt.bare_digest is not None:
                for name in stmt.binds:
                    found[f"{module}:{name}"] = code_fingerprint(module, name, facts.get)
    return found


BASE = {
    "tasks.py": """\
from glacier import Dataset, Pipeline
from helpers import scale
import shapes

pipeline = Pipeline(name="p")
a = Dataset(name="a")
b = Dataset(name="b")
OFFSET = 1


def local_helper(x):
    return x + OFFSET


@pipeline.task()
def first() -> a:
    return [scale(v) for v in range(3)]


@pipeline.task()
def second(values: a) -> b:
    return [local_helper(v) for v in values]


@pipeline.task()
def third(values: a) -> b:
    return shapes.square(len(values))
""",
    "helpers.py": """\
def scale(v):
    return v * 2


def unrelated():
    return 0
""",
    "shapes.py": """\
def square(n):
    return n * n
""",
}


def _changed(edit: dict[str, tuple[str, str]]) -> set[str]:
    """The tasks whose fingerprint changes when ``edit`` (file -> (old, new)) is applied."""
    before = _fingerprints(BASE)
    files = dict(BASE)
    for name, (old, new) in edit.items():
        assert old in files[name]
        files[name] = files[name].replace(old, new)
    after = _fingerprints(files)
    tasks = {"tasks:first", "tasks:second", "tasks:third"}
    return {k.split(":")[1] for k in tasks if before[k] != after[k]}


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        ({"tasks.py": ("    return [scale(v)", "    # a comment\n    return [scale(v)")}, set()),
        (
            {"tasks.py": ("[scale(v) for v in range(3)]", "[ scale( v )  for v in range(3) ]")},
            set(),
        ),
        (
            {"tasks.py": ("@pipeline.task()\ndef first", "@pipeline.task(retries=2)\ndef first")},
            set(),
        ),
        ({"tasks.py": ("range(3)", "range(4)")}, {"first"}),
        ({"tasks.py": ("OFFSET = 1", "OFFSET = 2")}, {"second"}),
        ({"tasks.py": ("return x + OFFSET", "return x - OFFSET")}, {"second"}),
        ({"helpers.py": ("v * 2", "v * 3")}, {"first"}),
        ({"helpers.py": ("return 0", "return 1")}, set()),  # not used by any task
        ({"helpers.py": ("return v * 2", "# doubled\n    return v*2")}, set()),
        ({"shapes.py": ("n * n", "n ** 2")}, {"third"}),  # `import shapes`: the whole module
        ({"tasks.py": ('b = Dataset(name="b")', 'b = Dataset(name="bb")')}, set()),
    ],
)
def test_a_fingerprint_changes_with_the_code_a_task_uses_only(
    edit: dict[str, tuple[str, str]], expected: set[str]
) -> None:
    assert _changed(edit) == expected


def test_a_long_chain_of_helpers_needs_no_recursion() -> None:
    lines = ["def h0():\n    return 0\n"]
    lines += [f"def h{i}():\n    return h{i - 1}()\n" for i in range(1, 5000)]
    text = "\n".join(lines)
    facts = {"m": module_facts(text, "m", False)}
    assert code_fingerprint("m", "h4999", facts.get) is not None


def test_a_function_that_is_not_found_has_no_fingerprint() -> None:
    facts = {"m": module_facts("x = 1\n", "m", False)}
    assert code_fingerprint("m", "nope", facts.get) is None
    assert code_fingerprint("other", "f", facts.get) is None


RUNTIME_FINGERPRINTS = """\
import importlib, json, sys
from glacier.fingerprint import function_fingerprints

root, pipeline_module, variable, *task_modules = sys.argv[1:]
sys.path.insert(0, root)
for name in task_modules:
    importlib.import_module(name)
pipeline = getattr(importlib.import_module(pipeline_module), variable)
codes = function_fingerprints(t.function for t in pipeline.tasks)
print(json.dumps({t.name: code for t, code in zip(pipeline.tasks, codes)}))
"""


def _runtime_fingerprints(root: Path, model: Any, cwd: Path) -> dict[str, str | None]:
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            RUNTIME_FINGERPRINTS,
            str(root),
            model.module,
            model.variable,
            *sorted({t.module for t in model.tasks}),
        ],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)  # type: ignore[no-any-return]


def test_the_runtime_and_the_static_path_fingerprint_every_example_alike(tmp_path: Path) -> None:
    analysis = analyze_paths(EXAMPLES)
    assert {p.name for p in analysis.pipelines} >= {"etl", "sales", "archive", "orders"}
    for model in analysis.pipelines:
        static = task_fingerprints(model, analysis.modules)
        assert None not in static.values(), model.name
        assert _runtime_fingerprints(EXAMPLES, model, tmp_path) == static, model.name
    # distinct tasks, distinct code
    everything = [
        f for m in analysis.pipelines for f in task_fingerprints(m, analysis.modules).values()
    ]
    assert len(set(everything)) == len(everything)


# -- both local paths ------------------------------------------------------------------------------

PROJECT = {
    "helpers.py": """\
def scale(v):
    return v * 2


def size(values):
    return len(values)
""",
    "inc_tasks.py": """\
from glacier import Dataset, ObjectStorage, Pipeline
from helpers import scale, size

pipeline = Pipeline(name="inc")
lake = ObjectStorage(bucket="lake")
numbers = Dataset(name="numbers", storage=ObjectStorage(bucket="in", format="json"))
doubled = Dataset(name="doubled", storage=lake)
ordered = Dataset(name="ordered", storage=lake)
total = Dataset(name="total", storage=lake)
count = Dataset(name="count", storage=lake)


@pipeline.task()
def double(values: numbers) -> doubled:
    return [scale(v) for v in values]


@pipeline.task()
def order(values: doubled) -> ordered:
    return sorted(values)


@pipeline.task()
def add(values: ordered) -> total:
    return sum(values)


@pipeline.task()
def tally(values: numbers) -> count:
    return size(values)
""",
}
ALL = {"double", "order", "add", "tally"}

EXECUTE = """\
import json, sys
sys.path.insert(0, sys.argv[1])
import inc_tasks
from glacier_local import LocalExecutor

options = json.loads(sys.argv[3])
result = LocalExecutor(sys.argv[2], max_workers=1).execute(inc_tasks.pipeline, **options)
print(json.dumps({name: t.status for name, t in result.tasks.items()}))
"""


class _Paths:
    """One project, run by ``LocalExecutor`` (a fresh process each time) or by its runner."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.root = write_project(tmp_path, PROJECT)
        self.data = tmp_path / "data"
        self.write_numbers([3, 1, 2])

    def write_numbers(self, values: list[int]) -> None:
        (self.data / "in").mkdir(parents=True, exist_ok=True)
        (self.data / "in" / "numbers.json").write_text(json.dumps(values))

    def edit(self, file: str, old: str, new: str) -> None:
        path = self.root / file
        text = path.read_text()
        assert old in text
        path.write_text(text.replace(old, new))

    def executor(self, **options: Any) -> dict[str, str]:
        run = subprocess.run(
            [sys.executable, "-c", EXECUTE, str(self.root), str(self.data), json.dumps(options)],
            cwd=self.tmp,
            capture_output=True,
            text=True,
            check=False,
        )
        assert run.returncode == 0, run.stderr
        return json.loads(run.stdout)  # type: ignore[no-any-return]

    def runner(self, *args: str) -> dict[str, str]:
        analysis = analyze_paths(self.root / "inc_tasks.py")
        out = self.tmp / "build"
        artifacts, _ = build_artifacts(
            analysis.pipelines, analysis.modules, out_dir=str(out), version=glacier.__version__
        )
        write_tree(str(out), artifacts)
        script = out / artifacts[0].dir_name / "run_local.py"
        run = run_isolated(self.tmp, script, "--data-dir", str(self.data), *args, cwd=self.tmp)
        assert run.returncode == 0, run.stdout + run.stderr
        return _statuses(run.stdout)


def _statuses(stdout: str) -> dict[str, str]:
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("task "))
    found = {}
    for line in lines[start + 1 :]:
        if line.startswith("run "):
            break
        name, status = line.split()[:2]
        found[name] = status
    return found


def _ran(statuses: dict[str, str]) -> set[str]:
    return {name for name, status in statuses.items() if status == "succeeded"}


@pytest.fixture(params=["executor", "runner"])
def path(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[_Paths, str]:
    return _Paths(tmp_path), request.param


def _run(paths: _Paths, which: str, *args: str) -> dict[str, str]:
    if which == "runner":
        return paths.runner(*args)
    options: dict[str, Any] = {}
    if "--param" in args:
        key, value = args[args.index("--param") + 1].split("=", 1)
        options["params"] = {key: value}
    if "--force" in args:
        forced = [a for a in args[args.index("--force") + 1 :] if not a.startswith("-")]
        options["force"] = forced or True
    return paths.executor(**options)


def test_a_second_run_with_nothing_changed_runs_no_task(path: tuple[_Paths, str]) -> None:
    paths, which = path
    assert _ran(_run(paths, which)) == ALL
    second = _run(paths, which)
    assert set(second.values()) == {"cached"}
    assert second.keys() == ALL


def test_an_edit_to_a_task_body_reruns_it_and_its_descendants(path: tuple[_Paths, str]) -> None:
    paths, which = path
    _run(paths, which)
    paths.edit(
        "inc_tasks.py", "    return sorted(values)", "    # a comment\n    return sorted(values)"
    )
    assert _ran(_run(paths, which)) == set()  # a comment is no change
    paths.edit("inc_tasks.py", "return sorted(values)", "return sorted(values, reverse=True)")
    assert _ran(_run(paths, which)) == {"order", "add"}
    assert _ran(_run(paths, which)) == set()


def test_an_edit_to_a_helper_reruns_the_tasks_using_it(path: tuple[_Paths, str]) -> None:
    paths, which = path
    _run(paths, which)
    paths.edit("helpers.py", "return v * 2", "return v * 3")
    assert _ran(_run(paths, which)) == {"double", "order", "add"}
    paths.edit("helpers.py", "return len(values)", "return len(values) + 0")
    assert _ran(_run(paths, which)) == {"tally"}


def test_a_changed_source_file_reruns_its_consumers(path: tuple[_Paths, str]) -> None:
    paths, which = path
    _run(paths, which)
    source = paths.data / "in" / "numbers.json"
    os.utime(source, ns=(1, 1))  # touched, same content: nothing runs
    assert _ran(_run(paths, which)) == set()
    paths.write_numbers([3, 1, 2, 10])
    assert _ran(_run(paths, which)) == ALL


def test_a_changed_or_missing_output_reruns_its_producer(path: tuple[_Paths, str]) -> None:
    paths, which = path
    _run(paths, which)
    ordered = next((paths.data / "lake").glob("ordered.*"))
    ordered.write_text(ordered.read_text() + " ")
    assert _ran(_run(paths, which)) == {"order"}  # same key: its readers keep their outputs
    next((paths.data / "lake").glob("total.*")).unlink()
    assert _ran(_run(paths, which)) == {"add"}


def test_a_changed_run_parameter_reruns_the_tasks_that_have_it(path: tuple[_Paths, str]) -> None:
    """Run parameters are part of a task's fingerprint: setting one re-runs the tasks that
    have it and their descendants, on both paths."""
    paths, which = path
    paths.edit(
        "inc_tasks.py",
        "def order(values: doubled) -> ordered:\n    return sorted(values)",
        "def order(values: doubled, reverse: bool = False) -> ordered:\n"
        "    return sorted(values, reverse=reverse)",
    )
    assert _ran(_run(paths, which)) == ALL
    assert _ran(_run(paths, which, "--param", "reverse=true")) == {"order", "add"}
    assert json.loads(next((paths.data / "lake").glob("ordered.*")).read_text()) == [6, 4, 2]
    assert _ran(_run(paths, which, "--param", "reverse=true")) == set()
    assert _ran(_run(paths, which, "--param", "order.reverse=true")) == set()  # the same value
    assert _ran(_run(paths, which)) == {"order", "add"}  # back to the default


def test_force_reruns_one_task_or_all(path: tuple[_Paths, str]) -> None:
    paths, which = path
    _run(paths, which)
    assert _ran(_run(paths, which, "--force", "order")) == {"order"}
    assert _ran(_run(paths, which, "--force")) == ALL


def test_the_two_paths_reuse_each_others_outputs(tmp_path: Path) -> None:
    paths = _Paths(tmp_path)
    assert _ran(paths.runner()) == ALL
    assert set(paths.executor().values()) == {"cached"}
    paths.edit("inc_tasks.py", "return sum(values)", "return sum(values) + 1")
    assert _ran(paths.executor()) == {"add"}
    assert set(paths.runner().values()) == {"cached"}


def test_cache_false_runs_everything_and_keeps_no_records(tmp_path: Path) -> None:
    paths = _Paths(tmp_path)
    assert _ran(paths.executor(cache=False)) == ALL
    kept = {p.name for p in (paths.data / ".glacier-run" / "inc").iterdir()}
    assert "tasks" not in kept and "sources" not in kept  # the run's own record only
    assert _ran(paths.executor(cache=False)) == ALL


# -- ephemeral outputs ------------------------------------------------------------------------------

EPHEMERAL = """\
from glacier import Dataset, ObjectStorage, Pipeline

pipeline = Pipeline(name="eph")
lake = ObjectStorage(bucket="lake")
made = Dataset(name="made")
shaped = Dataset(name="shaped")
kept = Dataset(name="kept", storage=lake)
shown = Dataset(name="shown")


@pipeline.task()
def make() -> made:
    return [1, 2, 3]


@pipeline.task()
def shape(values: made) -> shaped:
    return [v * 10 for v in values]


@pipeline.task()
def keep(values: shaped) -> kept:
    return sum(values)


@pipeline.task()
def show(value: kept) -> shown:
    return f"total {value}"
"""


@pytest.mark.parametrize("workers", [1, 4])
def test_an_ephemeral_output_is_made_again_when_a_reader_runs(tmp_path: Path, workers: int) -> None:
    sys.path.insert(0, str(write_project(tmp_path, {"eph_tasks.py": EPHEMERAL})))
    try:
        import eph_tasks  # type: ignore[import-not-found]
    finally:
        sys.path.pop(0)
    from glacier_local import LocalExecutor

    executor = LocalExecutor(tmp_path / "data", max_workers=workers)
    first = executor.execute(eph_tasks.pipeline)
    assert first.ran == ("make", "shape", "keep", "show")
    # `show`'s output is ephemeral and read by no task: the caller gets it, so it runs
    second = executor.execute(eph_tasks.pipeline)
    assert second.cached == ("make", "shape", "keep") and second.ran == ("show",)
    assert second.outputs["shown"] == "total 60" and second.outputs["kept"] == 60
    table = second.summary().splitlines()
    assert table[1].split()[:2] == ["make", "cached"] and "output from" in table[1]
    assert "run ok: 1 succeeded, 3 cached, 0 failed, 0 skipped" in table[-1]
    # `keep` must run: `shape` and `make`, cached, run again first to produce what it reads
    third = executor.execute(eph_tasks.pipeline, force=["keep"])
    assert third.ran == ("make", "shape", "keep", "show") and third.ok
    assert third.outputs["shown"] == "total 60"
    del sys.modules["eph_tasks"]


# -- the records ------------------------------------------------------------------------------------


def test_records_are_written_atomically_beside_the_data(tmp_path: Path) -> None:
    cache = RunCache(tmp_path, "my pipeline/../x")
    cache.save("a task", "k", {"out": [1, 2]})
    directory = Path(cache.directory)
    assert directory.parent == tmp_path / ".glacier-run"
    assert ".." not in directory.name and "/" not in directory.name
    (record,) = (directory / "tasks").iterdir()
    assert json.loads(record.read_text())["key"] == "k"
    assert [p.name for p in (directory / "tasks").iterdir() if p.suffix == ".tmp"] == []
    assert cache.record("a task") is not None and cache.record("another") is None


def test_a_crash_before_the_record_leaves_the_task_to_run_again(tmp_path: Path) -> None:
    """The record is written after the outputs: a crash between the two leaves the previous
    record, which the new outputs do not match."""
    paths = _Paths(tmp_path)
    paths.executor()
    records = paths.data / ".glacier-run" / "inc" / "tasks"
    old = (records / "order.json").read_text()
    paths.edit("inc_tasks.py", "return sorted(values)", "return sorted(values)[::-1]")
    assert _ran(paths.executor()) == {"order", "add"}
    (records / "order.json").write_text(old)  # as if the run had died before the record
    paths.edit("inc_tasks.py", "return sorted(values)[::-1]", "return sorted(values)")
    assert "order" in _ran(paths.executor())


def test_a_record_written_for_an_unchanged_file_survives_a_touch(tmp_path: Path) -> None:
    cache = RunCache(tmp_path, "p")
    source = tmp_path / "s.json"
    source.write_text("[1]")

    class Store:
        def location(self, dataset: str) -> str:
            return str(source)

    first = cache.source_fingerprint("s", Store())  # type: ignore[arg-type]
    os.utime(source, ns=(5, 5))
    assert cache.source_fingerprint("s", Store()) == first  # type: ignore[arg-type]
    source.write_text("[2]")
    assert cache.source_fingerprint("s", Store()) != first  # type: ignore[arg-type]


def test_the_runner_help_explains_incremental_runs(tmp_path: Path) -> None:
    paths = _Paths(tmp_path)
    paths.runner()
    script = next((tmp_path / "build").glob("*/run_local.py"))
    run = run_isolated(tmp_path, script, "--help", cwd=tmp_path)
    assert "--force [TASK]" in run.stdout and "cached" in run.stdout
    assert "Runs are incremental" in script.read_text()
