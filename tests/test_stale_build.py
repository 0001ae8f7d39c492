"""A built deployment program that is older than the sources: `glacier plan` and `glacier
rehearse` (which generate the program afresh) say so, `--strict` refuses (exit 2).

The bundle carries ``glacier_sources.json`` (``codegen.SOURCES_RECORD``): each source file its
task modules were sliced from, relative to the project root, and the SHA-256 of its bytes.
Both commands compare the record under ``--out`` with the one they generate from the current
sources. Where a stale bundle is actually deployed, `pulumi up` of the program under
``build/``, the program's ``LambdaBundle`` (and ``ContainerImage``) compare the record with the
project's files: a warning, or a refusal with the stack's ``glacier:strict``. Also here:
`glacier rehearse` without PATH reads `[tool.glacier]`, as the others do.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from codegen.aws._target import AwsTarget
from glacier_cli import main

ETL = (
    "from glacier import Dataset, ObjectStorage, Pipeline\n\n"
    "from helpers import tidy_rows\n\n"
    'pipeline = Pipeline(name="etl")\n'
    'raw = Dataset(name="raw", storage=ObjectStorage(bucket="landing"))\n'
    'clean = Dataset(name="clean", storage=ObjectStorage(bucket="results"))\n\n\n'
    "@pipeline.task()\ndef tidy(rows: raw) -> clean:\n    return tidy_rows(rows)\n"
)

BUILT = "build/etl/pulumi/default"
WARNING = (
    f"warning: the sources changed since {BUILT} was built (flows/helpers.py); deploying it "
    "would deploy the old code: rebuild it with `glacier build`"
)
REFUSAL = (
    f"error: the sources changed since {BUILT} was built (flows/helpers.py): rebuild it with "
    "`glacier build`"
)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project whose `[tool.glacier]` names `flows/`, the current directory."""
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "p"\nversion = "0"\n\n[tool.glacier]\npipelines = ["flows/etl.py"]\n'
    )
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "etl.py").write_text(ETL)
    (flows / "helpers.py").write_text("def tidy_rows(rows):\n    return sorted(rows)\n")
    (flows / "notes.py").write_text("NOTE = 'not used by any task'\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _invoke(*args: str) -> Any:
    return CliRunner().invoke(main, list(args))


def _edit(path: Path) -> None:
    path.write_text(path.read_text() + "# edited\n")


def test_the_bundle_records_the_sources_its_task_code_comes_from(project: Path) -> None:
    built = _invoke("build")
    assert built.exit_code == 0, built.output
    record = json.loads((project / BUILT / "bundle" / "glacier_sources.json").read_text())
    assert sorted(record) == ["flows/etl.py", "flows/helpers.py"]  # not notes.py: unused
    assert all(len(digest) == 64 for digest in record.values())


@pytest.mark.slow
def test_plan_warns_when_the_built_program_is_older_than_the_sources(project: Path) -> None:
    fresh = _invoke("plan", "--env", "default", "--strict")  # nothing built: nothing stale
    assert fresh.exit_code == 0, fresh.output
    assert "sources changed" not in fresh.stderr
    assert _invoke("build").exit_code == 0
    _edit(project / "flows" / "notes.py")  # no task uses it: the bundle is current
    current = _invoke("plan", "--env", "default", "--strict")
    assert current.exit_code == 0, current.output
    assert "sources changed" not in current.stderr

    _edit(project / "flows" / "helpers.py")
    warned = _invoke("plan", "--env", "default")
    assert warned.exit_code == 0, warned.output
    assert WARNING in warned.stderr
    assert "pipeline `etl`, environment `default`: " in warned.stdout  # previewed all the same
    refused = _invoke("plan", "--env", "default", "--strict")
    assert refused.exit_code == 2
    assert refused.stderr.strip() == REFUSAL
    assert refused.stdout == ""

    assert _invoke("build").exit_code == 0  # rebuilt: current again
    again = _invoke("plan", "--env", "default", "--strict")
    assert again.exit_code == 0, again.output
    assert "sources changed" not in again.stderr


@pytest.fixture
def rehearsed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The target's rehearsal replaced by a record of what it was asked to rehearse (the real
    one is tested in test_rehearse.py): what this file tests happens before it."""
    calls: list[str] = []

    def rehearse(self: AwsTarget, program_dir: str, env: str, **options: Any) -> int:
        assert Path(program_dir, "bundle", "glacier_sources.json").is_file()
        calls.append(f"{options['pipeline']} {env}")
        return 0

    monkeypatch.setattr(AwsTarget, "rehearse", rehearse)
    return calls


def test_rehearse_without_a_path_reads_the_configured_pipelines(
    project: Path, rehearsed: list[str]
) -> None:
    """As `check`, `build`, `graph`, `plan` and `run` do: `[tool.glacier] pipelines`."""
    (project / "stray.py").write_text(
        'from glacier import Pipeline\n\nother = Pipeline(name="x")\n'
    )
    result = _invoke("rehearse", "--env", "default")
    assert result.exit_code == 0, result.output
    assert rehearsed == ["etl default"]  # stray.py is not configured: one pipeline, no --pipeline


def test_rehearse_warns_when_the_built_program_is_older_than_the_sources(
    project: Path, rehearsed: list[str]
) -> None:
    assert _invoke("build").exit_code == 0
    current = _invoke("rehearse", "--env", "default", "--strict")
    assert current.exit_code == 0, current.output
    assert "sources changed" not in current.stderr

    _edit(project / "flows" / "helpers.py")
    warned = _invoke("rehearse", "--env", "default")
    assert warned.exit_code == 0, warned.output
    assert WARNING in warned.stderr
    refused = _invoke("rehearse", "--env", "default", "--strict")
    assert refused.exit_code == 2
    assert REFUSAL in refused.stderr
    assert rehearsed == ["etl default", "etl default"]  # the refused one never ran


def test_a_program_built_without_a_record_counts_every_source_as_changed(
    project: Path, rehearsed: list[str]
) -> None:
    """A program an earlier glacier built carries no record: nothing says it is current."""
    assert _invoke("build").exit_code == 0
    (project / BUILT / "bundle" / "glacier_sources.json").unlink()
    refused = _invoke("rehearse", "--env", "default", "--strict")
    assert refused.exit_code == 2
    assert f"since {BUILT} was built (flows/etl.py, flows/helpers.py)" in refused.stderr


# -- where a stale bundle is deployed: `pulumi up` of the program under build/ ----------------


def test_the_record_name_is_the_same_in_codegen_and_glacier_aws() -> None:
    from codegen import SOURCES_RECORD
    from glacier_aws import archive

    assert archive.SOURCES_RECORD == SOURCES_RECORD


def _deploy_bundle(bundle: Path, config: dict[str, str] | None = None) -> Any:
    from _pulumi_mocks import run_program

    def program() -> None:
        from glacier_aws.deploy import LambdaBundle

        LambdaBundle("etl-bundle", path=str(bundle))

    return run_program(program, config=config)


def test_the_built_program_warns_or_refuses_to_deploy_a_bundle_older_than_its_sources(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The program's `LambdaBundle` compares the bundle's record with the project's files
    (the root above build/): a warning on `pulumi up`, a refusal with `glacier:strict`."""
    import pulumi

    from glacier_aws.archive import changed_sources

    warnings: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *a, **k: warnings.append(message))
    assert _invoke("build").exit_code == 0
    bundle = project / BUILT / "bundle"
    assert changed_sources(str(bundle)) == []
    _deploy_bundle(bundle)
    assert warnings == []

    _edit(project / "flows" / "helpers.py")
    assert changed_sources(str(bundle)) == ["flows/helpers.py"]
    _deploy_bundle(bundle)
    expected = (
        f"the sources changed since the bundle {bundle} was built (flows/helpers.py); this "
        "deploys the code it carries: rebuild it with `glacier build`"
    )
    assert warnings == [expected]
    with pytest.raises(ValueError, match=r"\(flows/helpers\.py\): rebuild it with `glacier build`"):
        _deploy_bundle(bundle, {"glacier:strict": "true"})

    copied = project.parent / "elsewhere" / "bundle"  # away from its sources: nothing to compare
    shutil.copytree(bundle, copied)
    assert changed_sources(str(copied)) == []
