"""``glacier inspect``: the static and runtime paths print identical models (the contract).

The runtime side runs in a fresh interpreter (it imports, i.e. executes, the modules); modules
that construct raw Pulumi resources run under ``pulumi.runtime.set_mocks`` there.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from glacier_cli import main

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"
VALID = TESTS / "fixtures" / "analyzer" / "valid"
EXAMPLES = ROOT / "examples"

PLAIN = [
    EXAMPLES / "layer1_local.py",
    EXAMPLES / "layer2_environments.py",
    EXAMPLES / "orders",
    VALID / "aliases.py",
    VALID / "shop",
    VALID / "envs.py",
    VALID / "existing.py",
    VALID / "strings.py",
    VALID / "quoted.py",
    VALID / "registered",  # tasks registered by a call, and one under `functools.wraps`
    TESTS / "fixtures" / "runtime" / "typed_pipeline.py",
]
WITH_PULUMI = [
    EXAMPLES / "layer3_raw_pulumi.py",
    VALID / "pulumi_storage.py",
    TESTS / "fixtures" / "deploy" / "kms_bucket.py",
]

_UNDER_MOCKS = textwrap.dedent(
    """
    import json, sys
    sys.path.insert(0, {tests!r})
    from _pulumi_mocks import run_program
    from glacier_cli.inspect import runtime_models
    models = run_program(lambda: runtime_models({paths!r})).result
    print(json.dumps({{"pipelines": [m.to_dict() for m in models]}}, indent=2, ensure_ascii=False))
    """
)


def _static(paths: list[Path]) -> str:
    result = CliRunner().invoke(main, ["inspect", *map(str, paths)])
    assert result.exit_code == 0, result.output
    return result.output


def _run(args: list[str], cwd: Path = ROOT) -> str:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(
        args, check=False, cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _runtime_under_mocks(paths: list[Path], cwd: Path = ROOT) -> str:
    code = _UNDER_MOCKS.format(tests=str(TESTS), paths=[str(p) for p in paths])
    return _run([sys.executable, "-c", code], cwd)


def _names(output: str) -> list[str]:
    return [p["name"] for p in json.loads(output)["pipelines"]]


def test_static_and_runtime_cli_outputs_are_identical() -> None:
    static = _static(PLAIN)
    runtime = _run([sys.executable, "-m", "glacier_cli", "inspect", "--runtime", *map(str, PLAIN)])
    assert _names(static) == [
        "aliases",
        "envs",
        "etl",
        "existing",
        "orders",
        "quoted",
        "registered",
        "sales",
        "shop",
        "strings",
        "typed",
    ]
    assert static == runtime


def test_static_and_runtime_agree_on_raw_pulumi_modules() -> None:
    static = _static(WITH_PULUMI)
    assert _names(static) == ["archive", "kms", "raw_pulumi"]
    assert static == _runtime_under_mocks(WITH_PULUMI)


def test_static_and_runtime_agree_on_every_documented_fix(tmp_path: Path) -> None:
    """The catalog's valid examples are valid for the runtime path too, with equal models."""
    from test_analyzer_catalog import ENTRIES

    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'fixes'\n")
    paths = []
    for code, (_, _, fix) in sorted(ENTRIES.items()):
        if fix is not None:
            path = tmp_path / f"fix_{code.lower()}.py"
            path.write_text(fix)
            paths.append(path)
    static = _static(paths)
    assert len(_names(static)) == len(paths)
    assert static == _runtime_under_mocks(paths, cwd=tmp_path)


def test_the_module_that_writes_a_file_agrees_and_only_the_runtime_path_runs_it(
    tmp_path: Path,
) -> None:
    """The last valid corpus module, in a copy: importing it writes a file beside it."""
    (tmp_path / "pyproject.toml").write_text("")
    module = tmp_path / "writes_file.py"
    module.write_text((VALID / "writes_file.py").read_text())
    static = _static([module])
    assert _names(static) == ["side_effects"]
    assert not (tmp_path / "EXECUTED.txt").exists()
    runtime = _run(
        [sys.executable, "-m", "glacier_cli", "inspect", "--runtime", str(module)], tmp_path
    )
    assert (tmp_path / "EXECUTED.txt").exists()
    assert static == runtime


def test_inspect_prints_the_model_as_json(snapshot: object) -> None:
    output = _static([VALID / "shop"])
    assert json.loads(output)["pipelines"][0]["name"] == "shop"
    assert output == snapshot


