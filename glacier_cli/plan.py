"""``glacier plan PATH --env NAME [--format table|json]``: what a deploy would create.

The environment's Pulumi program is generated (in a temporary directory; ``build/`` is not
touched) and run under Pulumi's mocks in a child process, which imports pulumi; this
command never does. Neither AWS credentials nor the Pulumi CLI are needed, so a reviewer can
read the preview in CI.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

import click

from glacier_cli._common import (
    Command,
    Misuse,
    Stop,
    analyse_or_exit,
    report,
    stale_build,
    target_option,
    write_program,
)

__all__ = ["plan"]


@click.command(cls=Command)
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@click.option("--env", "env", required=True, help="The environment whose program to preview.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="A table for people, JSON for tools.",
)
@click.option(
    "--out",
    "out_dir",
    default="build",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Where `glacier build` wrote the bundles (checked for vendored packages, and for "
    "sources changed since).",
)
@click.option(
    "--strict",
    is_flag=True,
    help="Refuse (exit 2) when the sources changed since the program under --out was built.",
)
@target_option
def plan(
    paths: tuple[str, ...], env: str, fmt: str, out_dir: str, strict: bool, target_name: str
) -> None:
    """Preview the resources `pulumi up` would create for environment ENV, without AWS.

    The program is the one `glacier build` writes to build/<pipeline>/pulumi/<env>/; it runs
    under Pulumi's mocks, with placeholders for configuration only a deployer knows. Without
    PATHS, the `pipelines` of `[tool.glacier]` in pyproject.toml, as `build` reads.

    The preview is of the current sources. When the program `glacier build` wrote under --out
    was built from older ones (a `pulumi up` there would deploy old code), a warning names
    the files that changed; --strict refuses instead, with exit status 2.
    """
    from codegen import dir_name, target

    deployment = target(target_name)
    analysis = analyse_or_exit(paths)
    report([d for d in analysis.diagnostics if d.severity != "error"])
    if not analysis.pipelines:
        raise Stop("glacier plan: no pipelines found")
    results: list[dict[str, Any]] = []
    available: set[str] = set()
    failed = False
    for model in sorted(analysis.pipelines, key=lambda m: m.name):
        problems = deployment.diagnostics(analysis, model)
        report(problems)
        if any(d.severity == "error" for d in problems):
            failed = True
            continue
        programs = deployment.programs(analysis, model)
        available |= set(programs)
        if env not in programs:
            continue
        where = deployment.program_dir(env)
        built = os.path.join(out_dir, dir_name(model.name), *where.split("/"))
        stale_build(programs[env], built, analysis.root, strict=strict)
        with tempfile.TemporaryDirectory(prefix="glacier-plan-") as tmp:
            program_dir = write_program(programs[env], os.path.join(tmp, *where.split("/")))
            preview = deployment.preview(program_dir, env, built)
        preview["pipeline"] = model.name
        preview["environment"] = env
        results.append(preview)
    if failed:
        raise Stop()
    if not results:
        known = ", ".join(sorted(available)) or "none"
        raise Misuse(f"glacier plan: no program for environment `{env}` (known: {known})")
    click.echo(deployment.render_preview(results, fmt))
    for result in results:
        for warning in result["warnings"]:
            click.echo(f"warning: {result['pipeline']} ({env}): {warning}", err=True)
