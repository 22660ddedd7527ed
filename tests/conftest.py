"""Shared fixtures: tiny inline workloads and a CLI runner."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from drgen.cli import main
from drgen.loader import SourcedWorkload
from drgen.schema import Workload

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*/workload.yaml"))

REGIONS = {"aws": ("us-east-1", "us-west-2"), "gcp": ("us-central1", "us-east1")}
TARGETS = {"aws": ("a.example.com", "b.example.com"), "gcp": ("203.0.113.1", "203.0.113.2")}


def make_workload(
    tier: int, cloud: str = "aws", pattern: str | None = None, **extra: object
) -> SourcedWorkload:
    """A valid two-region workload of `tier` on `cloud`, with an endpoint, plus `extra` keys."""
    primary, secondary = REGIONS[cloud]
    data: dict[str, object] = {
        "name": "demo-workload",
        "tier": tier,
        "cloud": cloud,
        "regions": {"primary": primary, "secondary": secondary},
        "endpoint": {
            "domain": "demo.example.com",
            "zone": "example.com",
            "targets": dict(zip((primary, secondary), TARGETS[cloud], strict=True)),
        },
        **extra,
    }
    if pattern:
        data["pattern"] = pattern
    return SourcedWorkload(Workload.model_validate(data), "workload.yaml")


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
