"""The import layering of docs/architecture.md, read from the source (nothing is imported).

Layers, bottom to top; a package may import its own modules, the public modules of the
packages in lower layers, and nothing else of this project:

    0  glacier                                   the user's API and the model
    1  analyzer, glacier_local, glacier_aws      the static path; the providers
    2  codegen                                   artifacts and deployment targets
    3  rehearse                                  a deployment executed on an emulator
    4  glacier_cli                               the ``glacier`` command

A module is private when a part of its dotted name after the package starts with ``_``
(``analyzer._check``); only its own package may import it. Lazy imports inside functions
count, and so do ``importlib.import_module("...")`` and ``"module:attribute"`` strings.
The core imports nothing outside the standard library but ``typing_extensions`` (and the
mypy plugin, ``mypy``; ``glacier.params``, PyYAML when it reads a YAML file).
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {
    "glacier": ROOT / "glacier",
    "analyzer": ROOT / "analyzer",
    "glacier_local": ROOT / "providers" / "glacier_local",
    "glacier_aws": ROOT / "providers" / "glacier_aws",
    "codegen": ROOT / "codegen",
    "rehearse": ROOT / "rehearse",
    "glacier_cli": ROOT / "glacier_cli",
}
LAYER = {
    "glacier": 0,
    "analyzer": 1,
    "glacier_local": 1,
    "glacier_aws": 1,
    "codegen": 2,
    "rehearse": 3,
    "glacier_cli": 4,
}
CORE_THIRD_PARTY = {"typing_extensions"}
EXCEPTIONS = {
    # the handler's source, type-checked against the storage module every bundle embeds a
    # copy of (as `_glacier_io`); only the code after its `embedded` marks is generated
    ("codegen.embedded.glacier_handler", "glacier_local._io"),
}
CORE_EXTRA = {
    "glacier.mypy": {"mypy"},  # the plugin runs inside mypy
    "glacier.params": {"yaml"},  # optional, lazily, only to read a `--params` YAML file
}
_SPEC = re.compile(r"^([A-Za-z_][\w.]*)(?::\w+)?$")


def _modules() -> Iterator[tuple[str, Path]]:
    for package, folder in PACKAGES.items():
        for path in sorted(folder.rglob("*.py")):
            parts = path.relative_to(folder).with_suffix("").parts
            name = ".".join((package, *parts)).removesuffix(".__init__")
            yield name, path


def imported_names(source: str) -> Iterator[tuple[int, str]]:
    """Every module (or ``module.name``) the source imports, with its line."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                yield node.lineno, f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            first = node.args[0]
            if called == "import_module" and isinstance(first, ast.Constant):
                yield node.lineno, str(first.value)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            spec = _SPEC.match(node.value) if ":" in node.value else None
            if spec is not None and spec.group(1).split(".")[0] in LAYER:  # not `s3:GetObject`
                yield node.lineno, spec.group(1)


def violations(module: str, source: str) -> list[str]:
    """What ``module`` (a dotted name in one of ``PACKAGES``) imports against the layering."""
    package = module.split(".")[0]
    found = []
    for line, name in imported_names(source):
        parts = name.split(".")
        top = parts[0]
        if top == package:
            continue
        where = f"{module}:{line} imports {name}"
        if (module, name) in EXCEPTIONS:
            continue
        if top in LAYER:
            if LAYER[top] >= LAYER[package]:
                found.append(f"{where}: {top} is not below {package}")
            elif any(p.startswith("_") and not p.startswith("__") for p in parts[1:]):
                found.append(f"{where}: a private module of {top}")
        elif package == "glacier":
            allowed = CORE_THIRD_PARTY | CORE_EXTRA.get(module, set())
            if top not in sys.stdlib_module_names and top not in allowed:
                found.append(f"{where}: the core imports only the standard library")
    return found


def test_every_package_imports_only_below_it_and_only_public_modules() -> None:
    found = [v for name, path in _modules() for v in violations(name, path.read_text())]
    assert found == []


def test_every_package_of_the_distribution_has_a_layer() -> None:
    """A new top-level package must be placed in a layer before anything can import it."""
    text = (ROOT / "pyproject.toml").read_text()
    listed = re.search(r"packages = \[(.*?)\]", text, re.DOTALL)
    assert listed is not None
    tops = {p.split(".")[0] for p in re.findall(r'"([\w.]+)"', listed.group(1))}
    assert tops == set(LAYER)


@pytest.mark.parametrize(
    ("module", "source", "problem"),
    [
        ("glacier.x", "import analyzer\n", "analyzer is not below glacier"),
        ("codegen.x", "def f():\n    from glacier_cli import main\n", "not below codegen"),
        ("analyzer.x", "from glacier_local import LocalExecutor\n", "not below analyzer"),
        ("codegen.x", "from analyzer._check import check\n", "a private module of analyzer"),
        ("glacier_cli.x", "from codegen.aws import _emit\n", "a private module of codegen"),
        ("glacier_cli.x", "import importlib\nimportlib.import_module('rehearse._x')\n", "private"),
        ("rehearse.x", "SPEC = 'glacier_cli:main'\n", "glacier_cli is not below rehearse"),
        ("glacier.x", "import jinja2\n", "the core imports only the standard library"),
    ],
)
def test_the_check_finds_each_kind_of_violation(module: str, source: str, problem: str) -> None:
    found = violations(module, source)
    assert len(found) == 1 and problem in found[0], found


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("glacier_cli.x", "from analyzer import check\nfrom codegen import build, target\n"),
        ("codegen.x", "from glacier_aws.archive import measure_bundle\n"),
        ("analyzer.x", "from glacier import validate\nfrom glacier.model import Span\n"),
        ("glacier.mypy", "from mypy.plugin import Plugin\nimport typing_extensions\n"),
        ("glacier.x", "ACTIONS = ('s3:GetObject', 'secretsmanager:GetSecretValue')\n"),
        ("glacier.x", "from glacier._pipeline import Pipeline\nimport os, json\n"),
    ],
)
def test_what_the_layering_allows(module: str, source: str) -> None:
    assert violations(module, source) == []
