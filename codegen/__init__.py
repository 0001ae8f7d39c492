"""Code generation: jinja2 templates turn a ``PipelineModel`` into build artifacts.

Reads only the intermediate model and the module sources the analyzer carries; never imports
user code. Output is byte-for-byte deterministic.
"""

from codegen._build import EMITTERS as EMITTERS
from codegen._build import BuildContext as BuildContext
from codegen._build import DirectoryClash as DirectoryClash
from codegen._build import PipelineArtifacts as PipelineArtifacts
from codegen._build import plan_build as plan_build
from codegen._graph import emit_dot as emit_dot
from codegen._graph import emit_graph_json as emit_graph_json
from codegen._graph import emit_mermaid as emit_mermaid
from codegen._manifest import emit_manifest as emit_manifest
from codegen._names import dir_name as dir_name
from codegen._runner import emit_runner as emit_runner
from codegen._slice import slice_source as slice_source
from codegen._writer import TreeDiff as TreeDiff
from codegen._writer import compare_tree as compare_tree
from codegen._writer import write_tree as write_tree

__all__ = [
    "EMITTERS",
    "BuildContext",
    "DirectoryClash",
    "PipelineArtifacts",
    "TreeDiff",
    "compare_tree",
    "dir_name",
    "emit_dot",
    "emit_graph_json",
    "emit_manifest",
    "emit_mermaid",
    "emit_runner",
    "plan_build",
    "slice_source",
    "write_tree",
]
