"""A task bundle as an AWS Lambda ``.zip``: its sizes against Lambda's quotas, and the archive.

No pulumi here: ``glacier build --package`` measures a bundle with it (and refuses one Lambda
cannot take), and a program's ``LambdaBundle`` decides with the same measure whether the
bundle goes to Lambda directly or through S3.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import os
import tempfile
import zipfile
from dataclasses import dataclass
from typing import IO

__all__ = [
    "LAMBDA_DIRECT_UPLOAD_LIMIT",
    "LAMBDA_UNZIPPED_LIMIT",
    "SOURCES_RECORD",
    "BundleSize",
    "bundle_files",
    "changed_sources",
    "measure_bundle",
    "package_sizes",
    "write_bundle_zip",
]

SOURCES_RECORD = "glacier_sources.json"
"""The bundle's record of the source files it was built from (``codegen.SOURCES_RECORD``)."""

# AWS Lambda quotas, "Deployment package (.zip file archive) size" in
# https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html: 50 MB zipped when
# the archive is uploaded directly (CreateFunction / UpdateFunctionCode `ZipFile`, which is what
# `code=pulumi.FileArchive(...)` does), 250 MB unzipped however it is uploaded (S3 included,
# layers counted). AWS's MB are MiB: the API refuses unzipped code over 262,144,000 bytes.
LAMBDA_DIRECT_UPLOAD_LIMIT = 50 * 1024 * 1024
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024

_SKIPPED_DIRS = frozenset({"__pycache__"})
_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry: no build time


@dataclass(frozen=True, slots=True)
class BundleSize:
    """A bundle's size: ``unzipped`` (the files' bytes), ``zipped`` (its deflated archive)."""

    unzipped: int
    zipped: int

    @property
    def fits_direct_upload(self) -> bool:
        return self.zipped <= LAMBDA_DIRECT_UPLOAD_LIMIT

    @property
    def fits_lambda(self) -> bool:
        return self.unzipped <= LAMBDA_UNZIPPED_LIMIT


def bundle_files(bundle: str) -> list[str]:
    """Every file of ``bundle`` (relative, POSIX, sorted), bytecode caches aside."""
    found: list[str] = []
    for here, dirs, names in os.walk(bundle):
        dirs[:] = sorted(d for d in dirs if d not in _SKIPPED_DIRS)
        base = os.path.relpath(here, bundle).replace(os.sep, "/")
        found.extend(name if base == "." else f"{base}/{name}" for name in names)
    return sorted(found)


class _Counter:
    """A sink that keeps no bytes, only where they end: ``zipfile`` writes (and seeks back to
    complete each entry's header) as into a real file, so ``size`` is the archive's size."""

    def __init__(self) -> None:
        self.size = 0
        self._position = 0

    def write(self, data: bytes, /) -> int:
        self._position += len(data)
        self.size = max(self.size, self._position)
        return len(data)

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = os.SEEK_SET, /) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._position, os.SEEK_END: self.size}[whence]
        self._position = base + offset
        return self._position

    def seekable(self) -> bool:
        return True

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


def _write_zip(bundle: str, sink: IO[bytes] | _Counter) -> int:
    """Zip ``bundle`` into ``sink``: sorted entries, fixed times and modes, deflated.

    The same directory always gives the same bytes, so its hash changes only with the code.
    Returns the unzipped size.
    """
    unzipped = 0
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for rel in bundle_files(bundle):
            path = os.path.join(bundle, rel)
            info = zipfile.ZipInfo(rel, date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            executable = os.stat(path).st_mode & 0o111
            info.external_attr = (0o100755 if executable else 0o100644) << 16
            with open(path, "rb") as src, archive.open(info, "w") as dst:
                while chunk := src.read(1 << 20):
                    unzipped += len(chunk)
                    dst.write(chunk)
    return unzipped


def measure_bundle(bundle: str) -> BundleSize:
    """The bundle's unzipped bytes and the real size of its archive (deflated, not written)."""
    counter = _Counter()
    unzipped = _write_zip(bundle, counter)
    return BundleSize(unzipped, counter.size)


def write_bundle_zip(bundle: str, directory: str | None = None) -> tuple[str, str]:
    """Write the bundle's archive; ``(path, base64 SHA-256)``, the hash Lambda reports.

    The file is named after its content (``glacier-bundle-<sha>.zip`` in ``directory``, the
    system's temporary directory by default), so deploying the same code again reuses it.
    """
    directory = directory or tempfile.gettempdir()
    fd, partial = tempfile.mkstemp(prefix=".glacier-bundle-", suffix=".zip", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            _write_zip(bundle, fh)
        digest = hashlib.sha256()
        with open(partial, "rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
        path = os.path.join(directory, f"glacier-bundle-{digest.hexdigest()[:32]}.zip")
        os.replace(partial, path)
    except BaseException:
        if os.path.exists(partial):
            os.unlink(partial)
        raise
    return path, base64.b64encode(digest.digest()).decode("ascii")


def _distribution(dist_info: str) -> str:
    """``pandas-3.0.1.dist-info`` -> ``pandas``."""
    return dist_info.rsplit(".", 1)[0].split("-", 1)[0]


def package_sizes(bundle: str) -> list[tuple[str, int]]:
    """Unzipped bytes per installed distribution (from each ``*.dist-info/RECORD``), largest
    first; files no RECORD lists count under their top-level name (``glacier_handler.py``)."""
    sizes = {rel: os.path.getsize(os.path.join(bundle, rel)) for rel in bundle_files(bundle)}
    owner: dict[str, str] = {}
    for entry in sorted(os.listdir(bundle)):
        record = os.path.join(bundle, entry, "RECORD")
        if not entry.endswith(".dist-info") or not os.path.isfile(record):
            continue
        name = _distribution(entry)
        with open(record, encoding="utf-8", newline="") as fh:
            for row in csv.reader(fh):
                if row and row[0] in sizes:
                    owner.setdefault(row[0], name)
    totals: dict[str, int] = {}
    for rel, size in sizes.items():
        name = owner.get(rel) or rel.split("/", 1)[0]
        totals[name] = totals.get(name, 0) + size
    return sorted(totals.items(), key=lambda item: (-item[1], item[0]))


def changed_sources(bundle: str) -> list[str]:
    """The source files that changed since ``bundle`` was built, named from the project root:
    the bundle's ``SOURCES_RECORD`` (root-relative path -> SHA-256) against the files under
    the nearest ancestor of the bundle that holds ``pyproject.toml`` or ``.git`` (the root
    glacier finds). A recorded file that is not there is not compared (the bundle was copied
    away from its sources); a bundle without a record has nothing to compare."""
    import json

    from glacier.source import marked_ancestor

    try:
        with open(os.path.join(bundle, SOURCES_RECORD), encoding="utf-8") as fh:
            record = json.load(fh)
    except (OSError, ValueError):
        return []
    root = marked_ancestor(os.path.dirname(os.path.abspath(bundle)))
    if root is None or not isinstance(record, dict):
        return []
    changed = []
    for rel, digest in sorted(record.items()):
        try:
            with open(os.path.join(root, *str(rel).split("/")), "rb") as fh:
                current = hashlib.sha256(fh.read()).hexdigest()
        except OSError:
            continue
        if current != digest:
            changed.append(str(rel))
    return changed
