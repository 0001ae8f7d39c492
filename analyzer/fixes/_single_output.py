"""GLC203 (a one-dataset ``tuple[a]`` return): ``-> tuple[a]`` → ``-> a``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import libcst as cst
from libcst.metadata import CodeRange

from analyzer.diagnostics import Diagnostic, NotADataset
from analyzer.fixes import Fixer, Span, register


@register
class UnwrapSingleOutput(Fixer):
    """The finding spans the subscript; only the one-element ``tuple[a]`` finding is fixable."""

    code = NotADataset.code
    cases = (
        (
            """
@pipeline.task()
def load(data: raw) -> tuple[out]:  # one output
    return data
""",
            """
@pipeline.task()
def load(data: raw) -> out:  # one output
    return data
""",
        ),
        (  # libcst counts columns in characters, the analyzer in UTF-8 bytes
            """
@pipeline.task()
def lädt(
    data: raw,  # ünïcode
) -> tuple[ out ]:
    return data
""",
            """
@pipeline.task()
def lädt(
    data: raw,  # ünïcode
) -> out:
    return data
""",
        ),
        (  # inside a string annotation: reported, not fixable
            """
@pipeline.task()
def load(data: raw) -> "tuple[out]":
    return data
""",
            """
@pipeline.task()
def load(data: raw) -> "tuple[out]":
    return data
""",
        ),
        (  # the other GLC203 findings have no mechanical fix
            """
@pipeline.task()
def load(data: raw, limit: int) -> out:
    return data
""",
            """
@pipeline.task()
def load(data: raw, limit: int) -> out:
    return data
""",
        ),
    )

    def matches(
        self, node: cst.CSTNode, span: Span, positions: Mapping[cst.CSTNode, CodeRange]
    ) -> bool:
        return (
            isinstance(node, cst.Subscript)
            and len(node.slice) == 1
            and isinstance(node.slice[0].slice, cst.Index)
            and node.slice[0].slice.star is None
            and span.equals(positions[node])
        )

    def replace(
        self, node: cst.CSTNode, findings: Sequence[tuple[Span, Diagnostic]], source: str
    ) -> cst.CSTNode:
        assert isinstance(node, cst.Subscript)
        index = node.slice[0].slice
        assert isinstance(index, cst.Index)
        return index.value
