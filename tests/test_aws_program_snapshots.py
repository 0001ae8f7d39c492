"""Every generated AWS file of every example, snapshotted whole (``pytest --snapshot-update``).

Vendored copies (``glacier/``, ``glacier_aws/`` beside each program, ``bundle/_glacier_io.py``)
are not snapshotted: they must be byte-for-byte the installed sources, which is asserted here.
"""

from __future__ import annotations

import functools
import importlib.util
import re
from pathlib import Path

import pytest
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

from analyzer import analyze
from codegen.aws import emit_programs

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ["layer1_local.py", "layer2_environments.py", "layer3_raw_pulumi.py", "orders"]


class TextFile(SingleFileSnapshotExtension):
    _write_mode = WriteMode.TEXT
    file_extension = "txt"


def _vendored(path: str) -> bool:
    parts = path.split("/")
    return parts[2] in ("glacier", "glacier_aws") or parts[2:] == ["bundle", "_glacier_io.py"]


@functools.cache
def _built() -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for example in EXAMPLES:
        analysis = analyze([str(ROOT / "examples" / example)])
        (model,) = analysis.pipelines
        for path, data in emit_programs(analysis, model).items():
            files[f"{model.name}/{path}"] = data
    return files


GENERATED = sorted(p for p in _built() if not _vendored(p.split("/", 1)[1]))


def _stable(path: str, text: str) -> str:
    """A bundle's requirements pin the versions installed here (test_plan checks them against
    importlib.metadata); the snapshot keeps the names, so a newer install does not break it."""
    if path.endswith("/bundle/requirements.txt"):
        return re.sub(r"==\S+", "==<installed>", text)
    return text


@pytest.mark.parametrize("path", GENERATED, ids=[p.replace("/", "__") for p in GENERATED])
def test_generated_file(path: str, snapshot) -> None:  # type: ignore[no-untyped-def]
    text = _stable(path, _built()[path].decode("utf-8"))
    assert text == snapshot.use_extension(TextFile)


def _source_of(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    assert spec is not None and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations)))


def test_vendored_files_are_the_installed_sources() -> None:
    sources = {
        "glacier": _source_of("glacier"),
        "glacier_aws": _source_of("glacier_aws"),
        "_glacier_io.py": _source_of("glacier_local") / "_io.py",
    }
    vendored = [p for p in _built() if _vendored(p.split("/", 1)[1])]
    programs = {p.split("/pulumi/")[0] + "/" + p.split("/")[2] for p in _built()}
    assert len(programs) == 5
    for path in vendored:
        parts = path.split("/")
        rel = parts[4:]
        if parts[3] == "bundle":
            original = sources["_glacier_io.py"]
        else:
            original = sources[parts[3]].joinpath(*rel)
        assert _built()[path] == original.read_bytes(), path
    for program in programs:
        names = {p.split("/", 4)[3] for p in vendored if p.startswith(program.split("/")[0])}
        assert {"glacier", "glacier_aws"} <= names
    # The mypy plugin stays out of the programs (the CLI is not in the glacier package).
    assert not [p for p in vendored if p.endswith("/glacier/mypy.py")]


def test_build_is_deterministic() -> None:
    first = dict(_built())
    _built.cache_clear()
    assert _built() == first


def test_generated_python_is_formatted_like_the_project(tmp_path: Path) -> None:
    """``ruff format`` and ``ruff check`` (line length 100) accept the generated Python."""
    import shutil
    import subprocess
    import sys

    if shutil.which("ruff") is None and not (Path(sys.executable).parent / "ruff").exists():
        pytest.skip("ruff is not installed (it is in the dev extra)")
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    written = []
    for path in GENERATED:
        if (
            path.endswith((".py",))
            and "/bundle/" not in path
            or path.endswith("glacier_handler.py")
        ):
            target = tmp_path / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(_built()[path])
            written.append(str(target))
    assert len(written) == 9
    common = ["--isolated", "--line-length", "100"]
    fmt = subprocess.run(
        [ruff, "format", *common, "--check", *written], capture_output=True, text=True, check=False
    )
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr
    lint = subprocess.run(
        [ruff, "check", *common, "--select", "E,F,W,UP,B", *written],
        capture_output=True,
        text=True,
        check=False,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
