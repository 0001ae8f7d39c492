"""``glacier build PATH... [--out build] [--check]``: write (or verify) the build artifacts."""

from __future__ import annotations

import os
from typing import Any

import click

from glacier_cli._common import (
    Command,
    Stop,
    analyse_or_exit,
    build_or_exit,
    deployment_diagnostics,
    exit_on_errors,
    report,
    source_files,
    target_option,
)

__all__ = ["build"]


@click.command(cls=Command)
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
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
@click.option(
    "--package",
    is_flag=True,
    help=(
        "Also install each bundle's requirements into it (wheels for AWS Lambda), and refuse "
        "a bundle over Lambda's 250 MB unzipped quota (GLC305)."
    ),
)
@click.option(
    "--pip-arg",
    "pip_args",
    multiple=True,
    metavar="ARG",
    help="Extra pip argument for --package (repeatable), e.g. --pip-arg=--no-index.",
)
@target_option
def build(
    paths: tuple[str, ...],
    out_dir: str,
    check: bool,
    package: bool,
    pip_args: tuple[str, ...],
    target_name: str,
) -> None:
    """Generate each pipeline's manifest.json, graph.mmd, standalone run_local.py and
    Pulumi programs (pulumi/<env>/).

    Without PATH, the `pipelines` listed under [tool.glacier] in pyproject.toml are built (or
    the whole project). Modules are read, never imported. Errors that `glacier check` reports stop the build, and
    so do errors that keep a pipeline from being deployed. Files whose content did not change
    are not rewritten.
    """
    from codegen import compare_tree, target, write_tree

    if check and package:
        raise click.UsageError("--check writes nothing; it cannot be combined with --package")
    deployment = target(target_name)
    analysis = analyse_or_exit(paths)
    deploy = deployment_diagnostics(analysis, [deployment])
    report([d for d in (*analysis.diagnostics, *deploy) if d.severity != "error"])
    if any(d.severity == "error" for d in deploy):
        exit_on_errors([d for d in deploy if d.severity == "error"], analysis)
    artifacts = build_or_exit(analysis, out_dir, [deployment])
    if not artifacts:
        # still compared: directories of pipelines that were under these paths go too
        click.echo("glacier build: no pipelines found", err=True)
    sources = source_files(analysis, paths)
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
            raise Stop(
                f"glacier build --check: {count} file(s) out of date; run `glacier build` "
                "and commit the result"
            )
        click.echo(f"glacier build --check: {len(diff.unchanged)} file(s) up to date")
        return
    diff = write_tree(out_dir, artifacts, sources)
    models = {m.name: m for m in analysis.pipelines}
    for art in artifacts:
        click.echo(f"{art.pipeline}: {out_dir.rstrip('/')}/{art.dir_name}/")
        if package:
            _package(deployment, out_dir, art, pip_args, models[art.pipeline], analysis)
    click.echo(
        f"glacier build: {len(diff.missing) + len(diff.stale)} written, "
        f"{len(diff.unchanged)} unchanged, {len(diff.extra)} removed"
    )


def _package(
    deployment: Any,
    out_dir: str,
    art: Any,
    pip_args: tuple[str, ...],
    model: Any,
    analysis: Any,
) -> None:
    """Vendor every bundle of one pipeline; what pip installs is recorded, not reported extra.
    A bundle the target cannot take (Lambda's quota, GLC305) stops the build."""
    from codegen import TargetError

    try:
        for done in deployment.package(os.path.join(out_dir, art.dir_name), model, pip_args):
            click.echo(f"  packaged {done.bundle}: {done.summary}")
            if done.problems:
                report(done.problems, analysis)
                raise Stop(
                    f"glacier build --package: {done.bundle} {done.refused}; "
                    "the files were written, nothing can deploy them"
                )
            for note in done.notes:
                click.echo(f"  {note}")
    except TargetError as exc:
        raise Stop(f"glacier build --package: {exc}") from None
