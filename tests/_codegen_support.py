"""Helpers for the build, runner and graph tests: example projects and clean subprocesses."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
EXAMPLE_DATA = EXAMPLES / "data"

_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".glacier", "build")


def copy_examples(tmp_path: Path) -> Path:
    """A project at ``tmp_path/project`` holding a copy of ``examples/``; returns its root."""
    root = tmp_path / "project"
    shutil.copytree(EXAMPLES, root / "examples", ignore=_IGNORE)
    (root / "pyproject.toml").write_text('[project]\nname = "demo"\nversion = "0"\n')
    return root


def write_project(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "project"
    root.mkdir(exist_ok=True)
    (root / "pyproject.toml").write_text('[project]\nname = "demo"\nversion = "0"\n')
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def isolated_env(tmp_path: Path) -> dict[str, str]:
    """An environment with nothing that could lead Python to glacier."""
    return {"PATH": os.defpath, "HOME": str(tmp_path), "LC_ALL": "C.UTF-8"}


def run_isolated(
    tmp_path: Path, script: Path, *args: str, cwd: Path, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run a generated runner with ``python -I -S``: no site-packages, so no glacier."""
    return subprocess.run(
        [sys.executable, "-I", "-S", str(script), *args],
        cwd=cwd,
        env=isolated_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def glacier_is_importable(tmp_path: Path) -> bool:
    probe = subprocess.run(
        [sys.executable, "-I", "-S", "-c", "import glacier"],
        cwd=tmp_path,
        env=isolated_env(tmp_path),
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


def analyze_paths(*paths: Path | str) -> Any:
    from analyzer import analyze

    return analyze([str(p) for p in paths])
