"""The light install: everything but `drgen diff` works without the Pulumi SDKs, and `drgen diff`
says what to install."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from tests.conftest import MINIMAL, ROOT

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
SDKS = ("pulumi", "pulumi-aws", "pulumi-gcp")

# A fresh interpreter in which the SDKs cannot be imported, as after `pip install .`.
WITHOUT_SDKS = """
import sys
for name in ("pulumi", "pulumi_aws", "pulumi_gcp"):
    sys.modules[name] = None  # importing it fails; find_spec answers None, as when not installed
from drgen.cli import main
main(sys.argv[1:], prog_name="drgen")
"""


def names(requirements: list[str]) -> set[str]:
    return {r.split(">")[0].split("<")[0].split("[")[0].split("=")[0].strip() for r in requirements}


def test_the_core_install_has_no_pulumi_sdk_and_the_diff_extra_has_them() -> None:
    extras = PROJECT["optional-dependencies"]

    assert not names(PROJECT["dependencies"]) & set(SDKS)
    assert "ruamel.yaml" in names(PROJECT["dependencies"])
    assert names(extras["diff"]) == set(SDKS)
    assert "drgen[diff]" in extras["test"]


def drgen_without_sdks(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_SDKS, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


def test_every_command_but_diff_runs_without_the_sdks(tmp_path: Path) -> None:
    (tmp_path / "workload.yaml").write_text(MINIMAL)
    commands = [
        ["validate", "workload.yaml"],
        ["plan", "workload.yaml", "--json"],
        ["check", "workload.yaml"],
        ["render", "workload.yaml", "-o", "out"],
        ["render", "--check", "workload.yaml", "-o", "out"],
        ["schema"],
        ["init", "-o", "starter.yaml"],
    ]

    results = {" ".join(c): drgen_without_sdks(*c, cwd=tmp_path) for c in commands}

    assert {c: r.returncode for c, r in results.items()} == dict.fromkeys(results, 0)


def test_diff_without_the_sdks_exits_2_naming_the_extra(tmp_path: Path) -> None:
    (tmp_path / "workload.yaml").write_text(MINIMAL)

    result = drgen_without_sdks("diff", "workload.yaml", "workload.yaml", cwd=tmp_path)

    assert result.returncode == 2
    assert "pip install 'drgen[diff]'" in result.stderr
    assert "Traceback" not in result.stderr


def test_diff_with_the_sdks_does_not_ask_for_them(
    run_cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert all(importlib.util.find_spec(n.replace("-", "_")) for n in SDKS)
    monkeypatch.chdir(ROOT)

    result = run_cli(
        "diff", "examples/research-sandbox/workload.yaml", "examples/research-sandbox/workload.yaml"
    )

    assert result.exit_code == 0 and "no changes" in result.output
