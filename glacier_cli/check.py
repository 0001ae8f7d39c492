"""``glacier check``: validate every pipeline's DAG by reading the source (nothing is executed).

Exit status: 0 when no errors were found (warnings alone do not fail), 1 when errors were
found, 2 for a usage or internal error. Given single files (as pre-commit does), the check
extends to the project's modules that import them, so a changed module is checked together
with every pipeline it takes part in.

``--fix`` rewrites the files for the findings whose fix is mechanical (``analyzer.fixes``),
checks again, and reports what is left (the exit status is from that); ``--diff`` prints the
fixes as a unified diff and writes nothing (exit 1 when there is something to fix). Only
these two options load libcst, and only when a finding is fixable.

``--param KEY=VALUE`` (``n=5``, ``rank.n=5``) names a run parameter a run will set: a key no
task of the checked pipelines has is GLC210 (this reads the source again, uncached).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from glacier_cli._common import Command, Misuse, Stop

if TYPE_CHECKING:
    from analyzer import CheckResult

__all__ = ["check"]

_ROUNDS = 10  # a fix can uncover another (a task registered at last shows its signature)


@click.command("check", cls=Command)
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json", "github"]),
    default="text",
    show_default=True,
    help="text: path:line:col: CODE message; json: machine-readable; github: workflow annotations.",
)
@click.option("--quiet", "-q", is_flag=True, help="Print the diagnostics only, no summary.")
@click.option("--no-cache", is_flag=True, help="Neither read nor write the cache.")
@click.option(
    "--fix", is_flag=True, help="Fix what can be fixed ([*]) in place, then report the rest."
)
@click.option("--diff", is_flag=True, help="Print the fixes as a unified diff; write nothing.")
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="[TASK.]NAME=VALUE",
    help="A run parameter a run will set: GLC210 when no task has it (repeatable).",
)
def check(
    paths: tuple[str, ...],
    output_format: str,
    quiet: bool,
    no_cache: bool,
    fix: bool,
    diff: bool,
    params: tuple[str, ...],
) -> None:
    """Check the pipelines under PATHS without importing or running them.

    \b
    PATHS are files or directories (default: the project's [tool.glacier] pipelines, or the
    project root). Suppress one finding with `# glacier: ignore[GLC101]` on its line.
    Codes are documented in docs/diagnostics.md; [*] marks the ones --fix can fix.

    \b
    Results are cached in <project root>/.glacier/cache/ (or $GLACIER_CACHE_DIR): each module's
    summary by a hash of its content, and the whole result with the state of every file it
    was computed from, so a re-check of an unchanged project reads one file. The cache is safe
    to delete; a corrupt one is ignored and rebuilt.
    """
    from analyzer import render_github, render_json, render_text, summarize_run

    if fix and diff:
        raise click.UsageError("--fix and --diff cannot be used together")
    keys = _parameter_keys(params)
    fixed = 0
    try:
        result = _run(paths, no_cache)
        if diff:
            if _print_diff(result):
                raise Stop()
            return
        if fix:
            result, fixed = _fix(paths, no_cache, result)
    except Stop:
        raise
    except Exception as exc:  # noqa: BLE001 - an analyzer bug must not look like findings
        raise Misuse(f"glacier check: internal error: {type(exc).__name__}: {exc}") from None
    diagnostics = result.diagnostics
    if keys:
        diagnostics = (*diagnostics, *_unknown_parameters(paths, keys))
    summary = summarize_run(diagnostics, result.files, result.pipelines, fixed)
    if output_format == "json":
        click.echo(render_json(diagnostics, summary), nl=False)
    elif output_format == "github":
        click.echo(render_github(diagnostics, None if quiet else summary), nl=False)
    else:
        click.echo(render_text(diagnostics, None if quiet else summary), nl=False)
    if summary.errors:
        raise Stop()


def _run(paths: tuple[str, ...], no_cache: bool) -> CheckResult:
    from analyzer import check as run_check

    return run_check(list(paths), use_cache=not no_cache)


def _parameter_keys(params: tuple[str, ...]) -> list[str]:
    from glacier.params import ParameterError, assignments

    try:
        return list(assignments(params))
    except ParameterError as exc:
        raise click.UsageError(str(exc)) from None


def _unknown_parameters(paths: tuple[str, ...], keys: list[str]) -> list[Any]:
    """GLC210 for the keys no task of the checked pipelines has (from an analysis: the
    check's cache keeps diagnostics, not the model)."""
    from analyzer import analyze, unknown_parameters

    return unknown_parameters(analyze(list(paths)).pipelines, keys)


def _print_diff(result: CheckResult) -> int:
    if not any(d.fixable for d in result.diagnostics):
        return 0
    from analyzer.fixes import collect_fixes, unified_diff

    planned = collect_fixes(result.root, result.diagnostics)
    for fix in planned:
        click.echo(unified_diff(fix), nl=False)
    if planned:
        count = sum(fix.fixed for fix in planned)
        files = len(planned)
        click.echo(
            f"Would fix {count} finding{'s' * (count != 1)} in {files} file{'s' * (files != 1)}",
            err=True,
        )
    return 1 if planned else 0


def _fix(paths: tuple[str, ...], no_cache: bool, result: CheckResult) -> tuple[CheckResult, int]:
    """Fix, check again, and repeat while a fix uncovers another; the last result and the
    number of findings fixed."""
    fixed = 0
    for _ in range(_ROUNDS):
        if not any(d.fixable for d in result.diagnostics):
            break
        from analyzer.fixes import collect_fixes, write_fixes

        planned = collect_fixes(result.root, result.diagnostics)
        if not planned:
            break
        write_fixes(planned)
        fixed += sum(fix.fixed for fix in planned)
        result = _run(paths, no_cache)
    return result, fixed
