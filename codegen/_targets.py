"""Deployment targets: where a pipeline can be deployed, each behind one seam, looked up by name.

A target turns a pipeline's model into deployable programs and knows what its cloud refuses.
``glacier build``, ``plan`` and ``rehearse`` only call the methods of ``DeploymentTarget``;
none of them names a cloud. AWS (``codegen.aws``) is the built-in one. Another package adds
a target with an entry point in the ``glacier.targets`` group whose value is a
``DeploymentTarget`` (``glacier-gcp``'s ``pyproject.toml``: ``[project.entry-points.
"glacier.targets"] gcp = "glacier_gcp.codegen:TARGET"``).

Finding the targets imports their code generation only: never a cloud SDK, never pulumi.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from glacier.errors import GlacierError, UsageError

if TYPE_CHECKING:
    from analyzer import Analysis, Diagnostic
    from codegen._build import BuildContext
    from glacier.model import PipelineModel

__all__ = [
    "BUILTIN_TARGETS",
    "DEFAULT_TARGET",
    "SOURCES_RECORD",
    "DeploymentTarget",
    "Packaged",
    "TargetError",
    "target",
    "targets",
]

ENTRY_POINT_GROUP = "glacier.targets"
DEFAULT_TARGET = "aws"
BUILTIN_TARGETS: Mapping[str, str] = {"aws": "codegen.aws:TARGET"}
"""name -> ``module:attribute`` of the targets that ship with Glacier."""
SOURCES_RECORD = "glacier_sources.json"
"""A file a target's program may carry (anywhere in it, AWS: ``bundle/glacier_sources.json``):
JSON, each source file the deployed code was built from (relative to the project root) -> the
SHA-256 of its bytes. ``glacier plan`` and ``glacier rehearse`` compare the one in
``build/`` with the one they generate, and warn (``--strict``: refuse) when the built program
would deploy code older than the sources."""


class TargetError(GlacierError):
    """A target could not do what was asked (a preview or a packaging failed); the message
    says what, with the tool's own output. Exit status 1."""


@dataclass(frozen=True, slots=True)
class Packaged:
    """One bundle after ``DeploymentTarget.package``: what to tell the user, and what keeps
    the bundle from being deployed (then nothing can deploy it, though it was written)."""

    bundle: str
    summary: str
    """What was installed and the sizes, for a line of output."""
    notes: tuple[str, ...] = ()
    problems: Sequence[Diagnostic] = field(default_factory=tuple)
    refused: str = ""
    """With ``problems``: what refuses the bundle (``does not fit AWS Lambda``)."""


class DeploymentTarget(Protocol):
    """The seam a cloud plugs into. Every method reads the analysis or generated files; none
    imports the cloud's SDK in the calling process (a preview runs in a child process)."""

    @property
    def name(self) -> str:
        """How users name it: ``glacier plan --target NAME``."""
        ...

    def diagnostics(self, analysis: Analysis, model: PipelineModel) -> list[Diagnostic]:
        """What keeps ``model`` from being deployed here, as diagnostics (errors stop a build)."""
        ...

    def artifacts(self, ctx: BuildContext) -> Mapping[str, str]:
        """The target's files of one pipeline for ``glacier build``: ``{path under
        build/<pipeline>/: text}``."""
        ...

    def programs(self, analysis: Analysis, model: PipelineModel) -> dict[str, dict[str, bytes]]:
        """One deployable program per environment: ``{env: {path in the program: bytes}}``."""
        ...

    def program_dir(self, env: str) -> str:
        """Where ``glacier build`` writes environment ``env``'s program, relative to
        ``build/<pipeline>/`` (POSIX separators)."""
        ...

    def package(
        self, pipeline_dir: str, model: PipelineModel, pip_args: Sequence[str]
    ) -> Iterator[Packaged]:
        """``glacier build --package``: install the third-party code the built programs'
        bundles need into them, one bundle after the other (a caller may stop at the first
        with problems). Raises ``TargetError`` when the installer fails."""
        ...

    def preview(self, program_dir: str, env: str, built_dir: str) -> dict[str, Any]:
        """What deploying the program in ``program_dir`` would create, without the cloud:
        ``{"resources": [...], "placeholders": [...], "warnings": [...]}``. ``built_dir`` is
        where ``glacier build`` wrote it (its bundle may hold vendored packages). Raises
        ``TargetError`` when the program fails."""
        ...

    def render_preview(self, previews: Sequence[dict[str, Any]], fmt: str) -> str:
        """Previews (each with ``pipeline`` and ``environment`` added) as ``table`` or ``json``."""
        ...

    def rehearse(
        self,
        program_dir: str,
        env: str,
        *,
        pipeline: str,
        data_dir: str,
        work_dir: str,
        report: str | None,
    ) -> int:
        """Execute the program on an emulator of the cloud; the exit status (0: succeeded).
        Raises ``UsageError`` when what the emulator needs is not installed."""
        ...


def targets() -> dict[str, DeploymentTarget]:
    """Every target available here, by name: the built-in ones whose code is installed, then
    those of installed packages (``glacier.targets`` entry points)."""
    found: dict[str, DeploymentTarget] = {}
    for name, spec in BUILTIN_TARGETS.items():
        module, _, attribute = spec.partition(":")
        try:
            found[name] = getattr(importlib.import_module(module), attribute)
        except ModuleNotFoundError as exc:  # a distribution without that target's code
            if exc.name is None or not module.startswith(exc.name):
                raise
    from importlib.metadata import entry_points

    for entry in entry_points(group=ENTRY_POINT_GROUP):
        if entry.name not in found:
            found[entry.name] = entry.load()
    return found


def target(name: str = DEFAULT_TARGET) -> DeploymentTarget:
    """The target called ``name``; ``UsageError`` (naming the known ones) when there is none."""
    available = targets()
    if name not in available:
        known = ", ".join(sorted(available)) or "none"
        raise UsageError(f"no deployment target `{name}` (known: {known})")
    return available[name]
