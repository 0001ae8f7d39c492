"""Shared by the commands: analyse, report, stop on errors, render the build.

Everything here is on the static path: modules are read by the analyzer, never imported.
A command ends early by raising ``Stop`` (exit 1; its message, if any, printed as it is),
``Misuse`` (the same, exit 2) or ``click.UsageError`` (exit 2, with the usage line); a
``glacier.errors.GlacierError`` raised below the CLI ends it with that error's ``exit_code``
(``Command.invoke`` turns it into one of these).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import IO, Any, NoReturn

import click

__all__ = [
    "Command",
    "Misuse",
    "Stop",
    "analyse_or_exit",
    "build_or_exit",
    "changed_sources",
    "clash_diagnostics",
    "deployment_diagnostics",
    "exit_on_errors",
    "report",
    "source_files",
    "stale_build",
    "target_option",
    "write_program",
]


class Stop(click.ClickException):
    """End the command with exit status 1 after printing ``message`` (when there is one) to
    stderr as it is: what went wrong was usually reported already, as diagnostics."""

    def __init__(self, message: str = "") -> None:
        super().__init__(message)  # no message: the findings were printed already

    def show(self, file: IO[Any] | None = None) -> None:
        if self.message:
            click.echo(self.message, err=True)


class Misuse(Stop):
    """A ``Stop`` with exit status 2: what was asked for does not exist (no such pipeline or
    environment). ``click.UsageError`` is for a wrong command line; it prints the usage."""

    exit_code = 2


class Command(click.Command):
    """Every glacier command: a ``GlacierError`` from the layers below ends it with the
    error's ``exit_code`` (2: a usage error, shown with the command's usage line)."""

    def invoke(self, ctx: click.Context) -> Any:
        from glacier.errors import GlacierError

        try:
            return super().invoke(ctx)
        except GlacierError as exc:
            if exc.exit_code == 2:
                raise click.UsageError(str(exc), ctx) from None
            raise Stop(f"glacier {ctx.info_name}: {exc}") from None


def report(diagnostics: Sequence[Any], analysis: Any = None) -> None:
    """Print diagnostics exactly as ``glacier check`` does (its text format).

    With ``analysis``, the summary sentence of ``glacier check`` follows.
    """
    if not diagnostics:
        return
    from analyzer import render_text, summarize_run

    ordered = sorted(diagnostics, key=lambda d: d.sort_key())
    summary = None
    if analysis is not None:
        summary = summarize_run(ordered, len(analysis.modules), len(analysis.pipelines))
    click.echo(render_text(ordered, summary).rstrip("\n"), err=True)


def exit_on_errors(diagnostics: Sequence[Any], analysis: Any) -> NoReturn:
    """Print ``diagnostics`` with the summary of ``glacier check``, then exit 1."""
    report(diagnostics, analysis)
    raise Stop("glacier: errors found; nothing was built")


def analyse_or_exit(paths: Sequence[str]) -> Any:
    """The analysis of ``paths``; exits 1 after printing them when there are errors."""
    from analyzer import analyze

    analysis = analyze(list(paths))
    if any(d.severity == "error" for d in analysis.diagnostics):
        exit_on_errors(analysis.diagnostics, analysis)
    return analysis


def clash_diagnostics(clashes: Sequence[Any]) -> list[Any]:
    """Two pipelines whose names give the same build directory (``a/b`` and ``a_b``)."""
    from analyzer.diagnostics import BuildDirectoryClash

    return [
        BuildDirectoryClash.make_at(
            clash.second.span,
            first=clash.first.name,
            first_span=clash.first.span,
            second=clash.second.name,
            directory=clash.dir_name,
        )
        for clash in clashes
    ]


def deployment_diagnostics(analysis: Any, targets: Sequence[Any]) -> list[Any]:
    """What keeps each pipeline from being deployed on each of ``targets``."""
    return [
        d for t in targets for model in analysis.pipelines for d in t.diagnostics(analysis, model)
    ]


def build_or_exit(analysis: Any, out_dir: str, targets: Sequence[Any]) -> list[Any]:
    """Every artifact in memory: the local ones (runner, manifest, graph) and ``targets``'."""
    import glacier
    from codegen import build

    artifacts, clashes = build(
        analysis.pipelines,
        analysis.modules,
        out_dir=out_dir,
        version=glacier.__version__,
        targets=targets,
    )
    if clashes:
        report(clash_diagnostics(clashes))
        raise Stop()
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
        from analyzer import load_config

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


def write_program(files: Mapping[str, bytes], program_dir: str) -> str:
    """Write one program (``DeploymentTarget.programs``' files of one environment, paths
    relative to it) into ``program_dir``; returns ``program_dir``."""
    for path, data in files.items():
        target = os.path.join(program_dir, *path.split("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as fh:
            fh.write(data)
    return program_dir


def changed_sources(files: Mapping[str, bytes], built: str, root: str) -> list[str]:
    """The source files that changed since the program in ``built`` (where ``glacier build``
    wrote this environment's program) was built, named from the current directory: its
    ``codegen.SOURCES_RECORD`` against the one in ``files``, the program just generated from
    the current sources. Empty when nothing was built there or the target keeps no record; a
    built program without a record (an older glacier's) counts every source as changed."""
    import json

    from codegen import SOURCES_RECORD

    for path, data in files.items():
        if path.rsplit("/", 1)[-1] != SOURCES_RECORD:
            continue
        recorded = os.path.join(built, *path.split("/"))
        if not os.path.isdir(os.path.dirname(recorded)):
            return []  # never built
        current: dict[str, str] = json.loads(data)
        try:
            with open(recorded, encoding="utf-8") as fh:
                previous = json.load(fh)
        except (OSError, ValueError):
            previous = {}
        if not isinstance(previous, dict):
            previous = {}
        changed = sorted(
            f for f in current.keys() | previous.keys() if current.get(f) != previous.get(f)
        )
        return [os.path.relpath(os.path.join(root, *f.split("/"))) for f in changed]
    return []


def stale_build(files: Mapping[str, bytes], built: str, root: str, *, strict: bool) -> None:
    """Warn when the program built in ``built`` would deploy older code than the sources
    (``changed_sources``); with ``strict``, refuse instead (exit 2)."""
    changed = changed_sources(files, built, root)
    if not changed:
        return
    what = f"the sources changed since {built} was built ({', '.join(changed)})"
    if strict:
        raise Misuse(f"error: {what}: rebuild it with `glacier build`")
    click.echo(
        f"warning: {what}; deploying it would deploy the old code: rebuild it with `glacier build`",
        err=True,
    )


def target_option(command: Any) -> Any:
    """``--target NAME``: the deployment target (default ``aws``; others from plugins)."""
    return click.option(
        "--target",
        "target_name",
        default="aws",
        show_default=True,
        metavar="NAME",
        help="The deployment target (`aws` is built in; plugins add more).",
    )(command)


data_dir_option = click.option(
    "--data-dir",
    default=os.path.join(".glacier", "data"),
    show_default=True,
    help="Where the local runs keep datasets and records.",
)


def pipeline_names(paths: Sequence[str], name: str | None, data_dir: str) -> list[str]:
    """The pipelines ``runs``/``show`` look at: ``name``; else those of ``paths`` (read
    statically); else every pipeline with runs under ``data_dir``."""
    if name is not None:
        return [name]
    if paths:
        analysis = analyse_or_exit(paths)
        return [p.name for p in analysis.pipelines]
    from glacier_local import history

    return history.pipelines_with_runs(data_dir)