def test_static_errors_go_to_stderr_and_fail(tmp_path: Path) -> None:
    """A module that cannot be read is not silently missing from the output."""
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "broken.py").write_text("from glacier import Pipeline\np = Pipeline(name='p'\n")
    shutil.copy(VALID / "strings.py", tmp_path / "strings.py")
    result = CliRunner().invoke(main, ["inspect", str(tmp_path)])
    assert result.exit_code == 1
    assert _names(result.stdout) == ["strings"]  # what could be read
    assert result.stderr.startswith("broken.py:2:13: GLC001 `broken.py` cannot be parsed")
    assert "hint: " in result.stderr


def test_runtime_is_documented_as_executing_the_modules() -> None:
    result = CliRunner().invoke(main, ["inspect", "--help"])
    assert result.exit_code == 0
    assert "EXECUTES" in result.output


def test_runtime_import_failure_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "bad.py").write_text("import glacier\nraise RuntimeError('boom')\n")
    result = CliRunner().invoke(main, ["inspect", "--runtime", str(tmp_path / "bad.py")])
    assert result.exit_code == 2
    assert "RuntimeError: boom" in result.output


@pytest.mark.parametrize("path", ["does-not-exist.py"])
def test_missing_path_is_a_usage_error(path: str) -> None:
    result = CliRunner().invoke(main, ["inspect", path])
    assert result.exit_code == 2


def test_runtime_without_paths_or_configured_pipelines_refuses(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        result = CliRunner().invoke(main, ["inspect", "--runtime"])
    finally:
        os.chdir(cwd)
    assert result.exit_code == 2
    assert "name the PATHS" in result.output


# -- static equals runtime on generated modules that mix every registration form ------------------

_FORMS = ("decorator", "call", "named_call", "variable", "wrapped", "imported")


def _generated_module(forms: list[str], suffix: str) -> dict[str, str]:
    """A chain of tasks `t0 -> t1 -> ...`, each registered in one of ``_FORMS``."""
    helpers = [f'"""Plain functions of `{suffix}`."""', f"from m_{suffix}_decls import *", ""]
    lines = [
        f'"""Registrations of every form ({suffix})."""',
        "import functools",
        f"from m_{suffix}_decls import *",
        f"import m_{suffix}_helpers as helpers",
        "from glacier import Pipeline",
        "",
        f'pipeline = Pipeline(name="gen_{suffix}", description=__doc__)',
        "register = pipeline.task(retries=1)",
        "",
        "",
        "def logged(fn):",
        "    @functools.wraps(fn)",
        "    def wrapper(*args, **kwargs):",
        "        return fn(*args, **kwargs)",
        "",
        "    return wrapper",
        "",
    ]
    decls = ["from glacier import Dataset, ObjectStorage", ""]
    decls += [f'd{i} = Dataset(name="d{i}")' for i in range(len(forms))]
    decls.append(
        f'd{len(forms)} = Dataset(name="d{len(forms)}", storage=ObjectStorage(bucket="b"))'
    )
    for i, form in enumerate(forms):
        signature = f"def t{i}(" + (f"x: d{i - 1}" if i else "") + f") -> d{i}:\n    return 1\n"
        if form == "imported":
            helpers += ["", signature]
            lines.append(f"pipeline.task()(helpers.t{i})")
            continue
        if form == "decorator":
            lines += ["", "@pipeline.task()", signature]
        elif form == "wrapped":
            lines += ["", "@pipeline.task()", "@logged", signature]
        else:
            lines += ["", signature]
            lines.append(
                {
                    "call": f"pipeline.task()(t{i})",
                    "named_call": f'pipeline.task(name="task {i}")(t{i})',
                    "variable": f"register(t{i})",
                }[form]
            )
    lines += [
        "",
        "",
        f"@pipeline.task()\ndef last(x: d{len(forms) - 1}) -> d{len(forms)}:\n    return 1",
    ]
    return {
        f"m_{suffix}.py": "\n".join(lines) + "\n",
        f"m_{suffix}_decls.py": "\n".join(decls) + "\n",
        f"m_{suffix}_helpers.py": "\n".join(helpers) + "\n",
    }


_GENERATED = iter(range(10**6))


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(forms=st.lists(st.sampled_from(_FORMS), min_size=1, max_size=6))
def test_static_equals_runtime_on_modules_mixing_every_registration_form(
    tmp_path: Path, forms: list[str]
) -> None:
    from analyzer import analyze
    from glacier_cli.inspect import runtime_models

    suffix = f"g{next(_GENERATED)}"
    project = tmp_path / suffix
    project.mkdir()
    (project / "pyproject.toml").write_text("")
    for name, text in _generated_module(forms, suffix).items():
        (project / name).write_text(text)
    module = project / f"m_{suffix}.py"
    analysis = analyze([module])
    assert analysis.errors == (), analysis.errors
    (static,) = analysis.pipelines
    (runtime,) = runtime_models([str(module)])
    assert len(static.tasks) == len(forms) + 1
    assert static.to_dict() == runtime.to_dict()
