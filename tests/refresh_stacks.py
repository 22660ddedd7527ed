"""Re-render the golden projects under stacks/ from examples/ and show what changed.

Usage: python tests/refresh_stacks.py
Examples whose cloud or components drgen cannot render yet are listed and skipped.
"""

from __future__ import annotations

import difflib
import sys
from pathlib import Path

from drgen.loader import load_workload
from drgen.plan import resolve
from drgen.render import render
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
        report = write_project(files, project)
        print(f"stacks/{name}: {len(report.written)} written, {len(report.removed)} removed")
    return 0


if __name__ == "__main__":
    import os

    os.chdir(ROOT)
    sys.exit(main())
