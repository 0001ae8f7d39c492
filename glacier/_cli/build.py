"""``glacier build PATH... [--out build] [--check]``: write (or verify) the build artifacts."""

from __future__ import annotations

import sys

import click

from glacier._cli._buildlib import analyse_or_exit, plan_or_exit, report, source_files

__all__ = ["build"]


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option(
    "--out",
    "out_dir",
    default="build",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Output directory; each pipeline gets <out>/<pipeline>/.",
)
@click.option(
    "--check",
    is_flag=True,
    help="Write nothing; exit 1 listing every stale, missing or extra file.",
)
def build(paths: tuple[str, ...], out_dir: str, check: bool) -> None:
    """Generate each pipeline's manifest.json, graph.mmd and standalone run_local.py.

    Modules are read, never imported. Errors that `glacier check` reports stop the build.
    Files whose content did not change are not rewritten.
    """
    from codegen import compare_tree, write_tree

    analysis = analyse_or_exit(paths)
    report([d for d in analysis.diagnostics if d.severity != "error"])
    artifacts = plan_or_exit(analysis, out_dir)
    if not artifacts:
        click.echo("glacier build: no pipelines found", err=True)
        return
    sources = source_files(analysis)
    if check:
        diff = compare_tree(out_dir, artifacts, sources)
        for kind, paths_ in (
            ("missing", diff.missing),
            ("stale", diff.stale),
            ("extra", diff.extra),
        ):
            for path in paths_:
                click.echo(f"{kind}: {out_dir.rstrip('/')}/{path}")
        if not diff.clean:
            count = len(diff.missing) + len(diff.stale) + len(diff.extra)
            click.echo(
                f"glacier build --check: {count} file(s) out of date; run `glacier build` "
                "and commit the result",
                err=True,
            )
            sys.exit(1)
        click.echo(f"glacier build --check: {len(diff.unchanged)} file(s) up to date")
        return
    diff = write_tree(out_dir, artifacts, sources)
    for art in artifacts:
        click.echo(f"{art.pipeline}: {out_dir.rstrip('/')}/{art.dir_name}/")
    click.echo(
        f"glacier build: {len(diff.missing) + len(diff.stale)} written, "
        f"{len(diff.unchanged)} unchanged, {len(diff.extra)} removed"
    )
