"""GLC207: ``@pipeline.task`` → ``@pipeline.task()``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import libcst as cst
from libcst.metadata import CodeRange

from analyzer.diagnostics import BareTaskDecorator, Diagnostic
from analyzer.fixes import Fixer, Span, register


@register
class CallTaskDecorator(Fixer):
    """The finding spans the decorator's expression: call it, with no arguments."""

    code = BareTaskDecorator.code
    cases = (
        (
            """
@pipeline.task  # the loader
def load(data: raw) -> out:
    return data
""",
            """
@pipeline.task()  # the loader
def load(data: raw) -> out:
    return data
""",
        ),
        (  # two in one file, spaced and commented as they were
            """
@ pipeline.task
def load(data: raw) -> out:
    return data


@pipeline.task
# after the decorator
def show(data: out) -> None:
    print(data)
""",
            """
@ pipeline.task()
def load(data: raw) -> out:
    return data


@pipeline.task()
# after the decorator
def show(data: out) -> None:
    print(data)
""",
        ),
    )

    def matches(
        self, node: cst.CSTNode, span: Span, positions: Mapping[cst.CSTNode, CodeRange]
    ) -> bool:
        return (
            isinstance(node, cst.Decorator)
            and not isinstance(node.decorator, cst.Call)
            and span.equals(positions[node.decorator])
        )

    def replace(
        self, node: cst.CSTNode, findings: Sequence[tuple[Span, Diagnostic]], source: str
    ) -> cst.CSTNode:
        assert isinstance(node, cst.Decorator)
        return node.with_changes(decorator=cst.Call(func=node.decorator))
