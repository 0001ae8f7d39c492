"""``Dataset``: a named piece of data that tasks read and write."""

from __future__ import annotations

from typing import Any, Generic

from typing_extensions import TypeVar

from glacier import validate
from glacier.source import CallSite, call_site

__all__ = ["Dataset"]

T = TypeVar("T", default=Any)


class Dataset(Generic[T]):
    """A named dataset with optional storage, used as a task annotation.

    ``Dataset[T](name=...)`` declares the payload type ``T`` (untyped means ``Any``).
    ``storage`` is one of: nothing (ephemeral, kept in memory between tasks),
    :class:`~glacier.storage.ObjectStorage`, :class:`~glacier.storage.Database`,
    an ``Environment.s3()``/``.rds()`` result, or a raw Pulumi resource.

    ``copy`` (default ``True``): in a local run, every task that reads the dataset gets its
    own copy of the value (a deep copy; ``DataFrame.copy()`` for a pandas frame), so a task
    that changes its input in place changes nothing another task sees, as when each reads it
    from storage. ``copy=False`` shares one object among them: for large payloads no task
    changes.
    """

    __glacier_dataset__ = True

    def __init__(self, name: str, *, storage: Any = None, copy: bool = True) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"Dataset name must be a non-empty string, got {name!r}")
        error = validate.dataset_copy(copy)
        if error is not None:
            raise error
        self.name = name
        self.storage = storage
        self.copy = copy
        self._site: CallSite = call_site()

    def __repr__(self) -> str:
        return f"Dataset({self.name!r})"

    @property
    def is_ephemeral(self) -> bool:
        return self.storage is None


def is_dataset(obj: object) -> bool:
    return getattr(type(obj), "__glacier_dataset__", False) is True
