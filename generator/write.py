"""Write rendered files into a project folder without losing anything the user had there."""

from __future__ import annotations

import difflib
import hashlib
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from drgen.errors import RenderError, display_path

MANIFEST = ".drgen-manifest"
"""Lists the files drgen wrote, with their hashes: the only files it will ever replace or remove."""


@dataclass
class WriteReport:
    """What a write changed, by path relative to the project folder."""

    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    """Files drgen once wrote and no longer renders, left in place because someone edited them."""


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
    """Path -> hash of the files drgen wrote into `project` last time (empty when none)."""
    try:
        text = (project / MANIFEST).read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    entries = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            hash_, _, path = line.partition("  ")
            entries[path] = hash_
    return entries


def project_drift(
    files: dict[str, str], project: Path, released: frozenset[str] = frozenset()
) -> list[str]:
    """A unified diff from what `project` holds to what writing `files` would leave; read-only.

    Covers the rendered files, the manifest, and the files a write would remove (listed in the
    old manifest, no longer rendered, not `released`). Empty when the project is up to date.
    """
    expected = {**files, MANIFEST: manifest_text(files)}
    lines: list[str] = []
    for path in sorted(set(expected) | (set(read_manifest(project)) - released)):
        target = project / path
        old = target.read_text(encoding="utf-8") if target.is_file() else None
        new = expected.get(path)
        if old == new:
            continue
        lines += difflib.unified_diff(
            (old or "").splitlines(keepends=True),
            (new or "").splitlines(keepends=True),
            fromfile=display_path(target) if old is not None else "/dev/null",
            tofile=display_path(target) if new is not None else "/dev/null",
        )
    return [line if line.endswith("\n") else line + "\n" for line in lines]


def write_project(
    files: dict[str, str], project: Path, released: frozenset[str] = frozenset()
) -> WriteReport:
    """Make `project` hold exactly `files` among the files drgen manages.

    `released` files (drgen wrote them once; they now belong to the team) are left in place
    and drop out of the manifest.

    Everything is staged next to the project first, so a failure while writing the new files
    leaves the old ones untouched; each file is then moved into place atomically.
    """
    if project.exists() and not project.is_dir():
        raise RenderError(f"{display_path(project)} exists and is not a folder; choose another -o")
    previous = read_manifest(project)
    _refuse_foreign_overwrites(files, project, previous)
    report = WriteReport()
    project.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{project.name}.", dir=project.parent))
    try:
        for path, text in files.items():
            staged = staging / path
            staged.parent.mkdir(parents=True, exist_ok=True)
            staged.write_bytes(text.encode("utf-8"))
        (staging / MANIFEST).write_bytes(manifest_text(files).encode("utf-8"))
        project.mkdir(exist_ok=True)
        for path, text in files.items():
            target = project / path
            if target.is_file() and target.read_bytes() == text.encode("utf-8"):
                report.unchanged.append(path)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            (staging / path).replace(target)
            report.written.append(path)
        for path, hash_ in sorted(previous.items()):
            if path in files or path in released:
                continue
            stale = project / path
            if stale.is_file() and digest(stale.read_text(encoding="utf-8")) == hash_:
                stale.unlink()
                _remove_empty_parents(stale.parent, project)
                report.removed.append(path)
            elif stale.exists():
                report.kept.append(path)
        (staging / MANIFEST).replace(project / MANIFEST)
    except OSError as error:
        raise RenderError(f"cannot write {display_path(project)}: {error}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return report


def _refuse_foreign_overwrites(
    files: dict[str, str], project: Path, previous: dict[str, str]
) -> None:
    foreign = sorted(
        path
        for path in files
        if (project / path).exists()
        and path not in previous
        and (project / path).read_bytes() != files[path].encode("utf-8")
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
