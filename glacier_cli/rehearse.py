"""``glacier rehearse [PATH] --env NAME``: deploy an environment's program on an AWS emulator
and run the pipeline once, end to end.

The program is generated as ``glacier build`` writes it (in a work directory; ``build/`` is not
touched), then ``python -m rehearse`` runs in a child process: it executes the program under
Pulumi's mocks, creates what it declares in moto (in-process, IAM enforced), seeds the source
datasets from ``--data-dir``, starts one Step Functions execution and runs every task's
generated handler with the credentials of that task's role. This command imports neither
pulumi nor moto.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping

import click

from glacier_cli._common import (
    Command,
    Stop,
    analyse_or_exit,
    report,
    stale_build,
    target_option,
    write_program,
)

__all__ = ["rehearse"]


@click.command(cls=Command)
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@click.option("--env", "env", required=True, help="The environment whose program to rehearse.")
@click.option(
    "--pipeline",
    "pipeline",
    default=None,
    help="The pipeline to rehearse, when PATH holds several.",
)
@click.option(
    "--data-dir",
    "data_dir",
    default=".glacier/data",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Where source datasets are read from and outputs copied to (the local layout).",
)
@click.option(
    "--out",
    "out_dir",
    default="build",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Where `glacier build --package` vendored the bundle's packages: used when current; "
    "checked for sources changed since it was built.",
)
@click.option(
    "--strict",
    is_flag=True,
    help="Refuse (exit 2) when the sources changed since the program under --out was built.",
)
@click.option(
    "--report",
    "report_path",
    default=None,
    type=click.Path(dir_okay=False),
    help="Also write the report (status, each task's attempts and outcome, outputs) as JSON.",
)
@click.option(
    "--keep",
    is_flag=True,
    help="Keep the work directory (the program, each task's log) and print where it is.",
)
@target_option
def rehearse(
    paths: tuple[str, ...],
    env: str,
    pipeline: str | None,
    data_dir: str,
    out_dir: str,
    report_path: str | None,
    keep: bool,
    strict: bool,
    target_name: str,
) -> None:
    """Run environment ENV's deployment on an AWS emulator, without AWS or Docker.

    \b
    What runs: the generated Pulumi program (under Pulumi's mocks), its buckets, roles,
    policies, functions and state machine created in moto, the state machine executed by
    moto's Step Functions interpreter, and each task's generated handler in a child process
    signed with exactly its role's credentials (IAM enforced). Databases are a local
    PostgreSQL (initdb/pg_ctl must be installed). Exit 0 only if the execution succeeded.
    Without PATHS, the `pipelines` of `[tool.glacier]` in pyproject.toml, as `build` reads.

    \b
    It rehearses the current sources. When the program `glacier build` wrote under --out was
    built from older ones (a `pulumi up` there would deploy old code), a warning names the
    files that changed; --strict refuses instead, with exit status 2.

    \b
    Seed the sources first, as for a local run:
      mkdir -p .glacier/data && cp -r examples/data/. .glacier/data/
      glacier rehearse examples/orders --env default
    """
    from codegen import dir_name, target

    deployment = target(target_name)
    analysis = analyse_or_exit(paths)
    report([d for d in analysis.diagnostics if d.severity != "error"])
    models = sorted(analysis.pipelines, key=lambda m: m.name)
    if pipeline is not None:
        models = [m for m in models if m.name == pipeline]
    if not models:
        which = f"no pipeline `{pipeline}`" if pipeline else "no pipelines"
        raise Stop(f"glacier rehearse: {which} found")
    if len(models) > 1:
        names = ", ".join(f"`{m.name}`" for m in models)
        raise click.UsageError(
            f"{len(models)} pipelines found ({names}): choose one with --pipeline"
        )
    model = models[0]
    problems = deployment.diagnostics(analysis, model)
    report(problems)
    if any(d.severity == "error" for d in problems):
        raise Stop()
    programs = deployment.programs(analysis, model)
    if env not in programs:
        raise click.UsageError(
            f"pipeline `{model.name}` has no program for environment `{env}` "
            f"(known: {', '.join(programs)})"
        )
    built = os.path.join(out_dir, dir_name(model.name), *deployment.program_dir(env).split("/"))
    stale_build(programs[env], built, analysis.root, strict=strict)
    work = tempfile.mkdtemp(prefix="glacier-rehearse-")
    try:
        program_dir = write_program(programs[env], os.path.join(work, "program"))
        _borrow_vendored(programs[env], built, program_dir)
        code = deployment.rehearse(
            program_dir,
            env,
            pipeline=model.name,
            data_dir=data_dir,
            work_dir=work,
            report=report_path,
        )
    finally:
        if keep:
            click.echo(f"work directory kept: {work}", err=True)
        else:
            shutil.rmtree(work, ignore_errors=True)
    raise click.exceptions.Exit(code)


def _borrow_vendored(files: Mapping[str, bytes], built: str, program_dir: str) -> None:
    """Link the packages `glacier build --package` vendored into ``built``'s bundle, when
    that bundle's generated files are the ones just generated (else it is stale: warn)."""
    bundle = os.path.join(built, "bundle")
    if not os.path.isdir(bundle):
        return
    prefix = "bundle/"
    generated = {
        path[len(prefix) :]: data for path, data in files.items() if path.startswith(prefix)
    }
    for rel, data in generated.items():
        try:
            with open(os.path.join(bundle, *rel.split("/")), "rb") as fh:
                current = fh.read() == data
        except OSError:
            current = False
        if not current:
            click.echo(
                f"warning: {bundle} is stale (rebuild with `glacier build --package`): "
                "its vendored packages are not used",
                err=True,
            )
            return
    tops = {rel.split("/")[0] for rel in generated}
    target = os.path.join(program_dir, "bundle")
    for entry in sorted(os.listdir(bundle)):
        if entry not in tops and not os.path.lexists(os.path.join(target, entry)):
            os.symlink(os.path.abspath(os.path.join(bundle, entry)), os.path.join(target, entry))
