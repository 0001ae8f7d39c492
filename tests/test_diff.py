"""``glacier diff``: a fixture git repository built here, one commit per kind of change.

The repository is made once per module (``repo``); each test compares two of its commits (or
a commit and the working tree) through the CLI runner and asserts the whole report: each
change shows up, and nothing else does. Most comparisons skip the Pulumi preview
(``--no-preview``); one runs it, for the resources of the generated program.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from markdown_it import MarkdownIt
from syrupy.assertion import SnapshotAssertion

from glacier_cli import main

ROOT = Path(__file__).resolve().parent.parent

PYPROJECT = """\
[project]
name = "shop"
version = "0"

[tool.glacier]
pipelines = ["pipeline.py"]
"""

INITIAL = '''\
"""The shop's daily sales."""

from glacier import Dataset, Pipeline
from glacier.storage import ObjectStorage

pipeline = Pipeline(name="sales", schedule="rate(1 day)")

orders = Dataset[list[int]](name="orders", storage=ObjectStorage(bucket="landing"))
refunds = Dataset[list[int]](name="refunds", storage=ObjectStorage(bucket="landing"))
valid = Dataset[list[int]](name="valid")
totals = Dataset[dict[str, int]](name="totals", storage=ObjectStorage(bucket="reports"))


@pipeline.task()
def tidy(rows: orders) -> valid:
    return [r for r in rows if r >= 0]


@pipeline.task()
def summarise(rows: valid) -> totals:
    return {"total": sum(rows)}
