"""The two sides of `drgen diff`: a workload file as it is, or as it was at a git revision."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path, PurePosixPath

from drgen.diff import Side
from drgen.errors import DrgenError, WorkloadError, display_path
from drgen.loader import load_workload
from drgen.plan import resolve


def side_from_file(path: Path) -> Side:
    """The workload as the file holds it now."""
    return Side(label=display_path(path), plan=resolve(load_workload(path)))


def side_from_git(revision: str, workload: Path, scratch: Path) -> Side:
    """The workload as it was at `revision`, with its folder (prompts included) checked out
    into `scratch`; a side without a plan when the file did not exist at that revision."""
    folder = workload.resolve().parent
    root = Path(_git(folder, "rev-parse", "--show-toplevel").strip())
    relative = PurePosixPath(workload.resolve().relative_to(root).as_posix())
    label = f"{relative}@{revision}"
    try:
        _git(root, "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}")
    except DrgenError:
        raise DrgenError(f"unknown git revision {revision!r}") from None
    entries = _tree(root, revision, relative.parent)
    if str(relative) not in entries:
        return Side(label=label, plan=None)
    for name, mode in entries.items():
        target = scratch / name
        target.parent.mkdir(parents=True, exist_ok=True)
        content = _git_bytes(root, "show", f"{revision}:{name}")
        if mode == SYMLINK_MODE:
            # Checked out as the link it was, never as its target's path in a file: the loader
            # then refuses it exactly as it refuses a link in the working tree.
            target.symlink_to(os.fsdecode(content))
        else:
            target.write_bytes(content)
    try:
        sourced = load_workload(scratch / relative)
    except WorkloadError as error:
        raise DrgenError(
            f"{label} is not a valid workload:\n"
            + error.format_message().replace(str(scratch) + "/", f"{revision}:")
        ) from None
    return Side(label=label, plan=resolve(sourced))


SYMLINK_MODE = "120000"
"""Git's mode for a symbolic link; regular files are 100644/100755, submodules 160000."""


def _tree(root: Path, revision: str, folder: PurePosixPath) -> dict[str, str]:
    """Path -> mode of every file and link under `folder` at `revision` (submodules skipped)."""
    listed = _git_bytes(root, "ls-tree", "-r", "-z", "--full-tree", revision, "--", str(folder))
    entries = {}
    for record in listed.decode("utf-8", "surrogateescape").split("\0"):
        if not record:
            continue
        info, name = record.split("\t", 1)
        mode, kind, _ = info.split(" ", 2)
        if kind == "blob":
            entries[name] = mode
    return entries


def _git(cwd: Path, *args: str) -> str:
    return _git_bytes(cwd, *args).decode("utf-8")


def _git_bytes(cwd: Path, *args: str) -> bytes:
    try:
        completed = subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False)
    except FileNotFoundError:
        raise DrgenError("git is not installed; compare two workload files instead") from None
    if completed.returncode != 0:
        reason = completed.stderr.decode("utf-8", "replace").strip().splitlines()
        raise DrgenError(f"git {' '.join(args)} failed: {reason[-1] if reason else 'no output'}")
    return completed.stdout
