"""Helpers for the build, runner and graph tests: example projects and clean subprocesses."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
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


def write_files(files: Mapping[str, bytes], out: Path) -> None:
    """Write generated ``{relative POSIX path: bytes}`` under ``out``."""
    for path, data in files.items():
        target = out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def tiny_wheel(folder: Path) -> Path:
    """A tiny pure-Python wheel (``tinydep`` 1.0, ``py3-none-any``) in ``folder``, written by
    hand: no build tools, no network. Returns ``folder``."""
    import base64
    import hashlib
    import zipfile

    folder.mkdir(exist_ok=True)
    files = {
        "tinydep/__init__.py": "VALUE = 42\n",
        "tinydep-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: tinydep\nVersion: 1.0\n",
        "tinydep-1.0.dist-info/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = []
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{name},sha256={digest.decode()},{len(text.encode())}")
    record.append("tinydep-1.0.dist-info/RECORD,,")
    files["tinydep-1.0.dist-info/RECORD"] = "\n".join(record) + "\n"
    with zipfile.ZipFile(folder / "tinydep-1.0-py3-none-any.whl", "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return folder


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
