"""``glacier build PATH... [--out build] [--check]``: write (or verify) the build artifacts."""

from __future__ import annotations

import sys
from typing import Any

import click

from glacier._cli._buildlib import (
    analyse_or_exit,
    deployment_diagnostics,
    exit_on_errors,
    plan_or_exit,
    report,
    source_files,
)

__all__ = ["build"]


@click.command()
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
def build(
    paths: tuple[str, ...], out_dir: str, check: bool, package: bool, pip_args: tuple[str, ...]
) -> None:
    """Generate each pipeline's manifest.json, graph.mmd, standalone run_local.py and
    Pulumi programs (pulumi/<env>/).

    Without PATH, the `pipelines` listed under [tool.glacier] in pyproject.toml are built (or
    the whole project). Modules are read, never imported. Errors that `glacier check` reports stop the build, and
    so do errors that keep a pipeline from being deployed. Files whose content did not change
    are not rewritten.
    """
    from codegen import compare_tree, write_tree

    if check and package:
        raise click.UsageError("--check writes nothing; it cannot be combined with --package")
    analysis = analyse_or_exit(paths)
    deploy = deployment_diagnostics(analysis)
    report([d for d in (*analysis.diagnostics, *deploy) if d.severity != "error"])
    if any(d.severity == "error" for d in deploy):
        exit_on_errors([d for d in deploy if d.severity == "error"], analysis)
    artifacts = plan_or_exit(analysis, out_dir)
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
            click.echo(
                f"glacier build --check: {count} file(s) out of date; run `glacier build` "
                "and commit the result",
                err=True,
            )
            sys.exit(1)
        click.echo(f"glacier build --check: {len(diff.unchanged)} file(s) up to date")
        return
    diff = write_tree(out_dir, artifacts, sources)
    models = {m.name: m for m in analysis.pipelines}
    for art in artifacts:
        click.echo(f"{art.pipeline}: {out_dir.rstrip('/')}/{art.dir_name}/")
        if package:
            _package(out_dir, art, pip_args, models[art.pipeline], analysis)
    click.echo(
        f"glacier build: {len(diff.missing) + len(diff.stale)} written, "
        f"{len(diff.unchanged)} unchanged, {len(diff.extra)} removed"
    )


def _package(
    out_dir: str, art: object, pip_args: tuple[str, ...], model: Any, analysis: Any
) -> None:
    """Vendor every bundle of one pipeline; what pip installs is recorded, not reported extra.
    A bundle Lambda cannot take stops the build (GLC305); one over the direct-upload quota is
    reported: the program uploads it through S3."""
    import os
    import subprocess

    from codegen._writer import all_files, record_vendored
    from codegen.aws import package_bundle
    from codegen.aws._diagnostics import bundle_size_diagnostics, size_text
    from glacier_aws._bundle_archive import LAMBDA_DIRECT_UPLOAD_LIMIT

    for rel in sorted(getattr(art, "files", {})):
        if not rel.endswith("bundle/requirements.txt"):
            continue
        bundle = os.path.join(out_dir, getattr(art, "dir_name", ""), os.path.dirname(rel))
        before = all_files(bundle)
        try:
            result = package_bundle(bundle, index_options=pip_args)
        except subprocess.CalledProcessError as exc:
            click.echo(f"glacier build --package: pip failed for {bundle}:", err=True)
            click.echo((exc.stderr or exc.stdout or "").rstrip(), err=True)
            sys.exit(1)
        vendored = record_vendored(bundle, before)
        wanted = ", ".join(result.requirements) or "nothing to install"
        size = result.size
        click.echo(
            f"  packaged {bundle}: {wanted} ({len(vendored)} files; "
            f"{size_text(size.unzipped)} unzipped, {size_text(size.zipped)} zipped)"
        )
        too_large = bundle_size_diagnostics(bundle, model, size)
        if too_large:
            report(too_large, analysis)
            click.echo(
                f"glacier build --package: {bundle} does not fit AWS Lambda; "
                "the files were written, nothing can deploy them",
                err=True,
            )
            sys.exit(1)
        if size.zipped > LAMBDA_DIRECT_UPLOAD_LIMIT:
            click.echo(
                f"  {size_text(size.zipped)} zipped is over Lambda's "
                f"{size_text(LAMBDA_DIRECT_UPLOAD_LIMIT)} direct upload: "
                "the program uploads the bundle through its S3 artifacts bucket"
            )
