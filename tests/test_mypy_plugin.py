"""The mypy plugin, run through the real mypy over fixture modules.

Each fixture in ``tests/fixtures/mypy`` has an expected output file beside it (``<name>.out``),
compared exactly. Set ``GLACIER_UPDATE_MYPY_EXPECTED=1`` to rewrite them, then review the diff.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from mypy import api

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "mypy"
UPDATE = os.environ.get("GLACIER_UPDATE_MYPY_EXPECTED") == "1"

# glacier is found through mypy_path, as the project's own source; following its imports
# silently is what mypy does for an installed package with a py.typed marker
CONFIG = f"""\
[mypy]
plugins = glacier.mypy
mypy_path = {ROOT}
show_column_numbers = True

[mypy-glacier.*]
follow_imports = silent
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A copy of the fixtures, as the working directory, with a mypy config for the plugin."""
    work = tmp_path / "project"
    # a cache left in the fixtures by a manual mypy run would make every "cold" run warm
    ignore = shutil.ignore_patterns("*.out", "__pycache__", ".mypy_cache", ".dmypy*", "dmypy.json")
    shutil.copytree(FIXTURES, work, ignore=ignore)
    (work / "mypy.ini").write_text(CONFIG)
    monkeypatch.chdir(work)
    yield work


def run_mypy(*args: str, cache: str = ".mypy_cache") -> tuple[str, str, int]:
    stdout, stderr, status = api.run(["--config-file", "mypy.ini", "--cache-dir", cache, *args])
    return stdout, stderr, status


def expect(name: str, output: str) -> None:
    """Compare mypy's output with ``<name>.out``; rewrite it in update mode."""
    path = FIXTURES / f"{name}.out"
    if UPDATE:
        path.write_text(output)
    assert output == path.read_text()


@pytest.mark.parametrize(
    ("name", "target"),
    [
        ("same_module", ["same_module.py"]),
        ("cross_module", ["-p", "cross_module"]),
        ("future_annotations", ["future_annotations.py"]),
        ("import_cycle", ["-p", "import_cycle"]),
        ("edges", ["edges.py"]),
        ("spellings", ["spellings.py"]),
        ("ignores", ["--warn-unused-ignores", "ignores.py"]),
        ("missing_import", ["missing_import.py"]),
    ],
)
def test_fixture_output(project: Path, name: str, target: list[str]) -> None:
    stdout, stderr, status = run_mypy(*target)
    assert stderr == ""
    expect(name, stdout)
    assert status == (0 if stdout.startswith("Success") else 1)


def test_disable_error_code(project: Path) -> None:
    stdout, _, _ = run_mypy("--disable-error-code", "glacier-edge", "edges.py")
    expect("edges_disabled", stdout)
    assert "glacier-edge" not in stdout


@pytest.mark.parametrize("package", ["cross_module", "import_cycle"])
def test_cold_and_warm_cache_agree(project: Path, package: str) -> None:
    cold, log, _ = run_mypy("-v", "-p", package)
    expect(package, cold)
    # the cold run really analysed the tasks module from its source
    assert parsed(log, f"{package}.tasks")
    warm, log, _ = run_mypy("-v", "-p", package)
    assert warm == cold
    # the warm run really read the tasks module from the cache
    assert f"Metadata fresh for {package}.tasks:" in log
    assert not parsed(log, f"{package}.tasks")


def test_tasks_rechecked_against_a_cached_datasets_module(project: Path) -> None:
    cold, _, _ = run_mypy("-p", "cross_module")
    touch(project / "cross_module" / "tasks.py", "\n# edited\n")
    warm, log, _ = run_mypy("-v", "-p", "cross_module")
    assert warm == cold
    expect("cross_module", warm)
    # the datasets came from the cache (no syntax tree), the tasks were checked again
    assert "Metadata fresh for cross_module.datasets:" in log
    assert not parsed(log, "cross_module.datasets")
    assert "(cross_module.tasks) as inherently stale" in log


