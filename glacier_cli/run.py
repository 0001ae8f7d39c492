"""``glacier run [PATH] [runner options]``: build into ``.glacier/build/``, then run the runner.

The runner is the same standalone ``run_local.py`` that ``glacier build`` writes; it runs in
a subprocess of this Python, in the current directory, with the options passed through.
"""

from __future__ import annotations

import os
import subprocess
import sys

import click

from glacier_cli._common import (
    Command,
    Misuse,
    analyse_or_exit,
    build_or_exit,
    report,
    source_files,
)

__all__ = ["run"]

BUILD_DIR = os.path.join(".glacier", "build")


@click.command(cls=Command)
@click.argument("path", required=False, type=click.Path(exists=True))
@click.option("--pipeline", "name", help="Which pipeline, when PATH holds several.")
@click.option("--data-dir", help="Where stored datasets live (default: .glacier/data).")
@click.option("--workers", type=click.IntRange(min=1), help="Tasks run in parallel at most.")
@click.option("--only", multiple=True, metavar="TASK", help="Run only this task (repeatable).")
@click.option("--from", "from_task", metavar="TASK", help="Run TASK and everything downstream.")
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="[TASK.]NAME=VALUE",
    help="Set a run parameter of every task that has it, or of TASK only (repeatable).",
)
@click.option(
    "--params",
    "params_file",
    type=click.Path(exists=True, dir_okay=False),
    help="Run parameters from a JSON file (YAML with PyYAML installed).",
)
@click.option(
    "--force",
    multiple=True,
    is_flag=False,
    flag_value="",
    metavar="[TASK]",
    help="Run TASK even if its earlier outputs are still valid (repeatable); alone, every task.",
)
@click.option(
    "--quiet",
    "-q",
    is_flag=True,
    help="Hide the tasks' output and start/done lines (kept in the run's logs).",
)
@click.option("--verbose", "-v", is_flag=True, help="Give each line its time since the start.")
@click.option(
    "--slow-after",
    type=click.FloatRange(min=0),
    metavar="SECONDS",
    help="Name a task still running after SECONDS, and every SECONDS after (default 30).",
)
@click.option("--dry-run", is_flag=True, help="Print the plan, run nothing.")
@click.option("--list", "list_", is_flag=True, help="List the tasks and exit.")
def run(
    path: str | None,
    name: str | None,
    data_dir: str | None,
    workers: int | None,
    only: tuple[str, ...],
    from_task: str | None,
    params: tuple[str, ...],
    params_file: str | None,
    force: tuple[str, ...],
    quiet: bool,
    verbose: bool,
    slow_after: float | None,
    dry_run: bool,
    list_: bool,
) -> None:
    """Build PATH's pipeline into .glacier/build/ and run its standalone local runner.

    Without PATH, the `pipelines` of `[tool.glacier]` in pyproject.toml, as `build` reads.

    \b
    While it runs: one line per event, prefixed with the pipeline's name; what a task prints
    or logs, prefixed with its name; on a terminal, a live progress line. Each run is kept
    under <data-dir>/.glacier-run/<pipeline>/<run id>/ (run.json and logs/<task>.log):
    `glacier runs` lists them, `glacier show` prints an output.
    """
    from codegen import write_tree

    if only and from_task:
        raise click.UsageError("--only and --from cannot be combined")
    if quiet and verbose:
        raise click.UsageError("--quiet and --verbose cannot be combined")
    paths = [path] if path is not None else []
    analysis = analyse_or_exit(paths)
    report([d for d in analysis.diagnostics if d.severity != "error"])
    artifacts = build_or_exit(analysis, BUILD_DIR, targets=())
    chosen = [a for a in artifacts if name is None or a.pipeline == name]
    if len(chosen) != 1:
        names = ", ".join(f"`{a.pipeline}`" for a in artifacts) or "none"
        raise Misuse(f"glacier run: choose one pipeline with --pipeline (pipelines: {names})")
    write_tree(BUILD_DIR, artifacts, source_files(analysis, paths))
    runner = os.path.join(BUILD_DIR, chosen[0].dir_name, "run_local.py")
    argv = [sys.executable, runner]
    if data_dir is not None:
        argv += ["--data-dir", data_dir]
    if workers is not None:
        argv += ["--workers", str(workers)]
    for task in only:
        argv += ["--only", task]
    if from_task is not None:
        argv += ["--from", from_task]
    for item in params:
        argv += ["--param", item]
    if params_file is not None:
        argv += ["--params", params_file]
    for task in force:
        argv += ["--force", task] if task else ["--force"]
    if quiet:
        argv.append("--quiet")
    if verbose:
        argv.append("--verbose")
    if slow_after is not None:
        argv += ["--slow-after", repr(slow_after)]
    if dry_run:
        argv.append("--dry-run")
    if list_:
        argv.append("--list")
    raise click.exceptions.Exit(subprocess.call(argv))
