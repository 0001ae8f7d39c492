"""Provider-agnostic storage configs: where a dataset lives, without naming a cloud."""

from __future__ import annotations

from dataclasses import dataclass

from glacier import _validate

__all__ = ["Database", "ObjectStorage"]


@dataclass(frozen=True, slots=True)
class ObjectStorage:
    """An object store location: ``<bucket>/<prefix>/<dataset>.<ext>``.

    Locally the bucket is a directory under the executor's data directory; on AWS it is an S3
    bucket. ``format`` forces a serialisation (``json``, ``parquet``, ``bytes``, ``pickle``,
    ``csv``); by default it follows the payload.
    """

    bucket: str
    prefix: str = ""
    format: str | None = None

    def __post_init__(self) -> None:
        error = _validate.object_storage(self.bucket)
        if error is not None:
            raise error


@dataclass(frozen=True, slots=True)
class Database:
    """A table in a relational database.

    Locally, without ``url``, the table lives in the embedded SQLite file
    ``<data_dir>/glacier.sqlite``; with ``url`` (``postgresql://...``) in that database.
    ``table`` defaults to the dataset's name.
    """

    table: str | None = None
    url: str | None = None
