"""Deployment targets are looked up by name; a package adds one with an entry point alone.

The plugin below is a real installed distribution (a ``.dist-info`` with ``entry_points.txt``
on ``sys.path``), found by ``importlib.metadata`` in a child process, as ``glacier-gcp``
would be: ``glacier build``, ``plan`` and ``rehearse`` use it with no change to Glacier.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import codegen
from codegen.aws import TARGET
from glacier.errors import UsageError

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "layer1_local.py"

PLUGIN = '''
"""A deployment target for a cloud that writes one text file per environment."""

import json
import os
import sys


class Target:
    name = "fake"

    def diagnostics(self, analysis, model):
        return []

    def artifacts(self, ctx):
        return {f"fake/{env}/tasks.txt": text for env, text in self._texts(ctx.model).items()}

    def programs(self, analysis, model):
        return {env: {"tasks.txt": text.encode()} for env, text in self._texts(model).items()}

    def program_dir(self, env):
        return f"fake/{env}"

    def package(self, pipeline_dir, model, pip_args):
        return iter(())

    def preview(self, program_dir, env, built_dir):
        with open(os.path.join(program_dir, "tasks.txt")) as fh:
            tasks = fh.read().split()
        return {"resources": tasks, "placeholders": [], "warnings": ["fake clouds are fake"]}

    def render_preview(self, previews, fmt):
        return json.dumps([[p["pipeline"], p["environment"], p["resources"]] for p in previews])

    def rehearse(self, program_dir, env, *, pipeline, data_dir, work_dir, report):
        print(f"rehearsed {pipeline} in {env}", file=sys.stderr)
        return 3

    def _texts(self, model):
        return {"dev": "\\n".join(sorted(t.name for t in model.tasks)) + "\\n"}


TARGET = Target()
'''


@pytest.fixture(scope="module")
def plugin(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A site directory holding the installed plugin; the environment that sees it."""
    site = tmp_path_factory.mktemp("site")
    (site / "fake_target.py").write_text(textwrap.dedent(PLUGIN))
    dist = site / "fake_target-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-target\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[glacier.targets]\nfake = fake_target:TARGET\n")
    path = os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path}


def _glacier(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "glacier_cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_aws_is_the_built_in_target() -> None:
    assert codegen.target("aws") is TARGET
    assert codegen.target() is TARGET
    assert codegen.targets() == {"aws": TARGET}


def test_an_unknown_target_is_a_usage_error_naming_the_known_ones() -> None:
    with pytest.raises(UsageError, match=r"no deployment target `gcp` \(known: aws\)"):
        codegen.target("gcp")


def test_the_cli_refuses_an_unknown_target_with_exit_2(tmp_path: Path) -> None:
    done = _glacier(dict(os.environ), tmp_path, "build", str(EXAMPLE), "--target", "gcp")
    assert done.returncode == 2
    assert "no deployment target `gcp` (known: aws)" in done.stderr
    assert "Usage: python -m glacier_cli build" in done.stderr


def test_an_installed_plugin_builds_through_the_same_command(
    plugin: dict[str, str], tmp_path: Path
) -> None:
    done = _glacier(plugin, tmp_path, "build", str(EXAMPLE), "--target", "fake", "--out", "out")
    assert done.returncode == 0, done.stderr
    (pipeline,) = [p for p in (tmp_path / "out").iterdir()]
    files = sorted(str(p.relative_to(pipeline)) for p in pipeline.rglob("*") if p.is_file())
    assert "fake/dev/tasks.txt" in files
    assert not [f for f in files if f.startswith("pulumi/")]  # AWS is not asked for
    assert {"manifest.json", "graph.mmd", "run_local.py"} <= set(files)


def test_an_installed_plugin_previews_and_rehearses(plugin: dict[str, str], tmp_path: Path) -> None:
    args = [str(EXAMPLE), "--target", "fake", "--env", "dev"]
    planned = _glacier(plugin, tmp_path, "plan", *args)
    assert planned.returncode == 0, planned.stderr
    assert '"dev", ["extract", "transform"]' in planned.stdout
    assert "fake clouds are fake" in planned.stderr
    rehearsed = _glacier(plugin, tmp_path, "rehearse", *args)
    assert rehearsed.returncode == 3  # the target's exit status, passed through
    assert "rehearsed" in rehearsed.stderr
