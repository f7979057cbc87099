"""Atomic file writes: the low-level I/O that beliefs and the results layer share.

:func:`atomic_write_bytes` writes to a temporary file in the same folder, ``fsync``-s
it, then moves it into place with :func:`os.replace` (atomic on POSIX). A reader
therefore sees the old file or the new one, never half of one; a process killed
mid-write leaves at most a stray ``.<name>.<pid>.<hex>.tmp`` file, which
:func:`remove_stale_temporaries` deletes. Standard library only.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

__all__ = ["atomic_write_bytes", "remove_stale_temporaries"]

_TMP_SUFFIX = ".tmp"


def _tmp_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}{_TMP_SUFFIX}")


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> int:
    """Write ``data`` to ``path`` atomically; return the number of bytes written.

    The data go to a temporary file in the same folder, are flushed and ``fsync``-ed,
    and the file is moved into place with :func:`os.replace`. The parent folder is
    created when missing.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_path(path)
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return len(data)


def remove_stale_temporaries(folder: str | os.PathLike[str]) -> int:
    """Delete the temporary files a killed writer left under ``folder``; return how many."""
    removed = 0
    for tmp in Path(folder).rglob(f".*{_TMP_SUFFIX}"):
        if tmp.is_file():
            tmp.unlink(missing_ok=True)
            removed += 1
    return removed
