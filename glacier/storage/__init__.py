"""Provider-agnostic storage configs: where a dataset lives, without naming a cloud."""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import Any

from glacier import validate
from glacier.storage import kinds

__all__ = ["Database", "ObjectStorage"]


@dataclass(frozen=True, slots=True)
class ObjectStorage:
    """An object store location: ``<bucket>/<prefix>/<dataset>.<ext>``.

    Locally the bucket is a directory under the executor's data directory; on AWS it is an S3
    bucket. ``format`` forces a serialisation (``json``, ``parquet``, ``bytes``, ``pickle``,
    ``csv``); by default it follows the payload.

    ``existing=True`` names a bucket another system owns (a landing bucket its export job
    writes): a deployment looks it up and never creates, changes or deletes it. Locally it is
    a directory like any other.
    """

    bucket: str
    prefix: str = ""
    format: str | None = None
    _: KW_ONLY
    existing: bool = False

    def __post_init__(self) -> None:
        error = validate.object_storage(self.bucket) or validate.existing(self.existing)
        if error is not None:
            raise error

    def __glacier_storage__(self) -> dict[str, Any]:
        """The StorageModel fields of this storage (see ``glacier._runtime_model``)."""
        return kinds.OBJECT.describe(self)


@dataclass(frozen=True, slots=True)
class Database:
    """A table in a relational database.

    Locally, without ``url``, the table lives in the embedded SQLite file
    ``<data_dir>/glacier.sqlite``; with ``url`` (``postgresql://...``) in that database.
    ``table`` defaults to the dataset's name.
    """

    table: str | None = None
    url: str | None = None

    def __glacier_storage__(self) -> dict[str, Any]:
        """The StorageModel fields of this storage (see ``glacier._runtime_model``)."""
        return kinds.DATABASE.describe(self)
