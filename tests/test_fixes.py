"""``glacier check --fix`` / ``--diff``: each fixer's before/after cases, then the engine and CLI.

The harness (LibCST's ``assertCodemod``, Fixit's ``VALID``/``INVALID``) checks each case's
``before`` module for real, fixes it, and asserts the exact text; a second round finds
nothing more to fix.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from analyzer import RULES, analyze
from analyzer.fixes import CASE_HEADER, FIXERS, collect_fixes, fix_source
from glacier_cli import main

CASES = [
    pytest.param(code, before, after, id=f"{code}-{index}")
    for code, fixer in sorted(FIXERS.items())
    for index, (before, after) in enumerate(fixer.cases)
]

BARE = (
    CASE_HEADER + "\n@pipeline.task  # the loader\ndef load(data: raw) -> out:\n    return data\n"
)
CALLED = BARE.replace("@pipeline.task ", "@pipeline.task() ")


def _project(tmp_path: Path, source: str | bytes, name: str = "flow.py") -> Path:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'example'\n")
    module = tmp_path / name
    if isinstance(source, bytes):
        module.write_bytes(source)
    else:
        module.write_text(source, encoding="utf-8")
    return module


def _fix_once(tmp_path: Path, source: str) -> tuple[str, int]:
    module = _project(tmp_path, source)
    fixed, count = fix_source(source, analyze([module], root=str(tmp_path)).diagnostics)
    assert isinstance(fixed, str)
    return fixed, count


@pytest.mark.parametrize(("code", "before", "after"), CASES)
def test_fixer_case(tmp_path: Path, code: str, before: str, after: str) -> None:
    module = _project(tmp_path, CASE_HEADER + before)
    found = analyze([module], root=str(tmp_path)).diagnostics
    if before != after:  # the case is about this code's finding
        assert any(d.code == code and d.fixable for d in found), found
    fixed, _ = fix_source(CASE_HEADER + before, found)
    assert fixed == CASE_HEADER + after
    again, count = _fix_once(tmp_path, CASE_HEADER + after)
    assert (again, count) == (CASE_HEADER + after, 0)  # idempotent


def test_every_fixer_has_cases_that_change_something() -> None:
    assert sorted(FIXERS) == sorted(c for c, rule in RULES.items() if rule.fixable)
    for fixer in FIXERS.values():
        assert any(before != after for before, after in fixer.cases), fixer.code


def test_crlf_line_endings_and_a_bom_survive(tmp_path: Path) -> None:
    source = "\ufeff" + BARE.replace("\n", "\r\n")
    module = _project(tmp_path, source.encode("utf-8"))
    diagnostics = analyze([module], root=str(tmp_path)).diagnostics
    assert [d.code for d in diagnostics] == ["GLC502", "GLC207"]  # no task while uncalled
    fixed, count = fix_source(module.read_bytes(), diagnostics)
    assert (fixed, count) == (("\ufeff" + CALLED.replace("\n", "\r\n")).encode("utf-8"), 1)


def test_a_file_that_does_not_parse_is_left_alone(tmp_path: Path) -> None:
    module = _project(tmp_path, BARE)
    diagnostics = analyze([module], root=str(tmp_path)).diagnostics
    broken = BARE + "def (:\n"
    assert fix_source(broken, diagnostics) == (broken, 0)
    module.write_text(broken)
    after = analyze([module], root=str(tmp_path)).diagnostics
    assert [d.code for d in after] == ["GLC001"]
    assert collect_fixes(str(tmp_path), [*after, *diagnostics]) == []


def test_a_stale_span_fixes_nothing(tmp_path: Path) -> None:
    """The diagnostics of an older version of the file: no node is where they point."""
    module = _project(tmp_path, BARE)
    diagnostics = analyze([module], root=str(tmp_path)).diagnostics
    moved = "\n\n" + CALLED
    assert fix_source(moved, diagnostics) == (moved, 0)


# -- the CLI -----------------------------------------------------------------------------------


def check(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["check", *args])
    return result.exit_code, result.stdout, result.stderr


def test_diff_prints_the_change_and_writes_nothing(tmp_path: Path) -> None:
    module = _project(tmp_path, BARE)
    code, out, err = check("--diff", str(module))
    assert code == 1
    assert out == (
        "--- a/flow.py\n"
        "+++ b/flow.py\n"
        "@@ -5,6 +5,6 @@\n"
        ' out = Dataset(name="out", storage=ObjectStorage(bucket="results"))\n'
        " \n"
        " \n"
        "-@pipeline.task  # the loader\n"
        "+@pipeline.task()  # the loader\n"
        " def load(data: raw) -> out:\n"
        "     return data\n"
    )
    assert err == "Would fix 1 finding in 1 file\n"
    assert module.read_text() == BARE
    module.write_text(CALLED)
    assert check("--diff", str(module)) == (0, "", "")


def test_fix_writes_reports_what_is_left_and_is_idempotent(tmp_path: Path) -> None:
    module = _project(tmp_path, BARE)
    os.chmod(module, 0o640)
    code, out, _ = check(str(module))
    assert code == 1
    assert "flow.py:8:2: GLC207 [*] `@pipeline.task` is used without parentheses\n" in out
    assert out.endswith(
        "Found 1 error and 1 warning (1 pipeline in 1 file checked)\n[*] 1 fixable with `glacier check --fix`\n"
    )
    code, out, _ = check("--fix", str(module))
    assert (code, out) == (0, "Fixed 1 finding\nNo problems found (1 pipeline in 1 file checked)\n")
    assert module.read_text() == CALLED
    assert stat.S_IMODE(module.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    written = module.stat().st_mtime_ns
    assert check("--fix", str(module))[:2] == (
        0,
        "No problems found (1 pipeline in 1 file checked)\n",
    )
    assert module.stat().st_mtime_ns == written  # nothing to fix: not even rewritten


def test_fix_repeats_while_a_fix_uncovers_another_and_exits_on_what_remains(
    tmp_path: Path,
) -> None:
    """Once called, the decorator registers the task, whose `tuple[out]` is then reported."""
    source = CASE_HEADER + (
        "\n@pipeline.task\ndef load(data: raw, limit: int) -> tuple[out]:\n    return data\n"
    )
    module = _project(tmp_path, source)
    code, out, _ = check("--fix", str(module))
    assert module.read_text() == CASE_HEADER + (
        "\n@pipeline.task()\ndef load(data: raw, limit: int) -> out:\n    return data\n"
    )
    assert code == 1
    assert out.startswith("flow.py:9:28: GLC203 the annotation of parameter `limit` of task")
    assert "Fixed 2 findings\nFound 1 error" in out


def test_the_recheck_after_a_fix_sees_the_new_contents_through_the_cache(tmp_path: Path) -> None:
    module = _project(tmp_path, BARE)
    assert check(str(module))[0] == 1  # the whole result is cached now
    assert check("--fix", str(module))[0] == 0
    assert check(str(module))[:2] == (0, "No problems found (1 pipeline in 1 file checked)\n")
    module.write_text(BARE)  # and back: the cache does not answer with the fixed file's result
    assert check("--format", "json", str(module))[1].count('"fixable": true') == 1


def test_fix_and_diff_together_are_a_usage_error(tmp_path: Path) -> None:
    module = _project(tmp_path, BARE)
    assert check("--fix", "--diff", str(module))[0] == 2
    assert module.read_text() == BARE


def test_fix_loads_libcst_only_when_something_is_fixable(tmp_path: Path) -> None:
    module = _project(tmp_path, CALLED)
    probe = (
        "import sys\n"
        "from glacier_cli import main\n"
        "try:\n"
        f"    main(['check', '-q', '--fix', {str(module)!r}])\n"
        "except SystemExit as exit:\n"
        "    code = exit.code\n"
        "print(code, 'libcst' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], check=False, capture_output=True, text=True, cwd=tmp_path
    )
    assert done.stdout.strip() == "0 False", done.stderr
