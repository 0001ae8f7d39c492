"""Run a generated Pulumi program under mocks and print what it would create, as JSON.

``python -m codegen.aws._preview PROGRAM_DIR STACK`` — used by ``glacier plan`` in a child
process, because this module imports pulumi and the CLI must not. The program runs from its
own directory, so its vendored ``glacier_aws`` is the one used, and ``glacier_aws.mocks``
(the recorder the test suite uses too) answers with computed outputs and waits for every
registration. The stack's configuration comes from ``Pulumi.<STACK>.yaml``; values only a
deployer knows are replaced by visible placeholders.
"""

from __future__ import annotations

import json
import os
import runpy
import sys
from typing import Any

__all__ = ["PLACEHOLDER_CONFIG", "PreviewFailed", "main", "preview_in_child"]

PLACEHOLDER_CONFIG = {
    "glacier:subnets": json.dumps(["subnet-placeholder-a", "subnet-placeholder-b"]),
    "glacier:databaseUrl": "postgresql://placeholder/glacier",
}
"""Config the programs require that only a deployer knows; shown as placeholders."""
_SECRETS = ("glacier:databaseUrl",)
_READ_BY = {
    "glacier:subnets": ('"subnets"', ".rds("),  # the program, and `Environment.rds` inside it
    "glacier:databaseUrl": ('"databaseUrl"',),
}
"""What in a program's text shows that it reads a placeholder key."""


class PreviewFailed(Exception):
    """The program failed under the mocks; the message is the child's stderr."""


def preview_in_child(
    program_dir: str, stack: str, overrides: dict[str, str] | None = None
) -> dict[str, Any]:
    """``run`` in a child process (which imports pulumi; the caller need not): what the
    program registers, as ``run`` returns it. Raises ``PreviewFailed`` if it fails."""
    import subprocess

    command = [sys.executable, "-m", "codegen.aws._preview", program_dir, stack]
    if overrides:
        command.append(json.dumps(overrides))
    completed = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    if completed.returncode != 0:
        raise PreviewFailed(completed.stderr.rstrip())
    data: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return data


def _stack_config(program_dir: str, stack: str) -> dict[str, str]:
    import yaml  # type: ignore[import-untyped]  # pulumi's own dependency, no stubs

    path = os.path.join(program_dir, f"Pulumi.{stack}.yaml")
    with open(path, encoding="utf-8") as fh:
        data = yaml.safe_load(fh) or {}
    return {
        key: value if isinstance(value, str) else json.dumps(value)
        for key, value in (data.get("config") or {}).items()
    }


def _project(program_dir: str) -> str:
    import yaml

    with open(os.path.join(program_dir, "Pulumi.yaml"), encoding="utf-8") as fh:
        return str((yaml.safe_load(fh) or {}).get("name") or "glacier")


def run(program_dir: str, stack: str, overrides: dict[str, str] | None = None) -> dict[str, Any]:
    """The resources the program registers (type, name, inputs, outputs, provider).

    ``overrides`` are configuration values that replace the stack's and the placeholders
    (``glacier rehearse`` passes the URL of the database that stands in for the real one).
    """
    program_dir = os.path.abspath(program_dir)
    os.chdir(program_dir)
    sys.path.insert(0, program_dir)
    import pulumi

    from glacier_aws.mocks import run_program

    config = _stack_config(program_dir, stack)
    with open(os.path.join(program_dir, "__main__.py"), encoding="utf-8") as fh:
        text = fh.read()
    placeholders = sorted(
        k
        for k in PLACEHOLDER_CONFIG
        if k not in config and any(marker in text for marker in _READ_BY[k])
    )
    config.update({k: PLACEHOLDER_CONFIG[k] for k in placeholders})
    config.update(overrides or {})
    placeholders = [k for k in placeholders if k not in (overrides or {})]
    secrets = [k for k in config if k in _SECRETS]
    pulumi.runtime.set_all_config(config, secrets)
    main = os.path.join(program_dir, "__main__.py")
    result = run_program(
        lambda: runpy.run_path(main, run_name="__main__"),
        project=_project(program_dir),
        stack=stack,
        preview=True,
    )
    return {
        "placeholders": placeholders,
        "exports": result.exports,
        "resources": [
            {
                "type": r.type,
                "name": r.name,
                "custom": r.custom,
                "provider": r.provider_urn,
                "urn": r.urn,
                "inputs": r.inputs,
                "outputs": r.outputs,
            }
            for r in result.resources
        ],
    }


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(
            "usage: python -m codegen.aws._preview PROGRAM_DIR STACK [CONFIG_JSON]", file=sys.stderr
        )
        return 2
    result = run(argv[0], argv[1], json.loads(argv[2]) if len(argv) == 3 else None)
    sys.stdout.write("\n" + json.dumps(result, default=repr, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
