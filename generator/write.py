"""Write rendered files into a project folder without losing anything the user had there."""

from __future__ import annotations

import difflib
import errno
import hashlib
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from drgen.errors import RenderError, display_path
from drgen.files import read_at_most, read_no_follow

MANIFEST = ".drgen-manifest"
"""Lists the files drgen wrote, with their hashes: the only files it will ever replace or remove."""
MANIFEST_MAX_BYTES = 1024 * 1024
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass
class WriteReport:
    """What a write changed, by path relative to the project folder."""

    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    """Files drgen once wrote and no longer renders, left in place because someone edited them."""
    ignored: list[str] = field(default_factory=list)
    """Manifest lines not honoured: paths outside the project or through a symbolic link."""


def digest(text: str) -> str:
    """The SHA-256 of a file's UTF-8 bytes, as recorded in the manifest."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def manifest_text(files: dict[str, str]) -> str:
    """The manifest for a set of rendered files: one `<sha256>  <path>` line per file, sorted."""
    lines = [f"{digest(text)}  {path}" for path, text in sorted(files.items())]
    return (
        "# Files written by drgen; it replaces or removes only these.\n" + "\n".join(lines) + "\n"
    )


def read_manifest(project: Path) -> dict[str, str]:
    """Path -> hash of the files drgen wrote into `project` last time (empty when none).

    Only entries that are plain relative paths inside `project`, reached through no symbolic
    link, are returned: the manifest is committed, so anyone can edit it (`manifest_entries`
    also says which lines were ignored).
    """
    return manifest_entries(project)[0]


def manifest_entries(project: Path) -> tuple[dict[str, str], list[str]]:
    """The manifest's honoured entries, and a note on every line ignored as unsafe."""
    manifest = project / MANIFEST
    if manifest.is_symlink():
        return {}, [f"{MANIFEST} is a symbolic link; ignored"]
    try:
        raw = read_at_most(manifest, MANIFEST_MAX_BYTES)
    except (FileNotFoundError, NotADirectoryError):
        return {}, []
    except OSError as error:
        raise RenderError(f"cannot read {display_path(manifest)}: {_reason(error)}") from None
    if len(raw) > MANIFEST_MAX_BYTES:
        return {}, [f"{MANIFEST} is over {MANIFEST_MAX_BYTES // 1024} KiB; ignored"]
    entries: dict[str, str] = {}
    ignored: list[str] = []
    for number, line in enumerate(raw.decode("utf-8", "replace").splitlines(), start=1):
        if not line or line.startswith("#"):
            continue
        hash_, _, path = line.partition("  ")
        if not _SHA256.fullmatch(hash_) or not _plain_relative(path):
            ignored.append(
                f"{MANIFEST} line {number}: {path or line!r} is not a plain path inside the"
                " project; ignored"
            )
        elif _linked_part(project, path) is not None:
            ignored.append(
                f"{MANIFEST} line {number}: {path!r} goes through a symbolic link; ignored"
            )
        else:
            entries[path] = hash_
    return entries, ignored


def _plain_relative(path: str) -> bool:
    """`a/b.txt`: relative, no `.`/`..`/empty parts, no backslash or control characters."""
    if not path or path == MANIFEST or any(ord(c) < 32 or c in "\\\x7f" for c in path):
        return False
    return all(part not in ("", ".", "..") for part in path.split("/"))


def _linked_part(project: Path, path: str) -> Path | None:
    """The first of `project/path`'s own parts (below `project`) that is a symbolic link."""
    current = project
    for part in path.split("/"):
        current = current / part
        if current.is_symlink():
            return current
    return None


def _reason(error: OSError) -> str:
    return error.strerror or str(error)


def project_drift(
    files: dict[str, str], project: Path, released: frozenset[str] = frozenset()
) -> list[str]:
    """A unified diff from what `project` holds to what writing `files` would leave; read-only.

    Covers the rendered files, the manifest, and the files a write would remove (listed in the
    old manifest, no longer rendered, not `released`). Empty when the project is up to date.
    Reads nothing through a symbolic link and nothing outside `project`.
    """
    if project.is_symlink():
        raise RenderError(
            f"{display_path(project)} is a symbolic link; drgen reads and writes only a real folder"
        )
    expected = {**files, MANIFEST: manifest_text(files)}
    lines: list[str] = []
    try:
        for path in sorted(set(expected) | (set(read_manifest(project)) - released)):
            target = project / path
            old = _read_text(target) if _linked_part(project, path) is None else None
            new = expected.get(path)
            if old == new:
                continue
            lines += difflib.unified_diff(
                (old or "").splitlines(keepends=True),
                (new or "").splitlines(keepends=True),
                fromfile=display_path(target) if old is not None else "/dev/null",
                tofile=display_path(target) if new is not None else "/dev/null",
            )
    except OSError as error:
        raise RenderError(f"cannot read {_where(error, project)}: {_reason(error)}") from None
    return [line if line.endswith("\n") else line + "\n" for line in lines]


