"""``glacier runs [PATH]``: the local runs kept under the data directory, newest first."""

from __future__ import annotations

import json

import click

from glacier_cli._common import Command, data_dir_option, pipeline_names

__all__ = ["runs"]


@click.command(cls=Command)
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@click.option("--pipeline", "name", help="Only this pipeline's runs.")
@data_dir_option
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="The run records as a JSON list.")
def runs(
    paths: tuple[str, ...], name: str | None, data_dir: str, limit: int, as_json: bool
) -> None:
    """List the local runs of PATHS' pipelines, newest first.

    Every run, of `glacier run`, a standalone runner or `LocalExecutor`, keeps a record in
    <data-dir>/.glacier-run/<pipeline>/<run id>/run.json (per task: status, attempts,
    duration, outputs with location and size) and its tasks' logs in logs/<task>.log beside it.
    Without PATHS, every pipeline with runs under the data directory. `--json` prints the
    records themselves (their `directory` is where the logs are).
    """
    from glacier_local import history

    records = []
    for pipeline in pipeline_names(paths, name, data_dir):
        records += history.list_runs(data_dir, pipeline, limit)
    records.sort(key=lambda r: str(r["id"]), reverse=True)
    records = records[:limit]
    if as_json:
        click.echo(json.dumps(records, indent=1, default=repr))
        return
    if not records:
        click.echo(f"no runs recorded under {data_dir}/.glacier-run", err=True)
        return
    click.echo(history.format_runs(records))
