"""``glacier graph PATH [--format mermaid|dot|json] [--pipeline NAME]``: print a DAG."""

from __future__ import annotations

import click

from glacier_cli._common import Command, Misuse, analyse_or_exit, data_dir_option

__all__ = ["graph"]


@click.command(cls=Command)
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["mermaid", "dot", "json", "html", "svg"]),
    default="mermaid",
    show_default=True,
)
@click.option("--pipeline", "name", help="Which pipeline, when the paths hold several.")
@click.option(
    "--run",
    "run_id",
    metavar="ID",
    help="html/svg: colour each task by how it ended in this local run, with its duration "
    "(`latest`: the newest; a prefix of an id will do; see `glacier runs`).",
)
@data_dir_option
def graph(
    paths: tuple[str, ...], fmt: str, name: str | None, run_id: str | None, data_dir: str
) -> None:
    """Print the graph of tasks and datasets of a pipeline (read statically, not imported).

    Without PATHS, the `pipelines` of `[tool.glacier]` in pyproject.toml, as `check` reads.
    `--format html` writes one self-contained page to look at (`> graph.html`, then open it:
    nothing is fetched), `svg` the same picture alone; with `--run ID` (or `--run latest`)
    each task is coloured by how it ended in that local run and shows its duration.
    """
    from codegen import RunView, emit_dot, emit_graph_json, emit_html, emit_mermaid, emit_svg

    if run_id is not None and fmt not in ("html", "svg"):
        raise click.UsageError("--run colours the html and svg formats only")

    analysis = analyse_or_exit(paths)
    pipelines = [p for p in analysis.pipelines if name is None or p.name == name]
    if len(pipelines) != 1:
        names = ", ".join(f"`{p.name}`" for p in analysis.pipelines) or "none"
        if name is not None:
            what = f"no pipeline named `{name}`"
        else:
            what = "several pipelines" if pipelines else "no pipeline"
        raise Misuse(f"glacier graph: {what} found (pipelines: {names}); use --pipeline")
    model = pipelines[0]
    run = None
    if run_id is not None:
        from glacier_local import history

        try:
            record = history.find_run(data_dir, model.name, run_id)
        except history.HistoryError as exc:
            raise Misuse(f"glacier graph: {exc}") from None
        run = RunView(
            str(record["id"]),
            str(record.get("status")),
            {t["name"]: (t["status"], t.get("duration_s")) for t in record.get("tasks", ())},
        )
    if fmt == "mermaid":
        text = emit_mermaid(model, source_file=model.span.file, generator="glacier graph")
    elif fmt == "dot":
        text = emit_dot(model, source_file=model.span.file, generator="glacier graph")
    elif fmt == "html":
        text = emit_html(model, source_file=model.span.file, generator="glacier graph", run=run)
    elif fmt == "svg":
        text = emit_svg(model, source_file=model.span.file, generator="glacier graph", run=run)
    else:
        text = emit_graph_json(model)
    click.echo(text, nl=False)
