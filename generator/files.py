"""Reading files a repository supplies: never through a link, never more than a bound."""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO


def read_at_most(path: Path, limit: int) -> bytes:
    """Up to `limit` + 1 bytes of `path` (one more than allowed, so callers see an oversize file).

    Opened with O_NOFOLLOW: a link swapped in after a caller's `is_symlink()` check fails with
    OSError instead of being read. Raises OSError (FileNotFoundError, ELOOP for a link, ...).
    """
    with _open_no_follow(path) as stream:
        return stream.read(limit + 1)


def read_no_follow(path: Path) -> bytes:
    """All of `path`, opened with O_NOFOLLOW like read_at_most: for files drgen wrote itself,
    whose size it bounds, where a link swapped in after a check must still not be read."""
    with _open_no_follow(path) as stream:
        return stream.read()


def _open_no_follow(path: Path) -> BinaryIO:
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    return os.fdopen(descriptor, "rb")
