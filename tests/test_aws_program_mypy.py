"""The generated Pulumi programs type-check with real mypy against pulumi_aws's own hints.

Each program is checked from its own directory, so ``glacier_aws`` resolves to the copy
vendored beside ``__main__.py`` (as when Pulumi runs it); imported modules are analysed for
their types but only ``__main__.py`` reports errors (``--follow-imports=silent``).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from _codegen_support import write_files

from analyzer import analyze
from codegen.aws import emit_programs

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ["layer1_local.py", "layer2_environments.py", "layer3_raw_pulumi.py", "orders"]
MYPY_INI = "[mypy]\npython_version = 3.11\nwarn_unused_ignores = True\n"

pytest.importorskip("mypy")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("mypy-programs")
    programs: dict[str, Path] = {}
    for example in EXAMPLES:
        analysis = analyze([str(ROOT / "examples" / example)])
        (model,) = analysis.pipelines
        write_files(emit_programs(analysis, model), out / example)
        for directory in sorted((out / example / "pulumi").iterdir()):
            programs[f"{example}:{directory.name}"] = directory
    (out / "mypy.ini").write_text(MYPY_INI)
    return programs


def _mypy(directory: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(directory.parents[2] / "mypy.ini"),
            "--strict",
            "--follow-imports=silent",
            "--cache-dir",
            str(cache),
            "__main__.py",
        ],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mypy-cache")


@pytest.mark.slow
def test_every_program_type_checks(built: dict[str, Path], cache: Path) -> None:
    assert len(built) == 5
    for name, directory in built.items():
        result = _mypy(directory, cache)
        assert result.returncode == 0, f"{name}:\n{result.stdout}{result.stderr}"
        assert "Success: no issues found in 1 source file" in result.stdout


@pytest.mark.slow
def test_mypy_catches_a_wrong_argument(built: dict[str, Path], cache: Path) -> None:
    """Not vacuous: a string where pulumi_aws / glacier_aws want an int is an error."""
    directory = built["orders:default"]
    main = directory / "__main__.py"
    original = main.read_text()
    assert "memory_mb=256," in original
    main.write_text(original.replace("memory_mb=256,", 'memory_mb="256",', 1))
    try:
        result = _mypy(directory, cache)
    finally:
        main.write_text(original)
    assert result.returncode == 1
    assert 'Argument "memory_mb" to "LambdaTask" has incompatible type "str"' in result.stdout
