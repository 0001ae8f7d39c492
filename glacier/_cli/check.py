"""``glacier check``: validate every pipeline's DAG by reading the source (nothing is executed).

Exit status: 0 when no errors were found (warnings alone do not fail), 1 when errors were
found, 2 for a usage or internal error. Given single files (as pre-commit does), the check
extends to the project's modules that import them, so a changed module is checked together
with every pipeline it takes part in.
"""

from __future__ import annotations

import sys

import click

__all__ = ["check"]


@click.command("check")
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
def check(paths: tuple[str, ...], output_format: str, quiet: bool, no_cache: bool) -> None:
    """Check the pipelines under PATHS without importing or running them.

    \b
    PATHS are files or directories (default: the project's [tool.glacier] pipelines, or the
    project root). Suppress one finding with `# glacier: ignore[GLC101]` on its line.
    Codes are documented in docs/diagnostics.md.

    \b
    Results are cached in <project root>/.glacier/cache/ (or $GLACIER_CACHE_DIR): each module's
    summary by a hash of its content, and the whole result with the state of every file it
    was computed from, so a re-check of an unchanged project reads one file. The cache is safe
    to delete; a corrupt one is ignored and rebuilt.
    """
    from analyzer._check import check as run_check
    from analyzer._render import render_github, render_json, render_text, summarize_run

    try:
        result = run_check(list(paths), use_cache=not no_cache)
    except Exception as exc:  # noqa: BLE001 - an analyzer bug must not look like findings
        click.echo(f"glacier check: internal error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(2)
    diagnostics = result.diagnostics
    summary = summarize_run(diagnostics, result.files, result.pipelines)
    if output_format == "json":
        click.echo(render_json(diagnostics, summary), nl=False)
    elif output_format == "github":
        click.echo(render_github(diagnostics, None if quiet else summary), nl=False)
    else:
        click.echo(render_text(diagnostics, None if quiet else summary), nl=False)
    sys.exit(1 if summary.errors else 0)
