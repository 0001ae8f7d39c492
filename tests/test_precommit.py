"""The real pre-commit tool runs this repository's hooks (`glacier-check`, the opt-in
`glacier-fix`) in a scratch git repo.

``pre-commit try-repo`` installs the hook from this repository (HEAD plus uncommitted changes to
tracked files) into a fresh virtualenv, the way a user's ``.pre-commit-config.yaml`` would.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

CYCLE = """\
from glacier import Dataset, Pipeline

pipeline = Pipeline(name="loop")
a = Dataset(name="a")
b = Dataset(name="b")


@pipeline.task()
def first(x: b) -> a:
    return x


@pipeline.task()
def second(y: a) -> b:
    return y
"""

VALID = """\
from glacier import Dataset, ObjectStorage, Pipeline

pipeline = Pipeline(name="etl")
raw = Dataset(name="raw", storage=ObjectStorage(bucket="landing"))
clean = Dataset(name="clean", storage=ObjectStorage(bucket="results"))


@pipeline.task()
def transform(data: raw) -> clean:
    return data
"""

DEFS = """\
from glacier import Dataset, Pipeline

pipeline = Pipeline(name="split")
a = Dataset(name="a")
b = Dataset(name="b")
"""
FIRST = (
    "from defs import a, b, pipeline\n\n\n@pipeline.task()\ndef first(x: b) -> a:\n    return x\n"
)
SECOND = (
    "from defs import a, b, pipeline\n\n\n@pipeline.task()\ndef second(y: a) -> b:\n    return y\n"
)


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def _try_repo(
    repo: Path, home: Path, *args: str, hook: str = "glacier-check"
) -> subprocess.CompletedProcess[str]:
    pre_commit = shutil.which("pre-commit", path=os.path.dirname(sys.executable))
    assert pre_commit is not None, "pre-commit is part of the dev extra"
    env = {**os.environ, "PRE_COMMIT_HOME": str(home), "PRE_COMMIT_COLOR": "never"}
    return subprocess.run(
        [pre_commit, "try-repo", str(ROOT), hook, *args],
        cwd=repo,
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
def test_hook_fails_on_a_cycle_and_passes_once_it_is_fixed(tmp_path: Path) -> None:
    repo = tmp_path / "project"
    repo.mkdir()
    _git(repo, "init", "-q")
    _git(repo, "config", "user.email", "dev@example.com")
    _git(repo, "config", "user.name", "dev")
    (repo / "pyproject.toml").write_text('[project]\nname = "demo"\n')
    (repo / "flow.py").write_text(CYCLE)
    _git(repo, "add", "-A")

    failed = _try_repo(repo, tmp_path / "home", "--all-files")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "glacier check" in failed.stdout and "Failed" in failed.stdout
    assert "flow.py:9:1: GLC101 the tasks of pipeline `loop` form a cycle" in failed.stdout

    (repo / "flow.py").write_text(VALID)
    _git(repo, "add", "-A")
    passed = _try_repo(repo, tmp_path / "home", "--all-files")
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "Passed" in passed.stdout

    # A DAG spans modules: one changed file is checked with every module of its pipeline.
    (repo / "defs.py").write_text(DEFS)
    (repo / "first.py").write_text(FIRST)
    (repo / "second.py").write_text(SECOND)
    _git(repo, "add", "-A")
    changed = _try_repo(repo, tmp_path / "home", "--files", "second.py")
    assert changed.returncode == 1, changed.stdout + changed.stderr
    assert "GLC101 the tasks of pipeline `split` form a cycle" in changed.stdout
    assert "task `first` (first.py:5:1)" in changed.stdout


BARE = VALID.replace("@pipeline.task()", "@pipeline.task  # the transform")


@pytest.mark.slow
def test_fix_hook_fixes_fails_because_it_changed_a_file_then_passes(tmp_path: Path) -> None:
    repo = tmp_path / "project"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "pyproject.toml").write_text('[project]\nname = "demo"\n')
    (repo / "flow.py").write_text(BARE)
    _git(repo, "add", "-A")

    fixed = _try_repo(repo, tmp_path / "home", "--all-files", hook="glacier-fix")
    assert fixed.returncode == 1, fixed.stdout + fixed.stderr
    assert "files were modified by this hook" in fixed.stdout
    assert "Fixed 1 finding" in fixed.stdout
    assert (repo / "flow.py").read_text() == VALID.replace(
        "@pipeline.task()", "@pipeline.task()  # the transform"
    )

    _git(repo, "add", "-A")
    passed = _try_repo(repo, tmp_path / "home", "--all-files", hook="glacier-fix")
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "Passed" in passed.stdout


def test_the_readmes_hook_configuration_runs_as_written(tmp_path: Path) -> None:
    """The `.pre-commit-config.yaml` the README gives, verbatim, with the glacier installed
    here on the PATH (what `language: system` runs)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Pre-commit hook", 1)[1]
    config = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    repo = tmp_path / "project"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / ".pre-commit-config.yaml").write_text(config)
    (repo / "pyproject.toml").write_text('[project]\nname = "demo"\n')
    (repo / "flow.py").write_text(CYCLE)
    _git(repo, "add", "-A")
    pre_commit = shutil.which("pre-commit", path=os.path.dirname(sys.executable))
    assert pre_commit is not None
    env = {
        **os.environ,
        "PRE_COMMIT_HOME": str(tmp_path / "home"),
        "PRE_COMMIT_COLOR": "never",
        "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
    }
    ran = subprocess.run(
        [pre_commit, "run", "--all-files"],
        cwd=repo,
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert "flow.py:9:1: GLC101 the tasks of pipeline `loop` form a cycle" in ran.stdout
