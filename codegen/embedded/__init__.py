"""The fixed Python of generated files, kept as real modules and embedded verbatim.

``run_local.py`` (the standalone local runner) and ``glacier_handler.py`` (a deployed task's
entry point) are ordinary modules here, so they are type-checked, linted and unit-tested like
the rest of the project; the jinja2 templates of the same names write only what varies per
pipeline and paste these modules' text around it (``parts``). A module marks what is pasted
with comment lines::

    # --- embedded: head ---     starts the part named ``head``
    # --- not embedded ---       stands in for the template's own text (ends a part)

Whatever comes before the first marker (the module's own explanation) is not embedded either.
glacier_local's ``_io`` and ``_schedule`` are embedded whole, from their own package, because
``LocalExecutor`` imports them too (``codegen._runner.runtime_sources``).
"""

from __future__ import annotations

import os
import re

__all__ = ["parts", "split_parts"]

_MARKER = re.compile(r"# --- (?:embedded: (?P<name>[a-z_]+)|not embedded) ---")


def split_parts(source: str) -> dict[str, str]:
    """Part name -> its text, without the blank lines at either end, in order of appearance."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in source.splitlines(keepends=True):
        marker = _MARKER.fullmatch(line.rstrip("\r\n"))
        if marker is None:
            if current is not None:
                current.append(line)
            continue
        name = marker["name"]
        if name is not None and name in found:
            raise ValueError(f"the embedded part {name!r} is marked twice")
        current = None if name is None else found.setdefault(name, [])
    return {name: "".join(lines).strip("\n") for name, lines in found.items()}


def parts(module: str) -> dict[str, str]:
    """The embedded parts of ``module``, a file of this package (``"run_local.py"``)."""
    with open(os.path.join(os.path.dirname(__file__), module), encoding="utf-8") as fh:
        return split_parts(fh.read())
