"""Refresh every golden file and show what changed: the projects under stacks/ (rendered from
examples/) and the expected `drgen diff` output under tests/goldens/ (this one runs the mocks).

Usage: python tests/refresh_stacks.py
"""

from __future__ import annotations

import difflib
import sys
from pathlib import Path

from drgen import diff_report
from drgen.diff import diff_workload
from drgen.loader import load_workload
from drgen.plan import resolve
from drgen.render import render
from drgen.sources import side_from_file
from drgen.stack_config import drgen_owned, team_owned
from drgen.write import read_manifest, write_project

ROOT = Path(__file__).resolve().parent.parent


def render_example(workload: Path) -> tuple[str, dict[str, str]]:
    """(project name, files) of an example."""
    plan = resolve(load_workload(workload.relative_to(ROOT)))
    return plan.workload, render(plan)


def main() -> int:
    for workload in sorted((ROOT / "examples").glob("*/workload.yaml")):
        name, files = render_example(workload)
        project = ROOT / "stacks" / name
        for path in sorted(set(files) | set(read_manifest(project))):
            old_file = project / path
            old = old_file.read_text(encoding="utf-8").splitlines(True) if old_file.exists() else []
            new = files.get(path, "").splitlines(True)
            sys.stdout.writelines(difflib.unified_diff(old, new, f"a/{path}", f"b/{path}"))
        plan = resolve(load_workload(workload.relative_to(ROOT)))
        report = write_project(drgen_owned(plan, files), project, released=team_owned(plan))
        for path in team_owned(plan):  # the goldens hold the seeds a first render creates
            (project / path).write_text(files[path], encoding="utf-8")
        print(f"stacks/{name}: {len(report.written)} written, {len(report.removed)} removed")
    for case in sorted((ROOT / "tests" / "goldens").glob("diff-*")):
        base, head = (case.relative_to(ROOT) / side / "workload.yaml" for side in ("base", "head"))
        new = diff_report.as_markdown([diff_workload(side_from_file(base), side_from_file(head))])
        golden = case / "diff.md"
        old = golden.read_text(encoding="utf-8") if golden.exists() else ""
        sys.stdout.writelines(
            difflib.unified_diff(old.splitlines(True), new.splitlines(True), str(golden), "new")
        )
        golden.write_text(new, encoding="utf-8")
        print(f"{golden.relative_to(ROOT)}: {'unchanged' if old == new else 'written'}")
    return 0


if __name__ == "__main__":
    import os

    os.chdir(ROOT)
    sys.exit(main())
