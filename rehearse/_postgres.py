"""A throwaway PostgreSQL server: ``initdb`` and ``pg_ctl`` in a temporary directory.

It stands in for an RDS instance or a user's database during a rehearsal (and in the test
suite). The server listens on 127.0.0.1 on a free port and checks passwords
(``scram-sha-256``), so a handler that reaches it with the credentials of a secret proves it
read the secret. PostgreSQL refuses to run as root: under root the data directory is given to
the ``postgres`` user (or ``nobody``) and the binaries run as that user.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import quote

__all__ = ["PostgresServer", "available", "postgres_server"]

USER = "glacier"
DATABASE = "glacier"


@dataclass(frozen=True, slots=True)
class PostgresServer:
    """A running server: where it listens and the one user and database it has."""

    host: str
    port: int
    user: str
    password: str
    database: str

    @property
    def url(self) -> str:
        return self.url_of(self.database)

    def url_of(self, database: str) -> str:
        return (
            f"postgresql://{quote(self.user, safe='')}:{quote(self.password, safe='')}"
            f"@{self.host}:{self.port}/{quote(database, safe='')}"
        )

    def create_database(self, name: str) -> None:
        """A database of that name (as an RDS instance's ``db_name`` creates), if missing."""
        import psycopg

        with psycopg.connect(self.url_of("postgres"), autocommit=True) as conn:
            found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if found is None:
                conn.execute(
                    psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name))
                )


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def available() -> str | None:
    """None when ``initdb`` and ``pg_ctl`` can be found, else why not."""
    missing = [name for name in ("initdb", "pg_ctl") if _binary(name) is None]
    if missing:
        return (
            f"{' and '.join(missing)} not found: install PostgreSQL's server binaries "
            "(Debian: apt-get install postgresql)"
        )
    return None


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
                "--",
            ], user
    raise RuntimeError("running as root without runuser/setpriv or a postgres/nobody user")


def _give(path: str, user: pwd.struct_passwd | None) -> None:
    if user is None:
        return
    for here, dirs, files in os.walk(path):
        os.chown(here, user.pw_uid, user.pw_gid)
        for name in files:
            os.chown(os.path.join(here, name), user.pw_uid, user.pw_gid)


@contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """Start a server, yield it, stop it and delete its files."""
    problem = available()
    if problem is not None:
        raise RuntimeError(problem)
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    assert initdb is not None and pg_ctl is not None
    prefix, user = _as_user()
    root = tempfile.mkdtemp(prefix="glacier-postgres-")
    os.chmod(root, 0o755)
    data, socket_dir = os.path.join(root, "data"), os.path.join(root, "socket")
    os.makedirs(socket_dir)
    password = secrets.token_urlsafe(18)
    pwfile = os.path.join(root, "pwfile")
    with open(pwfile, "w", encoding="utf-8") as fh:
        fh.write(password + "\n")
    _give(root, user)
    port = _free_port()
    env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.PIPE, "env": env}
    started = False
    try:
        subprocess.run(
            [*prefix, initdb, "-D", data, "-U", USER, "-E", "UTF8", "--auth=scram-sha-256"]
            + [f"--pwfile={pwfile}"],
            check=True,
            **quiet,  # type: ignore[call-overload]
        )
        options = f"-h 127.0.0.1 -p {port} -k {socket_dir} -c fsync=off"
        subprocess.run(
            [*prefix, pg_ctl, "-D", data, "-o", options, "-l", os.path.join(root, "log"), "-w"]
            + ["start"],
            check=True,
            **quiet,  # type: ignore[call-overload]
        )
        started = True
        server = PostgresServer("127.0.0.1", port, USER, password, DATABASE)
        server.create_database(DATABASE)
        yield server
    finally:
        if started:
            subprocess.run(
                [*prefix, pg_ctl, "-D", data, "-m", "immediate", "stop"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=False,
            )
        shutil.rmtree(root, ignore_errors=True)
