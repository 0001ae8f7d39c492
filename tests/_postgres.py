"""A real PostgreSQL server for the tests: ``rehearse._postgres``, the one ``glacier rehearse``
starts in place of a deployed database.

Usage in a test module (or re-export it from ``conftest.py``)::

    from _postgres import postgres_url  # noqa: F401  (a session fixture)

    def test_something(postgres_url): ...

The server listens on 127.0.0.1 on a free port and checks passwords; the URL carries them.
When the binaries are missing, the fixture skips with the reason.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rehearse._postgres import available, postgres_server

__all__ = ["postgres_url"]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """``postgresql://glacier:<password>@127.0.0.1:<port>/glacier``, living for the session."""
    problem = available()
    if problem is not None:
        pytest.skip(f"the PostgreSQL tests need a server: {problem}")
    with postgres_server() as server:
        yield server.url
