"""``glacier diff [BASE] [HEAD] [PATH]...``: what changes between two revisions' pipelines.

Both revisions are read, never run: a commit's files come from ``git archive`` into a temporary
directory (the user's checkout is not touched), the working tree is read in place, and each
is analysed as ``glacier check`` does. The comparison is ``codegen.compare``'s, the rendering
``codegen.render_diff``'s. Exit status 0 (1 with ``--exit-code`` when something changed), 2
for a usage error.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from typing import Any

import click

from glacier_cli._common import Command, Misuse, Stop, target_option

__all__ = ["diff"]


@click.command(cls=Command)
@click.argument("args", nargs=-1, metavar="[BASE] [HEAD] [PATH]...")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "markdown", "json", "github"]),
    default="text",
    show_default=True,
    help="text; markdown: a pull request comment; json: docs/diff.md's schema; github: annotations.",
)
@click.option(
    "--exit-code", is_flag=True, help="Exit 1 when something changed (as `git diff --exit-code`)."
)
@click.option(
    "--no-preview",
    is_flag=True,
    help="Do not run the generated programs under Pulumi's mocks (no resource changes).",
)
@target_option
def diff(
    args: tuple[str, ...], fmt: str, exit_code: bool, no_preview: bool, target_name: str
) -> None:
    """Compare the pipelines of two revisions, read from git without running them.

    \b
    BASE: a commit (default: the merge base of HEAD with origin/HEAD, main or master).
    HEAD: a commit (default: the working tree, uncommitted changes included).
    PATH: files or directories to analyse (default: [tool.glacier] pipelines, or the project).

    Reports pipelines, tasks and datasets added, removed, renamed or changed (a task's
    code by its fingerprint: comments and layout do not count), edges, the tasks downstream,
    and per environment the IAM grants each task gains or loses and the resources of the
    generated program (this needs the aws extra).
    """
    from codegen import compare, read_revision, render_diff, target
    from glacier_cli import _git

    top = _git.toplevel(os.getcwd())
    revisions, paths = _split(top, args)
    base_label, base_commit = revisions[0] if revisions else _git.default_base(top)
    head = revisions[1] if len(revisions) > 1 else None
    root = _project_root(paths)
    inside = os.path.relpath(root, top)
    if inside == ".." or inside.startswith(".." + os.sep):
        raise Misuse(f"glacier diff: the project {root} is not inside the repository {top}")
    deployment = target(target_name)
    preview = not no_preview
    with tempfile.TemporaryDirectory(prefix="glacier-diff-") as tmp:
        base_tree = _git.export(top, base_commit, os.path.join(tmp, "base"))
        base = _revision(base_tree, inside, root, paths, base_label, deployment, preview)
        if head is None:
            after = _analysis(root, root, paths)
            head_revision = read_revision(after, "working tree", deployment, preview=preview)
        else:
            head_tree = _git.export(top, head[1], os.path.join(tmp, "head"))
            head_revision = _revision(head_tree, inside, root, paths, head[0], deployment, preview)
    found = compare(base, head_revision, root="" if inside == "." else inside.replace(os.sep, "/"))
    if no_preview:
        found = dataclasses.replace(
            found,
            notes=(*found.notes, "resources of the generated programs not compared (--no-preview)"),
        )
    click.echo(render_diff(found, fmt), nl=False)
    if exit_code and found.changed:
        raise Stop()


def _split(top: str, args: tuple[str, ...]) -> tuple[list[tuple[str, str]], list[str]]:
    """Up to two leading revisions ``(label, commit)``, then paths (which must exist)."""
    from glacier_cli import _git

    revisions: list[tuple[str, str]] = []
    paths: list[str] = []
    for arg in args:
        if not paths and len(revisions) < 2 and not os.path.exists(arg):
            commit = _git.resolve(top, arg)
            if commit is None:
                raise Misuse(
                    f"glacier diff: unknown revision or path not in the working tree: {arg}"
                )
            revisions.append((f"{arg} ({_git.short(top, commit)})", commit))
        elif os.path.exists(arg):
            paths.append(arg)
        else:
            raise Misuse(f"glacier diff: no such path in the working tree: {arg}")
    return revisions, paths


def _project_root(paths: list[str]) -> str:
    from analyzer import find_root

    return find_root(paths or [os.getcwd()])


def _analysis(tree_root: str, root: str, paths: list[str]) -> Any:
    """The analysis of ``paths`` (given in the working tree) in the tree at ``tree_root``."""
    from analyzer import analyze

    mapped = [os.path.join(tree_root, os.path.relpath(os.path.abspath(p), root)) for p in paths]
    present = [p for p in mapped if os.path.exists(p)]
    if paths and not present:
        return None
    return analyze(present, root=tree_root)


def _revision(
    tree: str,
    inside: str,
    root: str,
    paths: list[str],
    label: str,
    deployment: Any,
    preview: bool,
) -> Any:
    from codegen import Revision, read_revision

    tree_root = os.path.normpath(os.path.join(tree, inside))
    analysis = _analysis(tree_root, root, paths) if os.path.isdir(tree_root) else None
    if analysis is None:  # the project (or every PATH) is not in that revision
        return Revision(label, (), {}, {}, None if not preview else {})
    return read_revision(analysis, label, deployment, preview=preview)
