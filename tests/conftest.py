"""Shared fixtures: tiny inline workloads and a CLI runner."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from drgen.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*/workload.yaml"))

MINIMAL = """\
name: demo-workload
tier: 2
cloud: aws
regions:
  primary: us-east-1
  secondary: us-west-2
"""


@pytest.fixture
def workload_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Path]:
    """Write a workload.yaml from dedented text into a temporary folder (the working directory)."""
    monkeypatch.chdir(tmp_path)

    def write(text: str, name: str = "workload.yaml") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return Path(name)

    return write


@pytest.fixture
def run_cli() -> Callable[..., Result]:
    """Invoke `drgen` in-process, keeping stdout and stderr apart."""

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(main, list(args), catch_exceptions=False)

    return invoke
