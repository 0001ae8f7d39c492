"""The project's own code meets the bar it sets for generated code: ruff-clean, strictly typed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PACKAGES = [
    "glacier",
    "analyzer",
    "codegen",
    "rehearse",
    "glacier_cli",
    "providers/glacier_local",
    "providers/glacier_aws",
]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=False)


def test_ruff_check_is_clean() -> None:
    done = _run(str(BIN / "ruff"), "check", ".")
    assert done.returncode == 0, done.stdout + done.stderr


def test_ruff_format_is_clean() -> None:
    done = _run(str(BIN / "ruff"), "format", "--check", ".")
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_packages_type_check_strictly() -> None:
    done = _run(sys.executable, "-m", "mypy", "--strict", "--cache-dir", "/dev/null", *PACKAGES)
    assert done.returncode == 0, done.stdout + done.stderr
