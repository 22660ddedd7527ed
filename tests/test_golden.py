"""Golden projects: every example renders to exactly the bytes checked in under stacks/."""

from __future__ import annotations

import difflib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from drgen.loader import load_workload
from drgen.plan import resolve
from drgen.stack_config import drgen_owned
from drgen.write import MANIFEST, manifest_text
from tests.conftest import EXAMPLES, ROOT
from tests.refresh_stacks import render_example

REFRESH = "python tests/refresh_stacks.py"


@pytest.fixture(autouse=True)
def _at_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.parent.name)
def test_example_matches_its_golden_project(example: Path) -> None:
    name, files = render_example(example)
    project = ROOT / "stacks" / name
    plan = resolve(load_workload(example.relative_to(ROOT)))
    expected = {**files, MANIFEST: manifest_text(drgen_owned(plan, files))}
    on_disk = {
        p.relative_to(project).as_posix(): p.read_text(encoding="utf-8")
        for p in project.rglob("*")
        if p.is_file() and not {"__pycache__", ".ruff_cache"} & set(p.parts)
    }
    diff = "".join(
        line
        for path in sorted(set(expected) | set(on_disk))
        for line in difflib.unified_diff(
            on_disk.get(path, "").splitlines(True),
            expected.get(path, "").splitlines(True),
            f"stacks/{name}/{path}",
            f"rendered/{path}",
        )
    )
    assert not diff, f"stacks/{name} is out of date; run `{REFRESH}`:\n{diff}"


def test_render_is_identical_under_different_hash_seeds(tmp_path: Path) -> None:
    workloads = [str(p.relative_to(ROOT)) for p in EXAMPLES]
    trees = []
    for seed in ("1", "4242"):
        out = tmp_path / seed
        subprocess.run(
            [sys.executable, "-m", "drgen", "render", *workloads, "-o", str(out)],
            check=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
        )
        trees.append({p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()})

    assert trees[0] == trees[1]
    assert len(trees[0]) > 10


def test_generated_code_passes_ruff() -> None:
    projects = [p for p in (ROOT / "stacks").iterdir() if p.is_dir()]

    check = subprocess.run(
        [sys.executable, "-m", "ruff", "check", *map(str, projects)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    fmt = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", *map(str, projects)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )

    assert check.returncode == 0, check.stdout
    assert fmt.returncode == 0, fmt.stdout


def test_generated_code_compiles() -> None:
    for source in (ROOT / "stacks").rglob("*.py"):
        compile(source.read_text(encoding="utf-8"), str(source), "exec")
