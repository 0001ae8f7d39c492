"""Every command the README shows works as written.

Shell blocks (```sh) and inline commands (`python ...`, `glacier ...`) run in a copy of the
examples; ```console blocks must print what they show. Commands that need what this machine
cannot have (the Pulumi CLI and an AWS account) or that are this suite itself (`make`) are
listed in SKIP, so nothing is left out silently.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()

SKIP = {
    "make demo": "the quickstart itself; CI runs `make test`, which runs this test",
    "make test": "the quickstart itself; CI runs `make test`, which runs this test",
    "make bench": "a benchmark, not a test",
    **{
        f'pip install "/path/to/glacier{extra}"': (
            "installs Glacier into the environment running the tests; "
            "tests/test_user_install.py installs the wheel into a fresh one and runs the "
            "commands from there"
        )
        for extra in ("", "[aws]", "[mypy]", "[rehearse]")
    },
    "cd build/orders/pulumi/default && pulumi stack init default && pulumi up": (
        "needs the Pulumi CLI and an AWS account; `glacier plan` runs the same program "
        "under mocks instead"
    ),
}


def _shell_commands() -> list[str]:
    commands: list[str] = []
    for block in re.findall(r"```sh\n(.*?)```", README, re.DOTALL):
        for line in block.splitlines():
            command = line.split("  #", 1)[0].strip()
            if command:
                commands.append(command)
    prose = re.sub(r"```.*?```", "", README, flags=re.DOTALL)
    for span in re.findall(r"`((?:python |glacier |PYTHONPATH=)[^`\n]*)`", prose):
        # synopses (`glacier run PATH [--from T]`) document usage; they are not commands
        if not re.search(r"<|\[|\.\.\.|\b(?:PATH|NAME|TASK|DIR|N|D|T)\b", span):
            commands.append(span)
    return list(dict.fromkeys(commands))


def _console_blocks() -> list[tuple[str, str]]:
    found = []
    for block in re.findall(r"```console\n(.*?)```", README, re.DOTALL):
        lines = block.splitlines()
        command = lines[0].removeprefix("$ ")
        found.append((command, "\n".join(lines[1:]) + "\n"))
    return found


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("readme")
    shutil.copytree(
        ROOT / "examples", work / "examples", ignore=shutil.ignore_patterns("__pycache__")
    )
    (work / "pyproject.toml").write_text('[project]\nname = "readme-check"\n')
    return work


def _run(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    bindir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": bindir + os.pathsep + os.environ.get("PATH", "")}
    env.pop("PYTHONPATH", None)
    return subprocess.run(
        command,
        shell=True,
        check=False,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_readme_shows_commands() -> None:
    commands = _shell_commands()
    assert "python examples/layer1_local.py" in commands
    assert "glacier run examples/layer3_raw_pulumi.py" in commands
    assert len(commands) > 8


def test_every_shell_command_works_in_order(workdir: Path) -> None:
    ran = []
    for command in _shell_commands():
        if command in SKIP:
            continue
        done = _run(command, workdir)
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
        ran.append(command)
    assert len(ran) >= 8


@pytest.mark.parametrize(("command", "expected"), _console_blocks())
def test_console_blocks_print_what_they_show(workdir: Path, command: str, expected: str) -> None:
    done = _run(command, workdir)
    assert done.stdout == expected
