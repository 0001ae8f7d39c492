"""A real PostgreSQL server for the tests, started with ``initdb``/``pg_ctl`` in a temp dir.

Usage in a test module (or re-export it from ``conftest.py``)::

    from _postgres import postgres_url  # noqa: F401  (a session fixture)

    def test_something(postgres_url): ...

The server listens on 127.0.0.1 on a free port with ``trust`` authentication. PostgreSQL
refuses to run as root, so under root the data directory is given to the ``postgres`` user
(or ``nobody``) and the binaries run as that user through ``runuser``/``setpriv``. When the
binaries are missing, the fixture skips with the reason.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator

import pytest

__all__ = ["postgres_url"]


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_user() -> tuple[list[str], pwd.struct_passwd | None]:
    """The command prefix that drops root, and the user it switches to."""
    if os.geteuid() != 0:
        return [], None
    for name in ("postgres", "nobody"):
        try:
            user = pwd.getpwnam(name)
        except KeyError:
            continue
        runuser = shutil.which("runuser")
        if runuser:
            return [runuser, "-u", name, "--"], user
        setpriv = shutil.which("setpriv")
        if setpriv:
            return [
                setpriv,
                f"--reuid={user.pw_uid}",
                f"--regid={user.pw_gid}",
                "--clear-groups",
            ], user
    pytest.skip("running as root and no way to switch to a non-root user for PostgreSQL")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """``postgresql://glacier@127.0.0.1:<port>/postgres`` of a server living for the session."""
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    if initdb is None or pg_ctl is None:
        pytest.skip("PostgreSQL's initdb/pg_ctl are not installed; the PostgreSQL tests need them")
    prefix, user = _as_user()
    root = tempfile.mkdtemp(prefix="glacier-pg-")
    if user is not None:
        os.chown(root, user.pw_uid, user.pw_gid)
    data, log = os.path.join(root, "data"), os.path.join(root, "server.log")
    env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
    try:
        subprocess.run(
            [*prefix, initdb, "-D", data, "-A", "trust", "-U", "glacier", "-E", "UTF8",
             "--no-sync", "--no-instructions"],
            check=True, capture_output=True, env=env, cwd=root,
        )  # fmt: skip
        port = _free_port()
        options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run(
            [*prefix, pg_ctl, "-D", data, "-l", log, "-o", options, "-w", "-t", "60", "start"],
            check=True, capture_output=True, env=env, cwd=root,
        )  # fmt: skip
    except subprocess.CalledProcessError as exc:
        detail = (exc.stderr or b"").decode(errors="replace")
        if os.path.exists(log):
            with open(log, errors="replace") as fh:
                detail += fh.read()
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"could not start PostgreSQL: {detail}") from exc
    try:
        yield f"postgresql://glacier@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*prefix, pg_ctl, "-D", data, "-m", "immediate", "-w", "stop"],
            capture_output=True, env=env, cwd=root, check=False,
        )  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)
