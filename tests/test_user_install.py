"""Glacier installed as a user installs it: a wheel, into a fresh virtual environment (not
editable, none of this checkout on the path), with a project of the user's own beside it.

From that project, with only the fresh environment's commands: `glacier check`, `glacier
build`, the standalone runner, mypy with Glacier's plugin, and `glacier plan`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

FLOWS = '''\
"""The user's pipeline."""

from glacier import Dataset, ObjectStorage, Pipeline

pipeline = Pipeline(name="shop")
orders = Dataset[list[int]](name="orders", storage=ObjectStorage(bucket="shop-in"))
total = Dataset[int](name="total", storage=ObjectStorage(bucket="shop-out"))


@pipeline.task()
def add_up(values: orders) -> total:
    return sum(values)
'''

PYPROJECT = """\
[project]
name = "shop"
version = "0"

[tool.glacier]
pipelines = ["flows.py"]

[tool.mypy]
plugins = ["glacier.mypy"]
strict = true
"""


def _wheel(out: Path) -> Path:
    """The wheel of this checkout, built from a copy of its sources (see test_packaging)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    package_dir: dict[str, str] = config["package-dir"]
    source = out / "source"
    for name in {p.split(".")[0] for p in config["packages"]}:
        where = package_dir.get(name, name)
        shutil.copytree(ROOT / where, source / where, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(source)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (wheel,) = out.glob("glacier-*.whl")
    return wheel


@pytest.mark.slow
def test_a_user_installs_the_wheel_and_uses_every_command(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path / "dist")
    env_dir = tmp_path / "env"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    bin_dir = env_dir / "bin"
    python = bin_dir / "python"
    # the versions this checkout is tested with, where the extras would take the newest
    pins = [
        r
        for r in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
            "optional-dependencies"
        ]["dev"]
        if r.startswith(("pulumi", "mypy==", "typing_extensions"))
    ]
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", f"{wheel}[aws,mypy]", *pins],
        check=True,
        capture_output=True,
        timeout=1200,
    )
    project = tmp_path / "shop"
    project.mkdir()
    (project / "pyproject.toml").write_text(PYPROJECT)
    (project / "flows.py").write_text(FLOWS)
    data = project / ".glacier" / "data" / "shop-in"
    data.mkdir(parents=True)
    (data / "orders.json").write_text("[1, 2, 3]")
    # only the fresh environment: no PYTHONPATH, this checkout's directory is not the cwd
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"

    def run(*command: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            list(command),
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert done.returncode == 0, (command, done.stdout[-2000:], done.stderr[-2000:])
        return done

    where = run(str(python), "-c", "import glacier, glacier_local; print(glacier.__file__)")
    assert str(env_dir) in where.stdout and str(ROOT) not in where.stdout
    assert "No problems found" in run(str(bin_dir / "glacier"), "check").stdout
    run(str(bin_dir / "glacier"), "build")
    ran = run(str(python), "build/shop/run_local.py")
    assert (project / ".glacier" / "data" / "shop-out" / "total.json").read_text().strip() == "6"
    assert "add_up" in ran.stdout
    assert "Success" in run(str(bin_dir / "mypy"), "flows.py").stdout
    planned = run(str(bin_dir / "glacier"), "plan", "--env", "default")
    assert "aws:lambda/function:Function" in planned.stdout
