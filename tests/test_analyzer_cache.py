"""The cache of ``glacier check``: used when nothing changed, never trusted when something did.

No timings here (benchmarks/analyzer_check.py measures); these tests show which work a
re-check does and that a stale, corrupt, foreign or planted cache entry is not believed.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
from click.testing import CliRunner

import analyzer._analyze
import analyzer._project
import analyzer._reader
import analyzer._summary
from analyzer import _cache, analyze, summarize
from analyzer._check import check
from glacier_cli import main

HEADER = "from glacier import Dataset, ObjectStorage, Pipeline\n"
PIPELINE = HEADER + "pipeline = Pipeline(name='p')\n"
DATASETS = HEADER + "raw = Dataset(name='raw', storage=ObjectStorage(bucket='b'))\n"
TASKS = (
    "from flows.pipeline import pipeline\n"
    "from flows.datasets import raw\n"
    "from glacier import Dataset\n"
    "clean = Dataset(name='clean', storage=None)\n"
    "@pipeline.task()\n"
    "def tidy(rows: raw) -> clean:\n"
    "    return rows\n"
    "@pipeline.task()\n"
    "def use(rows: clean) -> None: ...\n"
)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "project"
    flows = root / "flows"
    flows.mkdir(parents=True)
    (root / "pyproject.toml").write_text("")
    (flows / "__init__.py").write_text("")
    (flows / "pipeline.py").write_text(PIPELINE)
    (flows / "datasets.py").write_text(DATASETS)
    (flows / "tasks.py").write_text(TASKS)
    old = os.stat(flows / "tasks.py").st_mtime - 60  # settled files, not "just written"
    for path in flows.iterdir():
        os.utime(path, (old, old))
    monkeypatch.setenv("GLACIER_CACHE_DIR", str(tmp_path / "cache"))
    return root


@pytest.fixture
def summaries(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The modules summarised (parsed) from now on."""
    seen: list[str] = []
    real = analyzer._reader.summarize

    def counting(text: str, module: str, is_package: bool) -> analyzer._summary.ModuleSummary:
        seen.append(module)
        return real(text, module, is_package)

    monkeypatch.setattr(analyzer._reader, "summarize", counting)
    return seen


