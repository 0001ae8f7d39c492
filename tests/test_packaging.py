"""The distribution ships every package: an installed (non-editable) glacier must be whole."""

from __future__ import annotations

import tomllib
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
    assert "py.typed" in data["glacier"] and "py.typed" in data["glacier_aws"]
    templates = [p for p in (ROOT / "codegen" / "templates").rglob("*") if p.is_file()]
    assert templates, "codegen has templates to ship"
    for template in templates:
        package = ".".join(template.parent.relative_to(ROOT).parts)
        assert any(template.match(pattern) for pattern in data[package]), template