def parsed(log: str, module: str) -> bool:
    """Did mypy's verbose log say it parsed ``module`` from source (``Parsing <path> (<module>)``)?"""
    return any(
        line.startswith("LOG:  Parsing ") and line.endswith(f" ({module})")
        for line in log.splitlines()
    )


def touch(path: Path, appended: str) -> None:
    """Append to a file and move its mtime on, so that mypy and dmypy see the change."""
    path.write_text(path.read_text() + appended)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))


def test_changed_payload_rechecks_tasks_in_another_module(project: Path) -> None:
    before, _, _ = run_mypy("-p", "payload_change")
    expect("payload_change_before", before)
    change_payload(project)
    after, log, _ = run_mypy("-v", "-p", "payload_change")
    expect("payload_change_after", after)
    assert "(payload_change.tasks) as stale due to deps" in log


def change_payload(project: Path) -> None:
    """Give ``numbers`` another payload type."""
    path = project / "payload_change" / "datasets.py"
    text = path.read_text()
    assert "Dataset[list[int]]" in text
    path.write_text(text.replace("Dataset[list[int]]", "Dataset[dict[str, str]]"))
    touch(path, "")


@pytest.mark.slow
def test_daemon_agrees_with_mypy_and_rechecks_after_a_payload_change(project: Path) -> None:
    dmypy = [sys.executable, "-m", "mypy.dmypy", "--status-file", str(project / "dmypy.json")]
    # a daemon left behind by a failed stop shuts itself down after ten idle minutes
    run = [*dmypy, "run", "--timeout", "600", "--"]
    run += ["--config-file", "mypy.ini", "--cache-dir", ".dmypy_cache"]

    def check(*target: str) -> str:
        done = subprocess.run(
            [*run, *target], capture_output=True, text=True, timeout=300, check=False
        )
        assert done.returncode in (0, 1) and done.stderr == "", done.stderr
        return done.stdout.replace("Daemon started\n", "")

    try:
        # the daemon keeps every syntax tree that mypy frees; the output must not change
        expect("cross_module", check("-p", "cross_module"))
        expect("payload_change_before", check("-p", "payload_change"))
        change_payload(project)
        expect("payload_change_after", check("-p", "payload_change"))
    finally:
        subprocess.run([*dmypy, "stop"], capture_output=True, timeout=60, check=False)


def test_plugin_leaves_sys_path_alone(project: Path) -> None:
    before = list(sys.path)
    run_mypy("same_module.py")
    assert sys.path == before


def test_import_glacier_does_not_import_the_plugin() -> None:
    code = (
        "import sys, glacier\n"
        "loaded = sorted(m for m in sys.modules if m == 'mypy' or m.startswith('mypy.'))\n"
        "assert 'glacier.mypy' not in sys.modules and not loaded, loaded\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


# glacier, glacier_local and glacier_aws are checked the way a user's mypy sees them once
# installed with their py.typed markers: followed for their types, their own errors silent
EXAMPLES_CONFIG = f"""\
[mypy]
plugins = glacier.mypy
mypy_path = {ROOT / "providers"}

[mypy-glacier.*,glacier_local.*,glacier_aws.*]
follow_imports = silent
"""


@pytest.mark.slow
def test_examples_type_check_strict_with_the_plugin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    examples = sorted((ROOT / "examples").rglob("*.py"))
    assert examples, "no examples to check"
    for path in examples:
        assert "type: ignore" not in path.read_text(), f"{path} silences mypy"
    config = tmp_path / "mypy.ini"
    config.write_text(EXAMPLES_CONFIG)
    monkeypatch.chdir(ROOT)
    stdout, stderr, status = api.run(
        [
            "--strict",
            "--config-file",
            str(config),
            "--cache-dir",
            str(tmp_path / "cache"),
            "examples",
        ]
    )
    assert (stdout, stderr, status) == (
        f"Success: no issues found in {len(examples)} source files\n",
        "",
        0,
    )


def test_plugin_module_imports_on_its_own() -> None:
    """mypy imports its own modules first; the plugin must also import cleanly by itself."""
    code = "import glacier.mypy as m; assert m.plugin('2.0').__name__ == 'GlacierPlugin'"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
