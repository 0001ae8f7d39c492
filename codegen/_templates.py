"""The jinja2 environment every emitter renders through.

Code is not HTML, so there is no autoescaping: values reach templates already encoded by the
emitter (``repr`` for Python, JSON, or a format's own escaping), and the ``py`` filter is the
only way a template turns a value into Python source.
"""

from __future__ import annotations

import functools
import math
import re
from typing import Any

import jinja2

__all__ = ["render"]


def _str(value: str) -> str:
    """A str literal with ``repr``'s escapes, quoted the way ``ruff format`` quotes it."""
    quote = "'" if value.count('"') > value.count("'") else '"'
    out = []
    for ch in value:
        if ch == "\\":
            out.append("\\\\")
        elif ch == quote:
            out.append("\\" + ch)
        elif ch in "'\"":
            out.append(ch)
        else:
            out.append(repr(ch)[1:-1])
    return quote + "".join(out) + quote


def _py(value: Any) -> str:
    """A Python literal for ``value`` (str, int, float, bool, None, and lists, tuples, dicts
    of them), double-quoted where possible, as the project's formatter writes strings."""
    if isinstance(value, str):
        return _str(value)
    if value is None or isinstance(value, (bool, int)):
        return repr(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return f'float("{value}")'
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_py(v) for v in value) + "]"
    if isinstance(value, tuple):
        inner = ", ".join(_py(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_py(k)}: {_py(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write a {type(value).__name__} into generated code")


LINE_LENGTH = 100


def _layout(value: Any, indent: int, prefix: str = "", suffix: str = "") -> str:
    """``prefix + literal + suffix`` at ``indent``, split one item per line (with trailing
    commas) when it does not fit in the line length, as ``ruff format`` would lay it out."""
    pad = " " * indent
    flat = f"{pad}{prefix}{_py(value)}{suffix}"
    if len(flat) <= LINE_LENGTH or not isinstance(value, (dict, list, tuple)) or not value:
        return flat
    if isinstance(value, dict):
        opening, closing = "{", "}"
        items = [_layout(v, indent + 4, f"{_py(k)}: ", ",") for k, v in value.items()]
    else:
        opening, closing = ("[", "]") if isinstance(value, list) else ("(", ")")
        items = [_layout(v, indent + 4, "", ",") for v in value]
    return "\n".join([f"{pad}{prefix}{opening}", *items, f"{pad}{closing}{suffix}"])


def _pyentry(value: Any, indent: int, key: Any = None, assign: str | None = None) -> str:
    """A whole line (or lines): ``key: value,`` in a dict, or ``assign = value``."""
    if assign is not None:
        return _layout(value, indent, f"{assign} = ")
    return _layout(value, indent, f"{_py(key)}: ", ",")


def _pystr(value: str, indent: int) -> str:
    """A str literal spread over lines: one ``repr`` per source line, implicitly concatenated.

    Reviewers read carried source line by line in a diff; each piece is still a plain
    ``repr``, so nothing in the value can escape the literal.
    """
    if not isinstance(value, str):
        raise TypeError(f"pystr needs a str, got {type(value).__name__}")
    pieces = value.splitlines(keepends=True)
    if len(pieces) <= 1:
        return _py(value)
    pad = " " * (indent + 4)
    body = "".join(f"{pad}{_py(piece)}\n" for piece in pieces)
    return f"(\n{body}{' ' * indent})"


_PLAIN = re.compile(r"[A-Za-z0-9_ .,:;/+=@()\[\]<>-]*")


def _comment(value: str) -> str:
    """Text for a ``#`` comment: pasted when plainly safe, else its ``repr`` (one line)."""
    return value if _PLAIN.fullmatch(value) else repr(value)


@functools.lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("codegen", "templates"),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["py"] = _py
    env.filters["pystr"] = _pystr
    env.filters["pyentry"] = _pyentry
    env.filters["comment"] = _comment
    return env


def render(template: str, **context: Any) -> str:
    return _environment().get_template(template).render(**context)
