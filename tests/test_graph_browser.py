"""`glacier graph --format html` in a real browser: headless Chromium (tests/_browser.py).

The page must show every task and dataset, lay 200 tasks out without overlaps, make no request
and log no error; a screenshot of each page is kept in `.test-artifacts/` for a person to look
at. `--format svg` is the same picture without the page.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from _browser import open_page
from click.testing import CliRunner

from analyzer import analyze
from glacier_cli import main

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / ".test-artifacts"

NODES = "JSON.stringify([...document.querySelectorAll('g.node')].map(g => [g.dataset.name, g.classList.contains('task') ? 'task' : 'dataset']))"
BOXES = "JSON.stringify([...document.querySelectorAll('g.node rect')].map(r => { const b = r.getBoundingClientRect(); return [b.left, b.top, b.right, b.bottom]; }))"
EDGES = "document.querySelectorAll('path.edge').length"
FONT = "Math.min(...[...document.querySelectorAll('g.node text')].map(t => parseFloat(getComputedStyle(t).fontSize)))"


def _html(path: Path, out: Path) -> Path:
    result = CliRunner().invoke(main, ["graph", str(path), "--format", "html"])
    assert result.exit_code == 0, result.output
    out.write_text(result.output, encoding="utf-8")
    return out


def _keep(name: str, png: bytes) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / name).write_bytes(png)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")


def test_the_browser_harness_sees_requests_and_errors(tmp_path: Path) -> None:
    """What the other tests assert absent, the harness does see when it happens."""
    page = tmp_path / "bad.html"
    page.write_text(
        '<!DOCTYPE html><html><body><img src="http://example.invalid/x.png">'
        '<script>console.error("boom"); throw new Error("thrown");</script></body></html>'
    )
    seen = open_page(page, ["1 + 1"], settle_s=0.2)
    assert seen.requests == ["http://example.invalid/x.png"]
    assert any("thrown" in e for e in seen.errors) and any("boom" in e for e in seen.errors)
    assert seen.values == {"1 + 1": 2}


def test_the_orders_graph_shows_every_task_and_dataset(tmp_path: Path) -> None:
    path = ROOT / "examples" / "orders"
    (model,) = analyze([str(path)]).pipelines
    seen = open_page(_html(path, tmp_path / "orders.html"), [NODES, EDGES])
    _keep("graph-orders.png", seen.screenshot)
    assert seen.requests == [] and seen.errors == []
    expected = {(t.name, "task") for t in model.tasks} | {
        (d.name, "dataset") for d in model.datasets
    }
    assert sorted(map(tuple, json.loads(seen.values[NODES]))) == sorted(expected)
    reads = sum(len(t.inputs) for t in model.tasks)
    assert seen.values[EDGES] == reads + sum(len(t.outputs) for t in model.tasks)


def _wide_module(groups: int = 22, length: int = 9) -> str:
    """200 tasks: one source task, ``groups`` chains of ``length`` reading it, one gathering
    the chains' ends."""
    lines = [
        "from glacier import Dataset, ObjectStorage, Pipeline",
        "",
        'pipeline = Pipeline(name="wide")',
    ]
    lines.append('root = Dataset(name="root", storage=ObjectStorage(bucket="in"))')
    lines += ["", "", "@pipeline.task()", "def start() -> root:", "    return 0"]
    ends = []
    for g in range(groups):
        previous = "root"
        for i in range(length):
            name = f"g{g}_{i}"
            lines.insert(3, f'{name} = Dataset(name="{name}")')
            lines += ["", "", "@pipeline.task()", f"def t_{name}(x: {previous}) -> {name}:"]
            lines.append("    return x")
            previous = name
        ends.append(previous)
    lines.insert(3, 'total = Dataset(name="total", storage=ObjectStorage(bucket="out"))')
    parameters = ", ".join(f"x{i}: {end}" for i, end in enumerate(ends))
    lines += ["", "", "@pipeline.task()", f"def gather({parameters}) -> total:", "    return 0"]
    return "\n".join(lines) + "\n"


def test_200_tasks_are_laid_out_left_to_right_without_overlaps(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "w"\nversion = "0"\n')
    module = tmp_path / "wide.py"
    module.write_text(_wide_module())
    (model,) = analyze([str(module)]).pipelines
    assert len(model.tasks) == 200
    seen = open_page(_html(module, tmp_path / "wide.html"), [NODES, BOXES, FONT])
    _keep("graph-200-tasks.png", seen.screenshot)
    assert seen.requests == [] and seen.errors == []
    assert len(json.loads(seen.values[NODES])) == len(model.tasks) + len(model.datasets)
    boxes = json.loads(seen.values[BOXES])
    ordered = sorted(boxes)
    for i, (left, top, right, bottom) in enumerate(ordered):
        for other in ordered[i + 1 :]:
            if other[0] >= right:
                break
            assert other[3] <= top or other[1] >= bottom, ((left, top, right, bottom), other)
    assert seen.values[FONT] >= 10
    # left to right: `start` leftmost, `gather` rightmost
    names = [name for name, _ in json.loads(seen.values[NODES])]
    lefts = dict(zip(names, (b[0] for b in boxes), strict=True))
    assert lefts["start"] == min(lefts.values()) and lefts["gather"] < lefts["total"]
    assert lefts["total"] == max(lefts.values())


def test_svg_is_the_same_picture_without_the_page() -> None:
    result = CliRunner().invoke(
        main, ["graph", str(ROOT / "examples" / "orders"), "--format", "svg"]
    )
    assert result.exit_code == 0, result.output
    svg = ET.fromstring(result.output.split("\n", 1)[1])
    namespace = "{http://www.w3.org/2000/svg}"
    assert svg.tag == f"{namespace}svg"
    nodes = [g for g in svg.iter(f"{namespace}g") if "node" in g.get("class", "").split()]
    assert len(nodes) == 12  # 5 tasks, 7 datasets
    assert "http" not in result.output.replace("http://www.w3.org/2000/svg", "")


@pytest.mark.parametrize("fmt", ["html", "svg"])
def test_the_picture_escapes_names(tmp_path: Path, fmt: str) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "e"\nversion = "0"\n')
    module = tmp_path / "odd.py"
    module.write_text(
        "from glacier import Dataset, ObjectStorage, Pipeline\n\n"
        'pipeline = Pipeline(name="a<b>&c")\n'
        'raw = Dataset(name="raw<script>", storage=ObjectStorage(bucket="in"))\n\n\n'
        "@pipeline.task()\ndef use(x: raw) -> None:\n    pass\n"
    )
    result = CliRunner().invoke(main, ["graph", str(module), "--format", fmt])
    assert result.exit_code == 0, result.output
    assert "<script>" not in result.output and "raw&lt;script&gt;" in result.output
