"""Shared by ``glacier build``, ``run`` and ``graph``: analyse, stop on errors, plan the build.

Everything here is on the static path: modules are read by the analyzer, never imported.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

import click

__all__ = [
    "CLASH_CODE",
    "analyse_or_exit",
    "clash_diagnostics",
    "deployment_diagnostics",
    "exit_on_errors",
    "plan_or_exit",
    "report",
    "source_files",
    "write_program",
]

CLASH_CODE = "GLC601"
CLASH_NAME = "build-directory-clash"


def report(diagnostics: Sequence[Any], analysis: Any = None) -> None:
    """Print diagnostics exactly as ``glacier check`` does (its text format).

    With ``analysis``, the summary sentence of ``glacier check`` follows.
    """
    if not diagnostics:
        return
    from analyzer._render import render_text, summarize_run

    ordered = sorted(diagnostics, key=lambda d: d.sort_key())
    summary = None
    if analysis is not None:
        summary = summarize_run(ordered, len(analysis.modules), len(analysis.pipelines))
    click.echo(render_text(ordered, summary).rstrip("\n"), err=True)


def exit_on_errors(diagnostics: Sequence[Any], analysis: Any) -> NoReturn:
    """Print ``diagnostics`` with the summary of ``glacier check``, then exit 1."""
    report(diagnostics, analysis)
    click.echo("glacier: errors found; nothing was built", err=True)
    sys.exit(1)


def analyse_or_exit(paths: Sequence[str]) -> Any:
    """The analysis of ``paths``; exits 1 after printing them when there are errors."""
    from analyzer import analyze

    analysis = analyze(list(paths))
    if any(d.severity == "error" for d in analysis.diagnostics):
        exit_on_errors(analysis.diagnostics, analysis)
    return analysis


def clash_diagnostics(clashes: Sequence[Any]) -> list[Any]:
    """Two pipelines whose names give the same build directory (``a/b`` and ``a_b``)."""
    from analyzer import Diagnostic

    found = []
    for clash in clashes:
        span = clash.second.span
        found.append(
            Diagnostic(
                code=CLASH_CODE,
                name=CLASH_NAME,
                severity="error",
                message=(
                    f"pipelines `{clash.first.name}` ({clash.first.span}) and "
                    f"`{clash.second.name}` would both be built into `{clash.dir_name}/`"
                ),
                hint="rename one of the pipelines; build directories keep only letters, "
                "digits, `.`, `_` and `-` of a pipeline's name",
                path=span.file,
                line=span.line,
                column=span.column,
                end_line=span.line,
                end_column=span.column,
            )
        )
    return found


def deployment_diagnostics(analysis: Any) -> list[Any]:
    """What keeps each pipeline from being deployed (from ``codegen.aws``, when present)."""
    from codegen._build import deployment_emitters

    if not deployment_emitters():
        return []
    from codegen.aws import deployment_diagnostics as found

    return [d for model in analysis.pipelines for d in found(analysis, model)]


def plan_or_exit(analysis: Any, out_dir: str, *, local_only: bool = False) -> list[Any]:
    """Every artifact in memory; ``local_only``: the runner, manifest and graph only."""
    import glacier
    from codegen import EMITTERS, plan_build

    artifacts, clashes = plan_build(
        analysis.pipelines,
        analysis.modules,
        out_dir=out_dir,
        version=glacier.__version__,
        emitters=list(EMITTERS) if local_only else None,
    )
    if clashes:
        report(clash_diagnostics(clashes))
        sys.exit(1)
    return artifacts


def source_files(analysis: Any, paths: Sequence[str]) -> set[str]:
    """What a build of ``paths`` covers, root-relative: the analysed files under them, and each
    directory among them as ``dir/`` (``./``: the root). The build of these is complete, so an
    output directory whose manifest names a file they cover and that this build does not
    produce belongs to a pipeline that was renamed or removed (its file too, perhaps).

    Without ``paths``, the ``pipelines`` of ``[tool.glacier]`` (or the root), as the analyzer
    reads them.
    """
    import os

    root = analysis.root
    if not paths:
        from analyzer._project import load_config

        paths = [os.path.join(root, p) for p in load_config(root).pipelines] or [root]
    chosen = [os.path.abspath(p) for p in paths]
    found = set()
    for info in analysis.modules.values():
        path = os.path.abspath(info.path)
        if any(path == c or path.startswith(c.rstrip(os.sep) + os.sep) for c in chosen):
            found.add(info.file)
    for folder in chosen:
        if not os.path.isdir(folder):
            continue
        relative = os.path.relpath(folder, root).replace(os.sep, "/")
        if relative == ".":
            found.add("./")
        elif relative != ".." and not relative.startswith("../"):
            found.add(relative + "/")
    return found


def write_program(files: dict[str, bytes], env: str, program_dir: str) -> str:
    """Write environment ``env``'s program out of ``emit_programs``' files into
    ``program_dir`` (``pulumi/<env>/...`` paths relative to it); returns ``program_dir``."""
    prefix = f"pulumi/{env}/"
    for path, data in files.items():
        if path.startswith(prefix):
            target = os.path.join(program_dir, *path[len(prefix) :].split("/"))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "wb") as fh:
                fh.write(data)
    return program_dir
