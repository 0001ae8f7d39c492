"""What importing Glacier costs: the core loads no cloud SDK, parser, template engine or mypy."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("libcst", "jinja2", "mypy", "pulumi", "pulumi_aws")


def _loaded_after(statement: str) -> set[str]:
    code = f"{statement}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    return set(json.loads(out))


@pytest.mark.parametrize(
    "statement",
    ["import glacier", "import glacier, glacier_local", "import glacier_aws", "import glacier_cli"],
)
def test_import_leaves_heavy_modules_out(statement: str) -> None:
    loaded = _loaded_after(statement)
    assert not {m for m in loaded if m.split(".")[0] in HEAVY}
