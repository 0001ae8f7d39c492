"""``codegen.embedded``: the fixed Python of generated files, pasted verbatim around what varies.

The modules' stand-in sections must say what the templates really write: the same top-level
names, with the same annotations, so what mypy checks and the unit tests exercise here is
the code that runs in a generated runner or handler.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from _codegen_support import analyze_paths

from codegen import emit_runner
from codegen.aws._bundle import bundle_files
from codegen.embedded import parts, split_parts

EMBEDDED = Path(__file__).resolve().parents[1] / "codegen" / "embedded"
ORDERS = Path(__file__).resolve().parents[1] / "examples" / "orders"

SOURCE = """\
# an explanation, not embedded
# --- embedded: head ---

first
# --- not embedded ---
stand-in
# --- embedded: body ---
second

third

"""


def test_split_parts_keeps_the_marked_sections_without_blank_ends() -> None:
    assert split_parts(SOURCE) == {"head": "first", "body": "second\n\nthird"}


def test_split_parts_refuses_a_part_marked_twice() -> None:
    with pytest.raises(ValueError, match="'head' is marked twice"):
        split_parts(SOURCE + "# --- embedded: head ---\nagain\n")


def test_a_marker_must_be_a_whole_line() -> None:
    source = "# --- embedded: head ---\nx = 1  # --- not embedded ---\n    # --- not embedded ---\n"
    assert split_parts(source) == {
        "head": "x = 1  # --- not embedded ---\n    # --- not embedded ---"
    }


@pytest.mark.parametrize("module", ["run_local.py", "glacier_handler.py"])
def test_each_module_has_a_head_and_a_body(module: str) -> None:
    found = parts(module)
    assert list(found) == ["head", "body"]
    assert found["head"].startswith('"""')  # the generated file's docstring comes first
    assert "# --- " not in found["head"] + found["body"]


def _top_level(tree: ast.Module) -> dict[str, str | None]:
    """Top-level name -> its annotation (``None``: bound without one)."""
    names: dict[str, str | None] = {}
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names[node.target.id] = ast.unparse(node.annotation)
        elif isinstance(node, ast.Assign):
            names.update({t.id: None for t in node.targets if isinstance(t, ast.Name)})
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names[node.name] = None
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update({(a.asname or a.name).split(".")[0]: None for a in node.names})
    return names


@pytest.fixture(scope="module")
def generated() -> dict[str, str]:
    analysis = analyze_paths(ORDERS)
    (model,) = analysis.pipelines
    runner = emit_runner(
        model, analysis.modules, out_dir=str(ORDERS), build_dir="orders", source_file="orders"
    )
    handler = bundle_files(model, analysis.modules, source_file="orders")["glacier_handler.py"]
    return {"run_local.py": runner, "glacier_handler.py": handler}


@pytest.mark.parametrize("module", ["run_local.py", "glacier_handler.py"])
def test_the_stand_ins_bind_what_the_template_binds(module: str, generated) -> None:
    embedded = _top_level(ast.parse((EMBEDDED / module).read_text(encoding="utf-8")))
    written = _top_level(ast.parse(generated[module]))
    assert embedded == written


@pytest.mark.parametrize("module", ["run_local.py", "glacier_handler.py"])
def test_the_generated_file_holds_the_parts_verbatim_in_order(module: str, generated) -> None:
    text = generated[module]
    head, body = parts(module)["head"], parts(module)["body"]
    assert head in text and text.endswith(body + "\n")
    assert text.index(head) < text.index(body)


def test_the_handler_names_the_retry_on_classes_of_its_lambda_tasks(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "flow.py").write_text(
        "from glacier import Container, Dataset, ObjectStorage, Pipeline\n"
        "p = Pipeline(name='p')\n"
        "s = ObjectStorage(bucket='b')\n"
        "a, b, c = Dataset(name='a', storage=s), Dataset(name='b', storage=s), "
        "Dataset(name='c', storage=s)\n"
        "@p.task(retries=2, retry_on=(TimeoutError, ConnectionError))\n"
        "def fetch() -> a: ...\n"
        "@p.task(retries=2, retry_on=ConnectionError, compute=Container())\n"
        "def boxed() -> b: ...\n"
        "@p.task(retries=0, retry_on=ConnectionError)\n"
        "def never() -> c: ...\n"
    )
    analysis = analyze_paths(tmp_path / "flow.py")
    (model,) = analysis.pipelines
    handler = bundle_files(model, analysis.modules, source_file="flow")["glacier_handler.py"]
    # a container's failure has no exception name, a task without retries no retrier
    assert (
        'RETRY_ON: dict[str, tuple[str, ...]] = {"fetch": ("TimeoutError", "ConnectionError")}'
        in handler
    )