def forbid_analysis(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> object:
        raise AssertionError("the analysis ran")

    monkeypatch.setattr(analyzer._analyze, "analyze", refuse)


def codes(result: object) -> list[str]:
    return [d.code for d in result.diagnostics]  # type: ignore[attr-defined]


def test_the_result_is_the_analysis_result(project: Path) -> None:
    (project / "flows" / "tasks.py").write_text(TASKS.replace("def use(rows: clean)", "def use()"))
    expected = analyze([project])
    first = check([project])
    assert not first.cached
    assert first.diagnostics == expected.diagnostics
    assert (first.files, first.pipelines) == (len(expected.modules), len(expected.pipelines))
    assert codes(first) == ["GLC501"]


def test_an_unchanged_project_is_answered_without_analysis(
    project: Path, monkeypatch: pytest.MonkeyPatch, summaries: list[str]
) -> None:
    first = check([project])
    assert sorted(summaries) == ["flows", "flows.datasets", "flows.pipeline", "flows.tasks"]
    forbid_analysis(monkeypatch)
    again = check([project])
    assert again.cached
    assert again == first.__class__(
        first.diagnostics, first.files, first.pipelines, True, str(project)
    )


def test_one_changed_file_is_the_only_one_parsed_again(project: Path, summaries: list[str]) -> None:
    check([project])
    summaries.clear()
    tasks = project / "flows" / "tasks.py"
    tasks.write_text(TASKS.replace("@pipeline.task()\ndef use(rows: clean) -> None: ...\n", ""))
    result = check([project])
    assert not result.cached
    assert summaries == ["flows.tasks"]
    assert codes(result) == ["GLC501"]


def test_a_same_size_edit_in_the_same_clock_tick_is_seen(project: Path) -> None:
    tasks = project / "flows" / "tasks.py"
    tasks.write_text(TASKS)  # just written: its mtime is close to the check's time
    stat = os.stat(tasks)
    assert codes(check([project])) == []
    tasks.write_text(TASKS.replace("rows: clean", "rows: cloon"))  # same size
    os.utime(tasks, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # and the same mtime
    assert "GLC203" in codes(check([project]))


def test_a_new_file_a_new_module_and_the_configuration_are_dependencies(project: Path) -> None:
    assert codes(check([project])) == []
    # a new module in a checked directory
    (project / "flows" / "more.py").write_text(
        "from flows.pipeline import pipeline\nfrom flows.helpers import thing\n"
        "@pipeline.task()\ndef more(x: thing) -> None: ...\n"
    )
    assert codes(check([project])) == ["GLC003"]  # flows.helpers does not exist
    # the missing module appears: the import probe that failed is a dependency too
    (project / "flows" / "helpers.py").write_text(HEADER + "thing = Dataset(name='thing')\n")
    assert codes(check([project])) == ["GLC102"]
    # excluding it in pyproject.toml changes the result
    (project / "pyproject.toml").write_text('[tool.glacier]\nexclude = ["flows/more.py"]\n')
    assert codes(check([project])) == []


def test_a_corrupt_cache_is_ignored_and_rebuilt(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = check([project])
    entries = [
        p
        for p in (tmp_path / "cache").rglob("*")
        if p.is_file()
        and p.parent.name
        in (
            "checks",
            "summaries",
        )
    ]
    assert len(entries) == 5  # one check, four summaries
    for i, entry in enumerate(entries):
        data = entry.read_bytes()
        entry.write_bytes([b"", b"garbage", data[: len(data) // 2]][i % 3])
    again = check([project])
    assert not again.cached
    assert again.diagnostics == first.diagnostics
    forbid_analysis(monkeypatch)
    assert check([project]).cached  # rebuilt


def test_another_version_or_schema_does_not_read_the_cache(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import glacier

    check([project])
    assert check([project]).cached
    monkeypatch.setattr(glacier, "__version__", "99.0")
    assert not check([project]).cached
    monkeypatch.setattr(_cache, "SCHEMA", _cache.SCHEMA + 1)
    assert not check([project]).cached


def test_a_planted_entry_cannot_run_code(project: Path, tmp_path: Path) -> None:
    """Pickles are read by a restricted unpickler: a repository cannot smuggle in code."""
    check([project])
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (os.system, (f"touch {marker}",))

    planted = _cache._MAGIC + pickle.dumps(Exploit())
    for entry in (tmp_path / "cache").rglob("*"):
        if entry.is_file() and entry.parent.name in ("checks", "summaries"):
            entry.write_bytes(planted)
    assert not check([project]).cached
    assert not marker.exists()


def test_no_cache_neither_reads_nor_writes(project: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["check", "--no-cache", str(project)])
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "cache").exists()
    assert "GLACIER_CACHE_DIR" in CliRunner().invoke(main, ["check", "--help"]).output


def test_the_default_location_is_under_the_project_root(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GLACIER_CACHE_DIR")
    result = CliRunner().invoke(main, ["check", str(project / "flows")])
    assert result.exit_code == 0, result.output
    cache = project / ".glacier" / "cache"
    assert (cache / _cache.tag() / "checks").is_dir()
    assert (cache / ".gitignore").read_text().splitlines()[-1] == "*"
    assert (cache / "CACHEDIR.TAG").exists()


def test_an_unwritable_cache_is_no_error(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = project / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv("GLACIER_CACHE_DIR", str(blocker))
    assert codes(check([project])) == []
    assert codes(check([project])) == []


def test_summaries_made_in_a_process_pool_are_the_sequential_ones(tmp_path: Path) -> None:
    examples = Path(__file__).resolve().parent.parent / "examples"
    items = [
        (path.read_text(), path.stem, False)
        for path in sorted([*examples.glob("*.py"), *examples.glob("orders/*.py")])
    ]
    cache = _cache.SummaryCache(str(tmp_path))
    cache.PARALLEL_FROM = 1
    cache.prefill(items, jobs=2)
    assert cache.misses == len(items)  # all summarised by the pool
    for text, module, is_package in items:
        assert cache(text, module, is_package) == summarize(text, module, is_package)
    assert cache.hits == len(items)
    reread = _cache.SummaryCache(str(tmp_path))  # and written to disk by the workers
    for text, module, is_package in items:
        assert reread(text, module, is_package) == summarize(text, module, is_package)
    assert reread.misses == 0


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> list[list[str] | None]:
    """For each analysis run from now on: the modules of a partial run, or None (everything)."""
    seen: list[list[str] | None] = []
    real = analyzer._analyze.analyze

    def recording(*args: object, **kwargs: object) -> object:
        only = kwargs.get("only")
        seen.append(None if only is None else [os.path.basename(str(p)) for p in only])  # type: ignore[union-attr]
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(analyzer._analyze, "analyze", recording)
    return seen


def test_a_change_reanalyses_only_its_importers_and_its_pipelines(
    project: Path, runs: list[list[str] | None]
) -> None:
    second = project / "flows" / "second.py"
    second.write_text(
        PIPELINE.replace("pipeline = Pipeline(name='p')", "other = Pipeline(name='q')")
    )
    (project / "flows" / "unrelated.py").write_text(
        "from flows.second import other\nfrom flows.datasets import raw\n"
        "@other.task()\ndef alone(rows: raw) -> None: ...\n"
    )
    full = check([project])
    tasks = project / "flows" / "tasks.py"
    tasks.write_text(
        TASKS.replace("def use(rows: clean) -> None: ...", "def use(rows: cleen) -> None: ...")
    )
    partial = check([project])
    assert runs == [None, ["tasks.py"]]  # neither pipeline.py, datasets.py nor pipeline `q`
    assert codes(partial) == ["GLC501", "GLC203"]  # `clean` is no longer read; `cleen`?
    assert partial.diagnostics == check([project], use_cache=False).diagnostics
    assert (partial.files, partial.pipelines) == (full.files, full.pipelines)
    # a change to a module every task imports redoes every module importing it
    (project / "flows" / "datasets.py").write_text(DATASETS + "# a comment\n")
    assert codes(check([project])) == ["GLC501", "GLC203"]
    assert runs[-1] == ["datasets.py", "tasks.py", "unrelated.py"]


def test_a_pipeline_losing_its_tasks_in_the_changed_module_is_still_checked(
    project: Path, runs: list[list[str] | None]
) -> None:
    """Found by the property test below: the pipeline is declared elsewhere and keeps tasks."""
    (project / "flows" / "tasks.py").write_text(
        "from flows.pipeline import pipeline\nfrom flows.datasets import raw\n"
        "from glacier import Dataset\nclean = Dataset(name='clean')\n"
        "@pipeline.task()\ndef tidy(rows: raw) -> clean:\n    return rows\n"
    )
    more = project / "flows" / "more.py"
    reader = "@pipeline.task()\ndef use(rows: clean) -> None: ...\n"
    more.write_text("from flows.pipeline import pipeline\nfrom flows.tasks import clean\n" + reader)
    assert codes(check([project])) == []
    more.write_text(  # same imports; `pipeline` is rebound, so `use` is no task of `p`
        "from flows.pipeline import pipeline\nfrom flows.tasks import clean\n"
        "pipeline = 'p'\n" + reader
    )
    partial = check([project])
    assert runs[-1] is not None  # the partial path, not a fallback
    full = check([project], use_cache=False)
    assert (partial.diagnostics, partial.pipelines) == (full.diagnostics, full.pipelines)
    assert codes(partial) == ["GLC501"] and partial.pipelines == 1  # `clean` is read by no task


def test_a_changed_import_falls_back_to_a_full_analysis(
    project: Path, runs: list[list[str] | None]
) -> None:
    (project / "flows" / "helpers.py").write_text("LIMIT = 3\n")  # not read: no glacier in it
    first = check([project])
    tasks = project / "flows" / "tasks.py"
    tasks.write_text("from flows.nowhere import x\n" + TASKS)  # a missing module: same modules
    assert codes(check([project])) == ["GLC003"]
    tasks.write_text("from flows.helpers import LIMIT\n" + TASKS)  # helpers.py is read now
    result = check([project])
    assert runs == [None, ["tasks.py"], ["tasks.py"], None]
    assert result.files == first.files + 1
    assert result.diagnostics == check([project], use_cache=False).diagnostics == ()


def test_the_examples_package_is_redone_in_part(
    tmp_path: Path, runs: list[list[str] | None]
) -> None:
    examples = Path(__file__).resolve().parent.parent / "examples"
    root = tmp_path / "copy"
    (root / "orders").mkdir(parents=True)
    (root / "pyproject.toml").write_text("")
    for path in [*examples.glob("*.py"), *examples.glob("orders/*.py")]:
        (root / path.relative_to(examples)).write_bytes(path.read_bytes())
    first = check([root])
    layer1 = root / "layer1_local.py"
    layer1.write_text(layer1.read_text() + "# edited\n")
    again = check([root])
    assert runs == [None, ["layer1_local.py"]]
    assert again.diagnostics == first.diagnostics
    cleaning = root / "orders" / "cleaning.py"
    cleaning.write_text(cleaning.read_text() + "# edited\n")
    assert check([root]).diagnostics == first.diagnostics
    assert runs[-1] is not None and "cleaning.py" in runs[-1]


def test_old_entries_are_pruned(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GLACIER_CACHE_DIR")  # a shared cache is never pruned: other projects'
    directory = project / ".glacier" / "cache" / _cache.tag()
    summaries, checks = directory / "summaries", directory / "checks"
    summaries.mkdir(parents=True)
    checks.mkdir()
    for i in range(20):
        (summaries / f"old{i}").write_bytes(b"")
        (checks / f"old{i:02d}").write_bytes(b"")
        os.utime(checks / f"old{i:02d}", (i, i))
    check([project / "flows"])  # a part of the project: other summaries may be in use
    assert len(list(summaries.iterdir())) == 24
    check([project])  # the whole project: 4 summaries in use, 20 unused
    assert sorted(p.name for p in summaries.iterdir() if p.name.startswith("old")) == []
    assert len(list(summaries.iterdir())) == 4
    for i in range(20, 40):
        (checks / f"old{i:02d}").write_bytes(b"")
    (project / "flows" / "pipeline.py").write_text(PIPELINE + "# changed\n")
    check([project / "flows" / "tasks.py"])  # a new set of paths: a new entry
    remaining = sorted(p.name for p in checks.iterdir())
    assert len(remaining) == 32 and "old00" not in remaining and "old39" in remaining


def test_an_entry_of_the_wrong_shape_is_a_miss(project: Path, tmp_path: Path) -> None:
    first = check([project])
    (entry,) = (tmp_path / "cache").rglob("checks/*")
    for shape in (
        {"recorded": 1, "root": 2, "files": {"a": 3}},
        {**_cache.load(str(entry)), "files": [1]},
    ):
        entry.write_bytes(_cache.dumps(shape))
        again = check([project])
        assert not again.cached and again.diagnostics == first.diagnostics


def test_a_suppression_outside_the_part_redone_is_judged_on_the_whole_analysis(
    project: Path, runs: list[list[str] | None]
) -> None:
    """`datasets.py` is read by the part redone for `tasks.py` (pipeline `p`), but the finding
    its comment suppresses belongs to pipeline `q`, which that part does not redo: judged
    there, the suppression would look unused (GLC009)."""
    (project / "flows" / "datasets.py").write_text(
        DATASETS + "spare = Dataset(name='spare')  # glacier: ignore[GLC501]\n"
    )
    (project / "flows" / "second.py").write_text(
        PIPELINE.replace("pipeline = Pipeline(name='p')", "other = Pipeline(name='q')")
    )
    (project / "flows" / "unrelated.py").write_text(
        "from flows.second import other\nfrom flows.datasets import raw, spare\n"
        "@other.task()\ndef alone(rows: raw) -> spare: ...\n"
    )
    assert codes(check([project])) == []
    (project / "flows" / "tasks.py").write_text(TASKS + "# a comment\n")
    assert codes(check([project])) == []
    assert runs == [None, ["tasks.py"], None]  # the part was tried, then everything redone


# -- project boundaries -------------------------------------------------------------------------


def _parent_repository(tmp_path: Path) -> tuple[Path, Path]:
    """A repository of many files (`.git` at its top) holding a project without its own
    `pyproject.toml`: the root is the repository's, and it must not be walked for one file."""
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    for i in range(400):
        other = repo / "other" / f"d{i % 20}"
        other.mkdir(parents=True, exist_ok=True)
        (other / f"m{i}.py").write_text(f"# glacier-free helper {i}\nfrom other import x\n.task\n")
    flows = repo / "proj" / "flows"
    flows.mkdir(parents=True)
    (repo / "proj" / "__init__.py").write_text("")
    (flows / "__init__.py").write_text("")
    (flows / "defs.py").write_text(
        PIPELINE + "raw = Dataset(name='raw', storage=ObjectStorage(bucket='b'))\n"
        "mid = Dataset(name='mid')\n"
    )
    (flows / "first.py").write_text(
        "from proj.flows.defs import pipeline, raw, mid\n"
        "@pipeline.task()\ndef one(x: raw) -> mid:\n    return x\n"
    )
    (flows / "second.py").write_text(
        "from proj.flows.defs import pipeline, mid\n@pipeline.task()\ndef two(x: mid) -> None: ...\n"
    )
    reports = repo / "proj" / "reports"
    reports.mkdir()
    (reports / "__init__.py").write_text("")
    (reports / "third.py").write_text(
        "from proj.flows.defs import pipeline, mid\n@pipeline.task()\ndef three(x: mid) -> None: ...\n"
    )
    return repo, flows


def test_a_one_file_check_in_a_parent_repository_does_not_walk_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, flows = _parent_repository(tmp_path)
    read: list[str] = []
    real = analyzer._project.Files.read

    def recording(self: analyzer._project.Files, path: str) -> tuple[str | None, str | None]:
        read.append(path)
        return real(self, path)

    monkeypatch.setattr(analyzer._project.Files, "read", recording)
    analysis = analyze([flows / "second.py"])
    assert analysis.root == str(repo)
    assert not [p for p in read if "/other/" in p], "the parent repository was walked"
    assert sorted({os.path.relpath(p, repo) for p in read}) == [
        "proj/__init__.py",
        "proj/flows/__init__.py",
        "proj/flows/defs.py",
        "proj/flows/first.py",
        "proj/flows/second.py",
    ]
    assert codes(analysis) == [] and {t.name for t in analysis.pipelines[0].tasks} == {"one", "two"}


def test_importers_elsewhere_come_from_the_import_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(_cache.ENV_DIR, raising=False)
    repo, flows = _parent_repository(tmp_path)
    (repo / "pyproject.toml").write_text("")  # the cache lives under the root
    cold = check([flows / "second.py"])
    assert cold.pipelines == 1
    check([repo / "proj"])  # a whole check records who imports whom
    assert (repo / ".glacier" / "cache").is_dir() and not (tmp_path / ".glacier").exists()
    # a changed file: the task in `reports/` (not walked for a one-file check) is still found
    (flows / "second.py").write_text(
        "from proj.flows.defs import pipeline, mid\n@pipeline.task()\ndef two(x: mid) -> None:\n"
        "    print(x)\n"
    )
    result = check([flows / "second.py"])
    assert not result.cached and codes(result) == []
    assert result.files == 7  # 2 `__init__`s, defs, first, second; `reports` found by the index


def test_a_whole_result_is_served_only_to_who_can_read_every_file(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert not check([project]).cached
    assert check([project]).cached
    secret = str(project / "flows" / "tasks.py")
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: p != secret and real(p, mode))
    assert not check([project]).cached
