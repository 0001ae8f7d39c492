"""``glacier check`` through the CLI: output formats (snapshots), exit codes, suppression."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from glacier_cli import main

ROOT = Path(__file__).resolve().parents[1]
INVALID = ROOT / "tests" / "fixtures" / "analyzer" / "invalid"
VALID = ROOT / "tests" / "fixtures" / "analyzer" / "valid"

MANY = str(INVALID / "many.py")
LOOP = str(INVALID / "loop")


def check(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["check", *args])
    return result.exit_code, result.output


@pytest.mark.parametrize("output_format", ["text", "json", "github"])
def test_output_formats(output_format: str, snapshot: object) -> None:
    code, output = check("--format", output_format, MANY, LOOP)
    assert code == 1
    assert output == snapshot


def test_quiet_text_prints_only_the_diagnostics(snapshot: object) -> None:
    code, output = check("--quiet", LOOP)
    assert code == 1
    assert output == snapshot
    assert "Found" not in output


def test_text_lines_are_sorted_and_linter_shaped() -> None:
    _, output = check(MANY)
    lines = [line for line in output.splitlines() if line.startswith("tests/")]
    keys = [
        (line.split(":")[0], int(line.split(":")[1]), int(line.split(":")[2])) for line in lines
    ]
    assert keys == sorted(keys)
    assert all(line.split(": ", 1)[1].startswith("GLC") for line in lines)
    assert all(not line.endswith(".") for line in lines)


def test_json_has_every_field_and_a_summary() -> None:
    _, output = check("--format", "json", MANY)
    data = json.loads(output)
    fields = {
        "code",
        "name",
        "severity",
        "message",
        "hint",
        "path",
        "line",
        "column",
        "end_line",
        "end_column",
        "fixable",
    }
    assert all(set(d) == fields for d in data["diagnostics"])
    assert data["summary"] == {
        "errors": 5,
        "warnings": 2,
        "files": 1,
        "pipelines": 2,
        "fixable": 0,
        "fixed": 0,
    }


def test_github_annotations_escape_per_the_workflow_command_rules(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    module = tmp_path / "odd, name: 100%.py"
    module.write_text(
        "from glacier import Dataset, Pipeline\n"
        "p = Pipeline(name='p')\n"
        "a = Dataset(name='a%\\n,b')\n"
        "@p.task()\ndef t(x: a) -> None: ...\n"
    )
    code, output = check("--format", "github", "--quiet", str(module))
    assert code == 1
    (line,) = output.splitlines()
    assert line.startswith("::error file=odd%2C name%3A 100%25.py,line=3,col=5,")
    assert ",title=GLC102 source-without-storage::" in line
    message = line.split("::", 2)[2]
    assert "\n" not in message and "`a%25%0A,b`" in message and "%0Ahint: " in message


def test_clean_and_warning_only_runs_exit_zero(tmp_path: Path) -> None:
    assert check(str(VALID / "shop")) == (0, "No problems found (1 pipeline in 5 files checked)\n")
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "w.py").write_text("from glacier import Pipeline\np = Pipeline(name='p')\n")
    code, output = check(str(tmp_path))
    assert code == 0
    assert "w.py:2:5: GLC502 pipeline `p` has no tasks" in output and output.endswith(
        "Found 1 warning (1 pipeline in 1 file checked)\n"
    )


def test_suppressed_findings_do_not_fail_the_check(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "m.py").write_text(
        "from glacier import Dataset, Pipeline\n"
        "p = Pipeline(name='p')\n"
        "a = Dataset(name='a')  # glacier: ignore[GLC102]\n"
        "@p.task()\ndef t(x: a) -> None: ...\n"
    )
    assert check("-q", str(tmp_path)) == (0, "")


def test_usage_errors_exit_two() -> None:
    assert check("no/such/path.py")[0] == 2
    assert check("--format", "xml", MANY)[0] == 2


def test_examples_are_free_of_errors() -> None:
    code, output = check(str(ROOT / "examples"))
    assert code == 0, output


def test_check_imports_libcst_only_to_parse_and_never_pulumi_or_user_code(
    tmp_path: Path,
) -> None:
    """A cold check parses with libcst; a check answered from the cache imports no parser."""
    probe = (
        "import sys\n"
        "from glacier_cli import main\n"
        "try:\n"
        f"    main(['check', '-q', {str(VALID / 'pulumi_storage.py')!r}])\n"
        "except SystemExit as exit:\n"
        "    code = exit.code\n"
        "loaded = [m for m in ('libcst', 'pulumi', 'pulumi_aws', 'jinja2', 'pulumi_storage')\n"
        "          if m in sys.modules]\n"
        "print(code, loaded)\n"
    )
    env = {**os.environ, "GLACIER_CACHE_DIR": str(tmp_path / "cache")}

    def loaded() -> str:
        done = subprocess.run(
            [sys.executable, "-c", probe],
            check=False,
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=env,
        )
        return done.stdout.strip() + done.stderr

    assert loaded() == "0 ['libcst']"
    assert loaded() == "0 []"


def test_an_analyzer_bug_is_an_internal_error_not_a_finding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("bug")

    monkeypatch.setattr("analyzer._analyze.analyze", broken)
    result = CliRunner().invoke(main, ["check", "--no-cache", MANY])
    assert result.exit_code == 2
    assert "internal error: RuntimeError: bug" in result.output


def test_param_names_a_run_parameter_some_task_has(tmp_path: Path) -> None:
    aliases = str(VALID / "aliases.py")  # `split_scores` has `limit: int = 5`, `store` `verbose`
    ok = check("--no-cache", aliases, "--param", "limit=3", "--param", "split_scores.limit=4")
    assert ok[0] == 0, ok[1]
    code, output = check("--no-cache", aliases, "--param", "limt=3", "--param", "store.limit=1")
    assert code == 1
    assert "GLC210 `--param limt` sets nothing: no task of pipeline `aliases`" in output
    assert "GLC210 `--param store.limit` sets nothing" in output
    assert "run parameters: `split_scores.limit`, `store.verbose`;" in output
    code, output = check("--no-cache", aliases, "--param", "limit")
    assert code == 2
    assert "--param 'limit': expected NAME=VALUE or TASK.NAME=VALUE" in output
