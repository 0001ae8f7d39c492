"""``glacier graph PATH [--format mermaid|dot|json] [--pipeline NAME]``: print a DAG."""

from __future__ import annotations

import click

from glacier_cli._common import Command, Misuse, analyse_or_exit

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
def graph(paths: tuple[str, ...], fmt: str, name: str | None) -> None:
    """Print the graph of tasks and datasets of a pipeline (read statically, not imported).

    Without PATHS, the `pipelines` of `[tool.glacier]` in pyproject.toml, as `check` reads.
    `--format html` writes one self-contained page to look at (`> graph.html`, then open it:
    nothing is fetched), `svg` the same picture alone.
    """
    from codegen import emit_dot, emit_graph_json, emit_html, emit_mermaid, emit_svg

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
    if fmt == "mermaid":
        text = emit_mermaid(model, source_file=model.span.file, generator="glacier graph")
    elif fmt == "dot":
        text = emit_dot(model, source_file=model.span.file, generator="glacier graph")
    elif fmt == "html":
        text = emit_html(model, source_file=model.span.file, generator="glacier graph")
    elif fmt == "svg":
        text = emit_svg(model, source_file=model.span.file, generator="glacier graph")
    else:
        text = emit_graph_json(model)
    click.echo(text, nl=False)
