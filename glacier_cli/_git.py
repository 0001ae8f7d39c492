"""Reading revisions of the user's repository for ``glacier diff``, never touching its work tree.

A revision's files come from ``git archive`` (the object store, as a tar stream) extracted
into a temporary directory the caller owns; the user's checkout, index and branches are left
as they are. Every failure a user can cause (not a repository, an unknown revision) is a
``Misuse``: one line, exit status 2.
"""

from __future__ import annotations

import io
import os
import subprocess
import tarfile

from glacier_cli._common import Misuse

__all__ = ["default_base", "export", "resolve", "short", "toplevel"]


def _git(cwd: str, *args: str) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False)
    except FileNotFoundError:
        raise Misuse("glacier diff: git is not installed (or not on PATH)") from None


def toplevel(cwd: str) -> str:
    """The top of the work tree holding ``cwd``."""
    done = _git(cwd, "rev-parse", "--show-toplevel")
    if done.returncode != 0:
        raise Misuse(f"glacier diff: not a git repository: {os.path.abspath(cwd)}")
    return done.stdout.decode().strip()


def resolve(top: str, revision: str) -> str | None:
    """The commit ``revision`` names, or None."""
    if revision.startswith("-"):
        return None
    done = _git(
        top, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{revision}^{{commit}}"
    )
    return done.stdout.decode().strip() if done.returncode == 0 else None


def short(top: str, commit: str) -> str:
    done = _git(top, "rev-parse", "--short", commit)
    return done.stdout.decode().strip() or commit[:7]


def default_base(top: str) -> tuple[str, str]:
    """(label, commit): the merge base of ``HEAD`` with the default branch (``origin/HEAD``,
    else ``main``, else ``master``)."""
    if resolve(top, "HEAD") is None:
        raise Misuse("glacier diff: the repository has no commit yet; nothing to compare with")
    for branch in ("origin/HEAD", "main", "master"):
        if resolve(top, branch) is None:
            continue
        done = _git(top, "merge-base", branch, "HEAD")
        if done.returncode == 0:
            commit = done.stdout.decode().strip()
            return f"merge-base({branch}) ({short(top, commit)})", commit
    raise Misuse(
        "glacier diff: no default branch (origin/HEAD, main or master) to compare with; "
        "name the base revision: glacier diff BASE"
    )


def export(top: str, commit: str, into: str) -> str:
    """The files of ``commit`` under ``into`` (created); returns ``into``."""
    done = _git(top, "archive", "--format=tar", commit)
    if done.returncode != 0:
        raise Misuse(f"glacier diff: git archive {commit} failed: {done.stderr.decode().strip()}")
    os.makedirs(into, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(done.stdout)) as archive:
        archive.extractall(into, filter="data")
    return into
