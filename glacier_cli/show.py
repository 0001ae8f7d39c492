"""``glacier show [PATH]... DATASET``: an output a local run stored or kept."""

from __future__ import annotations

import click

from glacier_cli._common import Command, Misuse, data_dir_option, pipeline_names

__all__ = ["show"]


@click.command(cls=Command)
@click.argument("args", nargs=-1, required=True, metavar="[PATH]... DATASET")
@click.option("--pipeline", "name", help="Which pipeline, when several have DATASET.")
@click.option(
    "--run", "run_id", metavar="ID", help="Which run (default: the latest; a prefix will do)."
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="Rows or items shown.",
)
@data_dir_option
def show(
    args: tuple[str, ...], name: str | None, run_id: str | None, limit: int, data_dir: str
) -> None:
    """Print DATASET as a local run left it: where it is, its size, and a look at it.

    \b
    A DataFrame: its shape, schema (column types) and first rows; a list of rows: their
    count, columns and first rows; other JSON-able values pretty-printed; anything else its
    type and repr. A stored dataset is read from its storage; an ephemeral one from the copy
    the standalone runner keeps (an in-process LocalExecutor run keeps none). With --run, a
    stored dataset that a later run rewrote shows its current value, and says so.
    """
    import os

    from glacier_local import history

    *paths, dataset = args
    for path in paths:
        if not os.path.exists(path):
            raise click.BadParameter(f"path {path!r} does not exist", param_hint="PATH")
    found = []
    names = pipeline_names(tuple(paths), name, data_dir)
    for pipeline in names:
        try:
            record = history.find_run(data_dir, pipeline, run_id)
        except history.HistoryError as exc:
            if name is not None:
                raise Misuse(f"glacier show: {exc}") from None
            continue
        if any(dataset in (t.get("outputs") or {}) for t in record.get("tasks", ())):
            found.append(record)
    if not found:
        which = ", ".join(f"`{n}`" for n in names) or "no pipeline"
        where = f"the {'latest run' if run_id is None else f'run {run_id}'} of {which}"
        raise Misuse(
            f"glacier show: no output `{dataset}` in {where} under {data_dir}/.glacier-run "
            "(see `glacier runs`; run the pipeline first)"
        )
    if len(found) > 1:
        several = ", ".join(f"`{r['pipeline']}`" for r in found)
        raise Misuse(
            f"glacier show: `{dataset}` is an output of several pipelines ({several}); "
            "use --pipeline"
        )
    try:
        click.echo(history.show_output(found[0], dataset, limit))
    except history.HistoryError as exc:
        raise Misuse(f"glacier show: {exc}") from None
