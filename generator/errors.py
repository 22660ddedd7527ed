"""The error root: every failure a user can cause is a `DrgenError` with a message to act on."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import click


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with an input file, located as precisely as the file allows."""

    file: str
    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class DrgenError(click.ClickException):
    """A failure caused by the user's input or environment; printed without a traceback, exit 1."""

    exit_code = 1

    def format_message(self) -> str:
        return self.message


class WorkloadError(DrgenError):
    """A workload file that cannot be used; carries every problem found in it."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


class RenderError(DrgenError):
    """A valid workload that drgen cannot render, or output it cannot write."""


class DiffError(DrgenError):
    """Any failure of `drgen diff`: exit 2, so that exit 1 can mean "changes found"."""

    exit_code = 2


def display_path(path: Path) -> str:
    """A path as the user would type it: relative to the working directory when inside it.

    Symbolic links are not resolved: a message about a link names the link.
    """
    try:
        # Not Path.resolve(): that would follow the link the message is about.
        return str(Path(os.path.abspath(path)).relative_to(Path.cwd()))  # noqa: PTH100
    except (ValueError, OSError):
        return str(path)
