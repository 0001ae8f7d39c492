"""The distribution ships every package: an installed (non-editable) glacier must be whole."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _declared() -> tuple[set[str], dict[str, str]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    return set(config["packages"]), dict(config["package-dir"])


def test_every_package_directory_is_declared() -> None:
    packages, package_dir = _declared()
    roots = {
        name: ROOT / name for name in ("glacier", "analyzer", "codegen", "rehearse", "glacier_cli")
    }
    roots.update({name: ROOT / path for name, path in package_dir.items()})
    found = set()
    for name, root in roots.items():
        for init in root.rglob("__init__.py"):
            relative = init.parent.relative_to(root).parts
            found.add(".".join((name, *relative)))
    # template directories are data-only packages: declared so setuptools ships them quietly
    templates = {
        ".".join(("codegen", *d.relative_to(ROOT / "codegen").parts))
        for d in (ROOT / "codegen" / "templates", *(ROOT / "codegen" / "templates").rglob("*"))
        if d.is_dir()
    }
    assert found | templates == packages


def test_package_data_covers_templates_and_markers() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    data = config["package-data"]
    top = {name for name in _declared()[0] if "." not in name}
    assert {name for name in top if "py.typed" in data.get(name, [])} == top
    templates = [p for p in (ROOT / "codegen" / "templates").rglob("*") if p.is_file()]
    assert templates, "codegen has templates to ship"
    for template in templates:
        package = ".".join(template.parent.relative_to(ROOT).parts)
        assert any(template.match(pattern) for pattern in data[package]), template


def test_the_wheel_marks_every_package_typed(tmp_path: Path) -> None:
    """PEP 561: without `py.typed` in the installed package, a user's mypy reports "missing
    library stubs or py.typed marker" for it (`glacier_local` shipped without one)."""
    # built from a copy: setuptools writes build/ and *.egg-info beside the sources it builds
    source = tmp_path / "source"
    packages, package_dir = _declared()
    for name in {p.split(".")[0] for p in packages}:
        shutil.copytree(
            ROOT / package_dir.get(name, name),
            source / package_dir.get(name, name),
            ignore=shutil.ignore_patterns("__pycache__"),
        )
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(source)],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = tmp_path.glob("glacier-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {name for name in _declared()[0] if "." not in name}
    assert {n.split("/")[0] for n in names if n.endswith("/py.typed")} == top
