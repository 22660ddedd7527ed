"""The two sides of `drgen diff`: a workload file as it is, or as it was at a git revision."""

from __future__ import annotations

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
    listed = _git(root, "ls-tree", "-r", "--name-only", revision, "--", str(relative.parent))
    names = [name for name in listed.splitlines() if name]
    if str(relative) not in names:
        return Side(label=label, plan=None)
    for name in names:
        target = scratch / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(_git_bytes(root, "show", f"{revision}:{name}"))
    try:
        sourced = load_workload(scratch / relative)
    except WorkloadError as error:
        raise DrgenError(
            f"{label} is not a valid workload:\n"
            + error.format_message().replace(str(scratch) + "/", f"{revision}:")
        ) from None
    return Side(label=label, plan=resolve(sourced))


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
