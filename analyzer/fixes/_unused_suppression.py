"""GLC009: remove the unused codes from a ``# glacier: ignore[...]`` comment, and the comment
itself when none is left (the rest of a shared comment, ``# noqa`` say, stays)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import libcst as cst
from libcst.metadata import CodeRange

from analyzer._summary import SUPPRESS
from analyzer.diagnostics import Diagnostic, UnusedSuppression
from analyzer.fixes import Fixer, Span, register


@register
class RemoveUnusedSuppression(Fixer):
    """The finding spans one code inside the comment of a line (trailing or on its own)."""

    code = UnusedSuppression.code
    cases = (
        (  # a trailing comment goes with the space before it
            """
lost = Dataset(name="lost")  # glacier: ignore[GLC501]


@pipeline.task()
def load(data: raw) -> out:
    return data
""",
            """
lost = Dataset(name="lost")


@pipeline.task()
def load(data: raw) -> out:
    return data
""",
        ),
        (  # the code still in use stays, spelled as it was
            """
lost = Dataset(name="lost")  # glacier: ignore[glc102,GLC501]


@pipeline.task()
def load(data: raw) -> lost:
    return data
""",
            """
lost = Dataset(name="lost")  # glacier: ignore[GLC501]


@pipeline.task()
def load(data: raw) -> lost:
    return data
""",
        ),
        (  # a comment on its own line goes with its line; the rest of a shared comment stays
            """
# glacier: ignore[GLC101]
@pipeline.task()
def load(
    data: raw,  # noqa: E501  # glacier: ignore[GLC201]
) -> out:
    return data
""",
            """
@pipeline.task()
def load(
    data: raw,  # noqa: E501
) -> out:
    return data
""",
        ),
        (  # what follows the suppression stays, as a comment
            """
@pipeline.task()  # glacier: ignore[GLC207] was bare once
def load(data: raw) -> out:
    return data
""",
            """
@pipeline.task()  # was bare once
def load(data: raw) -> out:
    return data
""",
        ),
        (  # not reported: a bare `# glacier: ignore`, codes that `glacier build` reports
            """
lost = Dataset(name="lost")  # glacier: ignore


@pipeline.task()  # glacier: ignore[GLC301]
def load(data: raw) -> out:
    return data
""",
            """
lost = Dataset(name="lost")  # glacier: ignore


@pipeline.task()  # glacier: ignore[GLC301]
def load(data: raw) -> out:
    return data
""",
        ),
    )

    def matches(
        self, node: cst.CSTNode, span: Span, positions: Mapping[cst.CSTNode, CodeRange]
    ) -> bool:
        return (
            isinstance(node, (cst.TrailingWhitespace, cst.EmptyLine))
            and node.comment is not None
            and span.inside(positions[node.comment])
        )

    def replace(
        self, node: cst.CSTNode, findings: Sequence[tuple[Span, Diagnostic]], source: str
    ) -> cst.CSTNode | cst.RemovalSentinel:
        assert isinstance(node, (cst.TrailingWhitespace, cst.EmptyLine))
        assert node.comment is not None
        unused = {source[span.column : span.end_column].upper() for span, _ in findings}
        comment = without_codes(node.comment.value, unused)
        if comment == node.comment.value:
            return node
        if comment is not None:
            return node.with_changes(comment=cst.Comment(comment))
        if isinstance(node, cst.EmptyLine):
            return cst.RemoveFromParent()
        return node.with_changes(whitespace=cst.SimpleWhitespace(""), comment=None)


def without_codes(comment: str, unused: set[str]) -> str | None:
    """``comment`` without the ``unused`` codes of its suppression; ``None`` when nothing is
    left of it."""
    match = SUPPRESS.search(comment)
    if match is None or match.group(1) is None:
        return comment
    listed = [c.strip() for c in match.group(1).split(",") if c.strip()]
    kept = [c for c in listed if c.upper() not in unused]
    if len(kept) == len(listed):
        return comment
    if kept:
        start, end = match.span(1)
        return f"{comment[:start]}{', '.join(kept)}{comment[end:]}"
    before = comment[: match.start()].rstrip()
    after = comment[match.end() :].strip()
    if before.strip("# \t"):
        return f"{before}  {after}" if after else before
    if not after:
        return None
    return after if after.startswith("#") else f"# {after}"