'''

AUDIT = """

@pipeline.task()
def audit(summary: totals) -> None:
    assert summary["total"] >= 0
"""

# (commit message, edit of pipeline.py); each is one commit after INITIAL
CHANGES: list[tuple[str, Any]] = [
    ("add a task", lambda text: text + AUDIT),
    (
        "move a dataset",
        lambda text: text.replace(
            '"totals", storage=ObjectStorage(bucket="reports")',
            '"totals", storage=ObjectStorage(bucket="reports-eu")',
        ),
    ),
    (
        "widen inputs",
        lambda text: text.replace(
            "def summarise(rows: valid)", "def summarise(rows: valid, back: refunds)"
        ),
    ),
    (
        "rename a task",
        lambda text: text.replace(
            "@pipeline.task()\ndef tidy", '@pipeline.task("clean")\ndef tidy'
        ),
    ),
    ("change the schedule", lambda text: text.replace("rate(1 day)", "rate(6 hours)")),
    (
        "edit a task body",
        lambda text: text.replace('{"total": sum(rows)}', '{"total": sum(rows) - sum(back)}'),
    ),
    (
        "edit a comment",
        lambda text: text.replace(
            "    return [r for r in rows if r >= 0]",
            "    # negative amounts are cancellations\n    return [r for r in rows if r >= 0]",
        ),
    ),
]
_GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
    "GIT_AUTHOR_DATE": "2026-01-01T00:00:00+00:00",
    "GIT_COMMITTER_DATE": "2026-01-01T00:00:00+00:00",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args],
        cwd=repo,
        env={**os.environ, **_GIT_ENV},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture repository: ``INITIAL`` on ``main``, then one commit per ``CHANGES``
    (same dates and author, so the commit ids, which the reports show, never change)."""
    path = tmp_path_factory.mktemp("shop")
    _git(path, "init", "-q", "-b", "main")
    (path / "pyproject.toml").write_text(PYPROJECT)
    (path / "pipeline.py").write_text(INITIAL)
    _git(path, "add", "-A")
    _git(path, "commit", "-q", "-m", "the sales pipeline")
    for message, edit in CHANGES:
        source = path / "pipeline.py"
        source.write_text(edit(source.read_text()))
        _git(path, "commit", "-q", "-a", "-m", message)
    return path


@pytest.fixture
def in_repo(repo: Path) -> Iterator[Path]:
    cwd = os.getcwd()
    os.chdir(repo)
    try:
        yield repo
    finally:
        os.chdir(cwd)


def _commit(index: int) -> str:
    """``HEAD~n`` naming the commit after the ``index``-th change (0: the first commit)."""
    return f"HEAD~{len(CHANGES) - index}" if index < len(CHANGES) else "HEAD"


def _diff(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["diff", *args])
    return result.exit_code, result.stdout, result.stderr


def _json(*args: str) -> dict[str, Any]:
    code, out, err = _diff(*args, "--format", "json")
    assert code == 0, err
    data: dict[str, Any] = json.loads(out)
    return data


def _change(index: int) -> dict[str, Any]:
    """The one pipeline of the diff between the commits before and after change ``index``."""
    data = _json(_commit(index - 1), _commit(index), "--no-preview")
    assert len(data["pipelines"]) == 1, data
    pipeline: dict[str, Any] = data["pipelines"][0]
    assert pipeline["name"] == "sales"
    assert pipeline["status"] == "changed"
    return pipeline


def _fields(item: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["field"]: (c["before"], c["after"]) for c in item["changes"]}


def _grants(pipeline: dict[str, Any]) -> set[tuple[str, str, str, str]]:
    """(environment, task, resource, +action / -action) of every grant change."""
    return {
        (env["name"], g["task"], g["resource"], sign + action)
        for env in pipeline["environments"]
        for g in env["grants"]
        for sign, actions in (("+", g["added"]), ("-", g["removed"]))
        for action in actions
    }


WRITE = ("s3:AbortMultipartUpload", "s3:DeleteObject", "s3:PutObject")


def test_an_added_task_is_added_with_its_edge_and_its_grants(in_repo: Path) -> None:
    pipeline = _change(1)
    assert [(t["name"], t["status"]) for t in pipeline["tasks"]] == [("audit", "added")]
    assert pipeline["tasks"][0]["span"] == {"file": "pipeline.py", "line": 25, "column": 1}
    assert pipeline["datasets"] == [] and pipeline["changes"] == []
    assert pipeline["edges"] == [
        {"status": "added", "kind": "reads", "source": "totals", "target": "audit"}
    ]
    assert pipeline["affected"] == []
    assert _grants(pipeline) == {
        ("default", "audit", "arn:aws:s3:::reports (prefix totals.)", "+s3:ListBucket"),
        ("default", "audit", "arn:aws:s3:::reports/totals.<format>", "+s3:GetObject"),
    }


def test_a_moved_dataset_moves_its_grants(in_repo: Path) -> None:
    pipeline = _change(2)
    assert pipeline["tasks"] == [] and pipeline["edges"] == []
    [dataset] = pipeline["datasets"]
    assert (dataset["name"], dataset["status"]) == ("totals", "changed")
    assert _fields(dataset) == {"storage": ("object bucket=reports", "object bucket=reports-eu")}
    # its consumer reads it from the other bucket (its producer writes it there: its grants)
    assert pipeline["affected"] == ["audit"]
    old, new = "arn:aws:s3:::reports", "arn:aws:s3:::reports-eu"
    expected = set()
    for task, actions in (("summarise", WRITE), ("audit", ("s3:GetObject",))):
        for sign, bucket in (("-", old), ("+", new)):
            expected.add(("default", task, f"{bucket} (prefix totals.)", sign + "s3:ListBucket"))
            expected |= {("default", task, f"{bucket}/totals.<format>", sign + a) for a in actions}
    assert _grants(pipeline) == expected


def test_a_widened_task_gains_an_input_an_edge_and_read_grants(in_repo: Path) -> None:
    pipeline = _change(3)
    [task] = pipeline["tasks"]
    assert (task["name"], task["status"]) == ("summarise", "changed")
    fields = _fields(task)
    assert fields["inputs"] == ("rows=valid", "rows=valid, back=refunds")
    # the signature is the task's declaration, not its code: the fingerprint has no annotations
    assert set(fields) == {"inputs", "code"}
    assert pipeline["edges"] == [
        {"status": "added", "kind": "reads", "source": "refunds", "target": "summarise"}
    ]
    # `refunds` was declared but read by no task: it was not part of the pipeline
    assert [(d["name"], d["status"]) for d in pipeline["datasets"]] == [("refunds", "added")]
    assert pipeline["affected"] == ["audit"]
    assert _grants(pipeline) == {
        ("default", "summarise", "arn:aws:s3:::landing (prefix refunds.)", "+s3:ListBucket"),
        ("default", "summarise", "arn:aws:s3:::landing/refunds.<format>", "+s3:GetObject"),
    }


def test_a_renamed_task_is_one_rename_and_nothing_else(in_repo: Path) -> None:
    pipeline = _change(4)
    assert pipeline["tasks"] == [
        {
            "name": "clean",
            "status": "renamed",
            "previous": "tidy",
            "span": {"file": "pipeline.py", "line": 15, "column": 1},
            "changes": [],
        }
    ]
    assert pipeline["edges"] == [] and pipeline["datasets"] == []
    assert pipeline["environments"] == [] and pipeline["affected"] == []


def test_a_schedule_change_is_a_field_of_the_pipeline(in_repo: Path) -> None:
    pipeline = _change(5)
    assert pipeline["changes"] == [
        {"field": "schedule", "before": "rate(1 day)", "after": "rate(6 hours)"}
    ]
    assert pipeline["tasks"] == pipeline["datasets"] == pipeline["edges"] == []
    assert pipeline["environments"] == []


def test_an_edited_body_changes_the_code_and_affects_downstream(in_repo: Path) -> None:
    pipeline = _change(6)
    [task] = pipeline["tasks"]
    assert task["name"] == "summarise" and list(_fields(task)) == ["code"]
    before, after = _fields(task)["code"]
    assert re.fullmatch(r"[0-9a-f]{12}", before) and re.fullmatch(r"[0-9a-f]{12}", after)
    assert before != after
    assert pipeline["affected"] == ["audit"]
    assert pipeline["edges"] == [] and pipeline["environments"] == []


def test_a_comment_only_edit_shows_nothing(in_repo: Path) -> None:
    code, out, err = _diff(_commit(6), _commit(7), "--no-preview", "--exit-code")
    assert (code, err) == (0, "")
    assert out.splitlines()[0].endswith(": no pipeline changed")
    data = _json(_commit(6), _commit(7), "--no-preview")
    assert data["changed"] is False and data["pipelines"] == []


def test_head_1_against_the_working_tree(in_repo: Path) -> None:
    """``glacier diff HEAD~1``: the working tree (the last commit, unchanged) against its
    parent, a comment edit: nothing; then an uncommitted edit shows up."""
    code, out, _ = _diff("HEAD~1", "--no-preview")
    assert code == 0
    assert out.startswith("glacier diff HEAD~1 (") and "..working tree: no pipeline changed" in out
    source = in_repo / "pipeline.py"
    text = source.read_text()
    try:
        source.write_text(text.replace("rate(6 hours)", "rate(2 hours)"))
        code, out, _ = _diff("HEAD~1", "--no-preview", "--exit-code")
        assert code == 1
        assert "  schedule: rate(6 hours) -> rate(2 hours)" in out.splitlines()
    finally:
        source.write_text(text)


def test_the_default_base_is_the_merge_base_with_main(in_repo: Path) -> None:
    _git(in_repo, "checkout", "-q", "-b", "feature")
    try:
        code, out, _ = _diff("--no-preview")  # main is HEAD: nothing between them
        assert code == 0
        assert out.startswith("glacier diff merge-base(main) (")
    finally:
        _git(in_repo, "checkout", "-q", "main")
        _git(in_repo, "branch", "-q", "-D", "feature")


def test_the_whole_history_as_json(in_repo: Path, snapshot: SnapshotAssertion) -> None:
    """The JSON text itself (docs/diff.md's schema), every change of the history at once."""
    code, out, _ = _diff(_commit(0), _commit(len(CHANGES)), "--no-preview", "--format", "json")
    assert code == 0
    assert out == snapshot


def test_resources_of_the_generated_program(in_repo: Path) -> None:
    """The preview of each revision's program (Pulumi's mocks, in a child process): the added
    task's function, role and the rest, nothing of the other tasks."""
    data = _json(_commit(0), _commit(1))
    [env] = data["pipelines"][0]["environments"]
    added = {(r["type"], r["name"]) for r in env["resources"]["added"]}
    assert ("aws:lambda/function:Function", "sales-audit-function") in added
    assert ("aws:iam/role:Role", "sales-audit-role") in added
    assert all("audit" in name or "sfn" in name or "machine" in name for _, name in added), added
    assert env["resources"]["removed"] == []


def test_markdown_is_a_pull_request_comment(in_repo: Path) -> None:
    code, out, _ = _diff(_commit(0), _commit(len(CHANGES)), "--no-preview", "--format", "markdown")
    assert code == 0
    tokens = MarkdownIt("commonmark").enable("table").parse(out)
    types = [t.type for t in tokens]
    # the summary table comes first, then the collapsed details
    assert types.index("table_open") < min(
        i for i, t in enumerate(tokens) if "<details>" in t.content
    )
    cells = [t.content for t in tokens if t.type == "inline"]
    header = cells[1:9]
    assert header == [
        "Pipeline",
        "Status",
        "Settings",
        "Tasks",
        "Datasets",
        "Edges",
        "Grants",
        "Resources",
    ]
    assert cells[9:17] == [
        "`sales`",
        "changed",
        "schedule",
        "+1 ~2",
        "+1 ~1",
        "+2",
        "+8 \u22124",
        "\u2014",
    ]
    blocks = [t.content for t in tokens if t.type == "html_block"]
    assert blocks[0].startswith("<details><summary>pipeline <code>sales</code>")
    assert blocks[-1].strip() == "</details>"
    [graph] = [t for t in tokens if t.type == "fence" and t.info == "mermaid"]
    lines = graph.content.splitlines()
    assert lines[0] == "flowchart LR"
    assert '  task_audit["+ audit"]:::added' in lines
    assert '  task_clean["~ clean (was tidy)"]:::changed' in lines
    assert "  ds_refunds == added ==> task_summarise" in lines


def test_github_annotations_point_at_the_changed_lines(in_repo: Path) -> None:
    code, out, _ = _diff(_commit(3), _commit(4), "--no-preview", "--format", "github")
    assert code == 0
    assert out.splitlines() == [
        "::notice file=pipeline.py,line=6,col=12,title=glacier diff::pipeline `sales` changed",
        (
            "::notice file=pipeline.py,line=15,col=1,title=glacier diff::> task `clean` renamed "
            "from `tidy` (pipeline.py:15:1)"
        ),
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope"], "glacier diff: unknown revision or path not in the working tree: nope"),
        (["HEAD", "HEAD~1", "nope"], "glacier diff: no such path in the working tree: nope"),
    ],
)
def test_usage_errors_are_one_line(in_repo: Path, args: list[str], message: str) -> None:
    code, out, err = _diff(*args)
    assert (code, out, err) == (2, "", message + "\n")


def test_outside_a_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    code, _, err = _diff()
    assert code == 2
    assert err == f"glacier diff: not a git repository: {tmp_path}\n"


def test_the_documented_output_is_the_real_one(in_repo: Path) -> None:
    """docs/diff.md's example is this repository's diff, pasted."""
    doc = (ROOT / "docs" / "diff.md").read_text()
    example = re.search(r"<!-- diff-example -->\n```text\n\$ (.*?)\n(.*?)```", doc, re.DOTALL)
    assert example is not None
    command, shown = example.groups()
    args = command.split()[2:]
    code, out, _ = _diff(*args)
    assert code == 0
    assert out == shown


def test_without_the_aws_extra_resources_are_one_note(repo: Path) -> None:
    """A target whose preview cannot run (pulumi missing: ``UsageError``) leaves one note and
    every other change."""
    from analyzer import analyze
    from codegen import compare, read_revision, render_diff, target
    from glacier.errors import UsageError

    aws = target("aws")

    class NoPulumi:
        name = "aws"
        diagnostics = staticmethod(aws.diagnostics)
        grants = staticmethod(aws.grants)  # type: ignore[attr-defined]
        programs = staticmethod(aws.programs)
        program_dir = staticmethod(aws.program_dir)

        def preview(self, program_dir: str, env: str, built_dir: str) -> dict[str, Any]:
            raise UsageError('glacier plan needs pulumi: pip install "glacier[aws]"')

    analysis = analyze([str(repo / "pipeline.py")], root=str(repo))
    empty = read_revision(analyze([], root=str(repo / "missing")), "base", NoPulumi())
    head = read_revision(analysis, "head", NoPulumi())
    text = render_diff(compare(empty, head))
    assert text.splitlines()[:3] == [
        "glacier diff base..head: 1 pipeline changed",
        (
            "note: resources of the generated programs not compared: "
            'glacier plan needs pulumi: pip install "glacier[aws]"'
        ),
        "",
    ]
    assert "pipeline `sales` added (pipeline.py:6:12)" in text


def test_the_hook_runs_in_the_manual_stage() -> None:
    import yaml

    hooks = {h["id"]: h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    assert hooks["glacier-diff"]["stages"] == ["manual"]
    assert hooks["glacier-diff"]["entry"] == "glacier diff"
    assert hooks["glacier-diff"]["pass_filenames"] is False


def _revision_of(tmp_path: Path, label: str, source: str) -> Any:
    from analyzer import analyze
    from codegen import read_revision

    folder = tmp_path / label
    folder.mkdir()
    (folder / "pyproject.toml").write_text(PYPROJECT)
    (folder / "pipeline.py").write_text(source)
    return read_revision(analyze([], root=str(folder)), label)


def test_pipelines_renamed_added_and_datasets_retyped_or_now_produced(tmp_path: Path) -> None:
    """``compare`` on its own: a pipeline renamed (same variable), one added; a dataset's
    payload type changed, a source that a new task now produces."""
    from codegen import compare

    second = (
        '\n\nother = Pipeline(name="other")\n\n\n@other.task()\ndef ping() -> None:\n    pass\n'
    )
    before = _revision_of(tmp_path, "base", INITIAL)
    after = _revision_of(
        tmp_path,
        "head",
        INITIAL.replace('name="sales"', 'name="revenue"')
        .replace("refunds = Dataset[list[int]]", "refunds = Dataset[list[float]]")
        .replace("def summarise(rows: valid)", "def summarise(rows: valid, back: refunds)")
        + "\n\n@pipeline.task()\ndef fetch() -> orders:\n    return [1]\n"
        + second,
    )
    diff = compare(before, after).to_dict()
    assert [(p["name"], p["status"], p["previous"]) for p in diff["pipelines"]] == [
        ("other", "added", None),
        ("revenue", "renamed", "sales"),
    ]
    revenue = diff["pipelines"][1]
    assert {(d["name"], d["status"]): _fields(d) for d in revenue["datasets"]} == {
        ("orders", "changed"): {"role": ("source", "produced")},
        ("refunds", "added"): {},
    }
    assert [(t["name"], t["status"]) for t in revenue["tasks"]] == [
        ("fetch", "added"),
        ("summarise", "changed"),
    ]
    # `tidy` reads what `fetch` now writes; `summarise` changed itself
    assert revenue["affected"] == ["tidy"]
    retyped = compare(
        after,
        _revision_of(
            tmp_path,
            "typed",
            INITIAL.replace('name="sales"', 'name="revenue"').replace(
                "valid = Dataset[list[int]]", "valid = Dataset[list[str]]"
            ),
        ),
    )
    [changed] = [p for p in retyped.pipelines if p.name == "revenue"]
    [dataset] = [d for d in changed.datasets if d.name == "valid"]
    assert [(c.field, c.before, c.after) for c in dataset.changes] == [
        ("type", "list[int]", "list[str]")
    ]
