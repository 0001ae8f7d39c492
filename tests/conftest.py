"""Shared test setup: ``glacier check`` never writes its cache into the repository."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True, scope="session")
def _cache_outside_the_repository(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Checks of the repository's own examples (in-process or in subprocesses) cache in a tmp dir."""
    previous = os.environ.get("GLACIER_CACHE_DIR")
    os.environ["GLACIER_CACHE_DIR"] = str(tmp_path_factory.mktemp("glacier-cache"))
    yield
    if previous is None:
        os.environ.pop("GLACIER_CACHE_DIR", None)
    else:
        os.environ["GLACIER_CACHE_DIR"] = previous
