"""Code generation: jinja2 templates turn a ``PipelineModel`` into build artifacts.

Reads only the intermediate model and the per-statement facts the analyzer carries; never
imports user code. Output is byte-for-byte deterministic.

- ``build(pipelines, modules, out_dir=..., version=...)``: every artifact in memory;
  ``write_tree`` / ``compare_tree`` write or verify them;
- ``target(name)`` / ``targets()``: the deployment targets (``DeploymentTarget``; AWS is
  built in, others come from ``glacier.targets`` entry points);
- ``emit_*``: one artifact of one pipeline;
- ``read_revision`` / ``compare`` / ``render_diff``: what changed between two revisions'
  pipelines (``glacier diff``), as plain data, then rendered;
- ``task_fingerprints(model, modules)``: task name -> code fingerprint, as the runner's task
  table and ``LocalExecutor`` have it.
"""

from codegen._build import BuildContext as BuildContext
from codegen._build import DirectoryClash as DirectoryClash
from codegen._build import PipelineArtifacts as PipelineArtifacts
from codegen._build import build as build
from codegen._diff import Diff as Diff
from codegen._diff import Revision as Revision
from codegen._diff import compare as compare
from codegen._diff import read_revision as read_revision
from codegen._diff_render import FORMATS as DIFF_FORMATS
from codegen._diff_render import render_diff as render_diff
from codegen._graph import emit_dot as emit_dot
from codegen._graph import emit_graph_json as emit_graph_json
from codegen._graph import emit_mermaid as emit_mermaid
from codegen._graph_svg import RunView as RunView
from codegen._graph_svg import emit_html as emit_html
from codegen._graph_svg import emit_svg as emit_svg
from codegen._manifest import emit_manifest as emit_manifest
from codegen._names import dir_name as dir_name
from codegen._runner import emit_runner as emit_runner
from codegen._runner import task_fingerprints as task_fingerprints
from codegen._slice import slice_source as slice_source
from codegen._targets import SOURCES_RECORD as SOURCES_RECORD
from codegen._targets import DeploymentTarget as DeploymentTarget
from codegen._targets import Packaged as Packaged
from codegen._targets import TargetError as TargetError
from codegen._targets import target as target
from codegen._targets import targets as targets
from codegen._writer import TreeDiff as TreeDiff
from codegen._writer import compare_tree as compare_tree
from codegen._writer import write_tree as write_tree

__all__ = [
    "DIFF_FORMATS",
    "SOURCES_RECORD",
    "BuildContext",
    "DeploymentTarget",
    "Diff",
    "DirectoryClash",
    "Packaged",
    "PipelineArtifacts",
    "Revision",
    "RunView",
    "TargetError",
    "TreeDiff",
    "build",
    "compare",
    "compare_tree",
    "dir_name",
    "emit_dot",
    "emit_graph_json",
    "emit_html",
    "emit_manifest",
    "emit_mermaid",
    "emit_runner",
    "emit_svg",
    "read_revision",
    "render_diff",
    "slice_source",
    "target",
    "targets",
    "task_fingerprints",
    "write_tree",
]
