"""Reading files a repository supplies: never through a link, never more than a bound."""

from __future__ import annotations

import os
from pathlib import Path


def read_at_most(path: Path, limit: int) -> bytes:
    """Up to `limit` + 1 bytes of `path` (one more than allowed, so callers see an oversize file).

    Opened with O_NOFOLLOW: a link swapped in after a caller's `is_symlink()` check fails with
    OSError instead of being read. Raises OSError (FileNotFoundError, ELOOP for a link, ...).
    """
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(descriptor, "rb") as stream:
        return stream.read(limit + 1)
