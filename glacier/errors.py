"""Glacier's exceptions. Each carries the exit code the CLI uses for it."""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "CycleError",
    "DefinitionError",
    "DuplicateDatasetError",
    "DuplicateProducerError",
    "DuplicateTaskError",
    "GlacierError",
    "MissingAnnotationError",
    "NotADatasetError",
    "SourceMissingError",
    "UsageError",
]


class GlacierError(Exception):
    """Base of every error Glacier raises on purpose."""

    exit_code: ClassVar[int] = 1


class UsageError(GlacierError):
    """The command line or an API call was used wrongly."""

    exit_code: ClassVar[int] = 2


class DefinitionError(GlacierError):
    """A pipeline definition is invalid; raised while the module is being defined."""


class MissingAnnotationError(DefinitionError):
    """A task parameter has no Dataset annotation and no default."""


class NotADatasetError(DefinitionError):
    """A task parameter or return annotation is not a Dataset."""


class DuplicateProducerError(DefinitionError):
    """Two tasks produce the same dataset."""


class DuplicateTaskError(DefinitionError):
    """Two tasks of one pipeline share a name."""


class DuplicateDatasetError(DefinitionError):
    """Two different datasets of one pipeline share a name."""


class CycleError(DefinitionError):
    """The tasks form a cycle; ``cycle`` lists it as alternating task and dataset names."""

    def __init__(self, message: str, cycle: tuple[str, ...]) -> None:
        super().__init__(message)
        self.cycle = cycle


class SourceMissingError(GlacierError):
    """A source dataset (one no task produces) has nothing stored yet."""
