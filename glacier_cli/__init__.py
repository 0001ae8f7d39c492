"""The ``glacier`` command line.

Each subcommand lives in its own module under ``glacier_cli/`` and is imported only when it
runs, so ``glacier check`` does not pay for code generation (and nothing imports pulumi).
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

import click

__all__ = ["main"]

# name -> "module:attribute" of the click command
COMMANDS: dict[str, str] = {
    "check": "glacier_cli.check:check",
    "inspect": "glacier_cli.inspect:inspect_",
    "build": "glacier_cli.build:build",
    "run": "glacier_cli.run:run",
    "graph": "glacier_cli.graph:graph",
    "plan": "glacier_cli.plan:plan",
    "rehearse": "glacier_cli.rehearse:rehearse",
    "runs": "glacier_cli.runs:runs",
    "show": "glacier_cli.show:show",
    "diff": "glacier_cli.diff:diff",
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in COMMANDS if _available(name))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None or not _available(cmd_name):
            return None
        module, attr = target.split(":")
        command: Any = getattr(importlib.import_module(module), attr)
        return command  # type: ignore[no-any-return]


def _available(name: str) -> bool:
    module = COMMANDS[name].split(":")[0]
    return importlib.util.find_spec(module) is not None


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="glacier")
def main() -> None:
    """Glacier: data pipelines in plain Python, checked without running them.

    \b
    Typical use:
      glacier check examples/        validate every pipeline's DAG (no code is executed)
      glacier build examples/        generate runners, manifests and Pulumi programs
      glacier run examples/x.py      build, then run the standalone local runner
      glacier runs                   the local runs, newest first (`glacier show DATASET`)
      glacier diff                   what this branch changes in the pipelines, from git
    """
