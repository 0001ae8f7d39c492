"""Where each node of a libcst tree is: line and UTF-8 byte column of its first and last token.

libcst nodes carry no positions; its ``PositionProvider`` computes them by printing the tree
back (code generation) and recording, per node, where the printing was. That provider costs
about twice the parse (a ``CodeRange`` of two ``CodePosition`` objects per node, a regular
expression per token, metadata dispatch). ``positions`` does the same printing with a lean
state, in about half the parse: one tuple per node, keyed by ``id(node)``.

Positions are those ``ast`` reports and the runtime records (``co_positions``): a node starts
at its first token and ends after its last one, comments, whitespace, and a parenthesised
expression's parentheses excluded; columns are 1-based UTF-8 byte offsets.
"""

from __future__ import annotations

from typing import Any

import libcst as cst
from libcst._nodes.internal import CodegenState

from analyzer._summary import Pos

__all__ = ["positions"]

_INSIGNIFICANT = frozenset(" \t\f\\#\r\n")  # first characters of whitespace and comment tokens


def positions(module: cst.Module) -> dict[int, Pos]:
    """``id(node)`` → position, for every node of ``module`` that produces a token."""
    state = _State(module)
    module._codegen(state)
    return state.found


class _Syntactic:
    """``record_syntactic_position``: libcst's marker of a node's own extent (inside its
    parentheses; a compound statement ends with its body)."""

    __slots__ = ("end_node", "node", "start_node", "state")

    def __init__(self, state: _State, node: Any, start_node: Any, end_node: Any) -> None:
        self.state = state
        self.node = node
        self.start_node = start_node
        self.end_node = end_node

    def __enter__(self) -> None:
        state = self.state
        key = id(self.node)
        state.starts.pop(key, None)
        state.pending.append(key)

    def __exit__(self, *exc: object) -> None:
        state = self.state
        key = id(self.node)
        found = state.found
        if self.start_node is not None and id(self.start_node) in found:
            start = found[id(self.start_node)][:2]
        else:
            start = state.starts.get(key) or state.last
        if self.end_node is not None and id(self.end_node) in found:
            end = found[id(self.end_node)][2:]
        else:
            end = state.last
        found[key] = (start[0], start[1], end[0], end[1])
        state.syntactic.add(key)


class _State(CodegenState):
    """Code generation that tracks positions instead of collecting text."""

    def __init__(self, module: cst.Module) -> None:
        super().__init__(
            default_indent=module.default_indent, default_newline=module.default_newline
        )
        self.line = 1
        self.col = 1
        self.last = (1, 1)  # the end of the last significant token
        self.pending: list[int] = []  # nodes waiting for their first significant token
        self.starts: dict[int, tuple[int, int]] = {}
        self.found: dict[int, Pos] = {}
        self.syntactic: set[int] = set()

    def add_indent_tokens(self) -> None:
        for token in self.indent_tokens:
            self.add_token(token)

    def add_token(self, value: str) -> None:
        if not value:
            return
        significant = value[0] not in _INSIGNIFICANT
        if significant and self.pending:
            here = (self.line, self.col)
            starts = self.starts
            for key in self.pending:
                starts[key] = here
            self.pending.clear()
        if "\n" in value or "\r" in value:
            parts = value.replace("\r\n", "\n").replace("\r", "\n").split("\n")
            self.line += len(parts) - 1
            tail = parts[-1]
            self.col = 1 + (len(tail) if tail.isascii() else len(tail.encode()))
        else:
            self.col += len(value) if value.isascii() else len(value.encode())
        if significant:
            self.last = (self.line, self.col)

    def before_codegen(self, node: cst.CSTNode) -> None:
        self.pending.append(id(node))

    def after_codegen(self, node: cst.CSTNode) -> None:
        key = id(node)
        if key not in self.syntactic:
            start = self.starts.get(key) or self.last
            self.found[key] = (start[0], start[1], self.last[0], self.last[1])

    def record_syntactic_position(  # type: ignore[override]
        self,
        node: cst.CSTNode,
        *,
        start_node: cst.CSTNode | None = None,
        end_node: cst.CSTNode | None = None,
    ) -> _Syntactic:
        return _Syntactic(self, node, start_node, end_node)

    def pop_trailing_newline(self) -> None:
        pass  # no text is collected
