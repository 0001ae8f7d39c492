"""Every artifact of every example, snapshotted whole (update: ``pytest --snapshot-update``).

The artifacts are rendered in memory for an output directory ``<repo>/build`` (relative
paths in the runner depend on it), from the static path only: the examples are read, never
imported.
"""

from __future__ import annotations

import functools

import pytest
from _codegen_support import EXAMPLES, REPO, analyze_paths
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

import glacier
from codegen import build as build_artifacts

PIPELINES = ("archive", "etl", "orders", "sales")
ARTIFACTS = ("manifest.json", "graph.mmd", "run_local.py")


class TextFile(SingleFileSnapshotExtension):
    _write_mode = WriteMode.TEXT
    file_extension = "txt"


@functools.cache
def _built() -> dict[tuple[str, str], str]:
    analysis = analyze_paths(EXAMPLES)
    errors = [d for d in analysis.diagnostics if d.severity == "error"]
    assert not errors, errors
    artifacts, clashes = build_artifacts(
        analysis.pipelines,
        analysis.modules,
        out_dir=str(REPO / "build"),
        version=glacier.__version__,
        targets=(),
    )
    assert not clashes
    return {
        (art.dir_name, path): data.decode("utf-8")
        for art in artifacts
        for path, data in art.files.items()
    }


def test_the_examples_hold_the_snapshotted_pipelines() -> None:
    assert sorted({name for name, _ in _built()}) == list(PIPELINES)
    assert sorted({path for _, path in _built()}) == sorted(ARTIFACTS)


@pytest.mark.parametrize("artifact", ARTIFACTS)
@pytest.mark.parametrize("pipeline", PIPELINES)
def test_artifact(pipeline: str, artifact: str, snapshot) -> None:
    assert _built()[(pipeline, artifact)] == snapshot.use_extension(TextFile)


def test_rendering_is_deterministic() -> None:
    first = dict(_built())
    _built.cache_clear()
    assert _built() == first
