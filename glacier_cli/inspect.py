"""``glacier inspect``: print the intermediate model of the pipelines under some paths.

By default the model comes from the static path (the modules are only read). With
``--runtime`` the modules are imported, which executes them, and the model comes from
``pipeline.to_model()``. For any module both can handle the two outputs are identical.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

import click

from glacier.model import PipelineModel
from glacier_cli._common import Command, Misuse, Stop

__all__ = ["inspect_", "runtime_models", "static_models"]


@click.command("inspect", cls=Command)
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@click.option(
    "--runtime",
    is_flag=True,
    help="Import the modules (this EXECUTES their top-level code) and describe the live "
    "pipelines, instead of reading the source.",
)
def inspect_(paths: tuple[str, ...], runtime: bool) -> None:
    """Print the pipelines under PATHS as JSON: {"pipelines": [<model>, ...]}.

    \b
    PATHS are files or directories (default: the project's [tool.glacier] pipelines, or the
    project root). Without --runtime nothing is imported or executed: the modules are read;
    errors `glacier check` would report (a module that cannot be parsed, a cycle) are printed
    to stderr after the JSON, which then describes what could be read, and the exit status is 1.
    With --runtime the modules are imported (their top-level code runs), with the project root
    and each module's source root on sys.path; `__main__.py` files are not imported, and
    modules that construct raw Pulumi resources only import inside a Pulumi program.
    """
    if runtime:
        models, errors = runtime_models(paths), ""
    else:
        models, errors = _static_models_and_errors(paths)
    payload = {"pipelines": [m.to_dict() for m in models]}
    click.echo(json.dumps(payload, indent=2, ensure_ascii=False))
    if errors:
        raise Stop(errors.rstrip("\n"))


class _RuntimeImportError(Misuse):
    """A module raised while being imported: the runtime path cannot describe it (exit 2)."""

    def __init__(self, message: str) -> None:
        super().__init__(f"Error: {message}")


def static_models(paths: Sequence[str]) -> list[PipelineModel]:
    return _static_models_and_errors(paths)[0]


def _static_models_and_errors(paths: Sequence[str]) -> tuple[list[PipelineModel], str]:
    """The models, and the errors found on the way as `glacier check` prints them: a module
    that cannot be read is not silently missing from the output."""
    from analyzer import analyze, render_text

    analysis = analyze(list(paths))
    errors = [d for d in analysis.diagnostics if d.severity == "error"]
    return list(analysis.pipelines), render_text(errors, None) if errors else ""


def runtime_models(paths: Sequence[str]) -> list[PipelineModel]:
    """Import the modules under ``paths`` and describe every Pipeline they hold."""
    from analyzer import find_root, iter_python_files, load_config
    from glacier import Pipeline
    from glacier.source import module_name_for

    root = find_root(list(paths))
    config = load_config(root)
    if not paths:
        if not config.pipelines:
            raise click.UsageError(
                "--runtime imports (executes) what it describes: name the PATHS, or list them "
                "in [tool.glacier] pipelines of pyproject.toml"
            )
        paths = [os.path.join(root, p) for p in config.pipelines]
    files = [
        f for f in iter_python_files(paths, root, config) if os.path.basename(f) != "__main__.py"
    ]
    search = [root]
    names: list[str] = []
    for path in files:
        name = module_name_for(path)
        names.append(name)
        base = os.path.dirname(path)
        depth = name.count(".") + (1 if os.path.basename(path) == "__init__.py" else 0)
        for _ in range(depth):
            base = os.path.dirname(base)
        if base not in search:
            search.append(base)
    for directory in reversed(search):
        if directory not in sys.path:
            sys.path.insert(0, directory)
    importlib.invalidate_caches()
    before = set(sys.modules)
    imported: list[Any] = []
    for name in names:
        try:
            imported.append(importlib.import_module(name))
        except BaseException as exc:  # noqa: BLE001 - user code may raise anything, even SystemExit
            raise _RuntimeImportError(
                f"importing `{name}` failed: {type(exc).__name__}: {exc}"
            ) from None
    candidates = imported + [
        m for n, m in list(sys.modules.items()) if n not in before and m is not None
    ]
    pipelines: dict[int, Pipeline] = {}
    for module in candidates:
        for value in list(getattr(module, "__dict__", {}).values()):
            if isinstance(value, Pipeline):
                pipelines[id(value)] = value
    models = [p.to_model() for p in pipelines.values()]
    return sorted(models, key=lambda m: (m.name, m.module))