def write_project(
    files: dict[str, str], project: Path, released: frozenset[str] = frozenset()
) -> WriteReport:
    """Make `project` hold exactly `files` among the files drgen manages.

    `released` files (drgen wrote them once; they now belong to the team) are left in place
    and drop out of the manifest.

    Everything is staged next to the project first, so a failure while writing the new files
    leaves the old ones untouched; each file is then moved into place atomically, and a failure
    while moving puts back what was already moved. Nothing is written or removed through a
    symbolic link, and only files the manifest lists with their current hash are removed.
    """
    try:
        return _write_project(files, project, released)
    except OSError as error:
        raise RenderError(
            f"cannot write {_where(error, project)}: {_reason(error)}; the previous files are"
            " unchanged"
        ) from None


def _write_project(files: dict[str, str], project: Path, released: frozenset[str]) -> WriteReport:
    if project.is_symlink():
        raise RenderError(
            f"{display_path(project)} is a symbolic link; drgen writes only into a real folder"
        )
    if project.exists() and not project.is_dir():
        raise RenderError(f"{display_path(project)} exists and is not a folder; choose another -o")
    previous, ignored = manifest_entries(project)
    _refuse_links(files, project)
    _refuse_foreign_overwrites(files, project, previous)
    report = WriteReport(ignored=ignored)
    project.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{project.name}.", dir=project.parent))
    undo: list[tuple[Path, Path | None]] = []
    """(path moved into the project, the copy of what it replaced), to put back on failure."""
    try:
        for path, text in files.items():
            staged = staging / "new" / path
            staged.parent.mkdir(parents=True, exist_ok=True)
            staged.write_bytes(text.encode("utf-8"))
        (staging / "new" / MANIFEST).write_bytes(manifest_text(files).encode("utf-8"))
        project.mkdir(exist_ok=True)
        for path, text in files.items():
            target = project / path
            if _read_bytes(target) == text.encode("utf-8"):
                report.unchanged.append(path)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            undo.append((target, _keep_copy(target, staging / "old" / path)))
            (staging / "new" / path).replace(target)
            report.written.append(path)
        for path, hash_ in sorted(previous.items()):
            if path in files or path in released:
                continue
            stale = project / path
            content = _read_bytes(stale)
            if content is not None and hashlib.sha256(content).hexdigest() == hash_:
                undo.append((stale, _keep_copy(stale, staging / "old" / path)))
                stale.unlink(missing_ok=True)
                _remove_empty_parents(stale.parent, project)
                report.removed.append(path)
            elif stale.exists():
                report.kept.append(path)
        manifest = project / MANIFEST
        undo.append((manifest, _keep_copy(manifest, staging / "old" / MANIFEST)))
        (staging / "new" / MANIFEST).replace(manifest)
    except BaseException:
        _put_back(undo)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return report


def _read_text(path: Path) -> str | None:
    content = _read_bytes(path)
    return None if content is None else content.decode("utf-8", "replace")


def _read_bytes(path: Path) -> bytes | None:
    """A regular file's bytes, or None when there is none (or it vanished); never via a link."""
    if path.is_symlink() or not path.is_file():
        return None
    try:
        return read_no_follow(path)
    except FileNotFoundError:
        return None
    except OSError as error:
        if error.errno == errno.ELOOP:  # a link swapped in after the check above
            return None
        raise


def _keep_copy(path: Path, copy: Path) -> Path | None:
    """Keep `path`'s current content at `copy` (a hard link when possible), if it has one."""
    if path.is_symlink() or not path.is_file():
        return None
    copy.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(path, copy)
    except OSError:
        shutil.copy2(path, copy)
    return copy


def _put_back(undo: list[tuple[Path, Path | None]]) -> None:
    """Undo the moves of a write that failed part-way, newest first; best effort."""
    for target, copy in reversed(undo):
        try:
            if copy is None:
                target.unlink(missing_ok=True)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                copy.replace(target)
        except OSError:
            continue


def _where(error: OSError, project: Path) -> str:
    return display_path(Path(os.fsdecode(error.filename))) if error.filename else str(project)


def _refuse_links(files: dict[str, str], project: Path) -> None:
    linked = sorted(
        {str(display_path(link)) for path in files if (link := _linked_part(project, path))}
    )
    if linked:
        raise RenderError(
            f"{', '.join(linked[:5])} {'is a symbolic link' if len(linked) == 1 else 'are'}"
            " where drgen writes its files; drgen never writes through links: remove"
            f" {'it' if len(linked) == 1 else 'them'} or render into another folder with -o"
        )


def _refuse_foreign_overwrites(
    files: dict[str, str], project: Path, previous: dict[str, str]
) -> None:
    foreign = sorted(
        path
        for path in files
        if (project / path).exists()
        and path not in previous
        and _read_bytes(project / path) != files[path].encode("utf-8")
    )
    if foreign:
        shown = ", ".join(foreign[:5]) + (" ..." if len(foreign) > 5 else "")
        raise RenderError(
            f"{display_path(project)} holds files drgen did not write and would overwrite: {shown};"
            " move them away or render into another folder with -o"
        )


def _remove_empty_parents(folder: Path, project: Path) -> None:
    while folder != project and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent
