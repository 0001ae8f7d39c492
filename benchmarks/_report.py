"""Formatting shared by the benchmarks: sample medians and Markdown-style tables."""

from __future__ import annotations

import statistics

__all__ = ["fmt", "table"]


def fmt(samples: list[float]) -> str:
    """Median of the samples in seconds, best in parentheses."""
    return f"{statistics.median(samples):7.3f} s ({min(samples):.3f})"


def table(header: list[str], rows: list[list[str]]) -> None:
    """Print a table: the first column left-aligned, the others right-aligned."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        padded = [cells[0].ljust(widths[0])]
        padded += [cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True)]
        return "| " + " | ".join(padded) + " |"

    print(line(header))
    print("|" + "|".join("-" * (width + 2) for width in widths) + "|")
    for row in rows:
        print(line(row))
