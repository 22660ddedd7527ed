"""Print what `drgen diff --base HEAD` over every example costs as the change grows.

    python benchmarks/diff_speed.py

Figures (targets from issue 10, on a 2-core machine), each one run of the CLI in a scratch git
repository holding a copy of examples/:
  - nothing changed                     (< 2 s: no stack runs under the mocks)
  - one example changed among all       (< 6 s: only that workload's stacks run)
  - every example changed               (no target; printed for the record)
with the CPU seconds spent (wall time on an idle 2-core machine is about half of it, plus the
serial part) and the memory of the largest process so far (drgen or one mock run).
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def add_tag(workload: Path) -> None:
    """Change a workload the way a team often does: one more tag on every resource."""
    data = yaml.safe_load(workload.read_text())
    data.setdefault("tags", {})["cost-review"] = "2026"
    workload.write_text(yaml.safe_dump(data, sort_keys=False))


def timed_diff(repo: Path, label: str, target: float | None) -> None:
    workloads = sorted(str(p.relative_to(repo)) for p in repo.glob("examples/*/workload.yaml"))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-m", "drgen", "diff", "--base", "HEAD", *workloads],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - start
    if completed.returncode != 0:
        raise SystemExit(f"drgen diff failed:\n{completed.stderr}")
    changed = completed.stdout.count("\n  stack ")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    peak_mb = after.ru_maxrss / 1024
    verdict = "" if target is None else ("  ok" if seconds < target else f"  OVER {target} s")
    print(
        f"{label:<34} {seconds:6.2f} s wall {cpu:6.1f} s cpu  {changed:2d} stacks changed"
        f"  largest process so far {peak_mb:4.0f} MB{verdict}"
    )


def main() -> int:
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"{os.cpu_count()} cores, load average {load} (other work inflates the wall times)")
    with tempfile.TemporaryDirectory() as scratch:
        repo = Path(scratch)
        shutil.copytree(ROOT / "examples", repo / "examples")
        git(repo, "init", "-q")
        git(repo, "add", "-A")
        git(repo, "-c", "user.name=bench", "-c", "user.email=bench@example.com",
            "commit", "-qm", "examples")  # fmt: skip
        examples = sorted(repo.glob("examples/*/workload.yaml"))
        timed_diff(repo, f"no change ({len(examples)} examples)", 2.0)
        add_tag(examples[0])
        timed_diff(repo, f"1 of {len(examples)} examples changed", 6.0)
        for workload in examples[1:]:
            add_tag(workload)
        timed_diff(repo, f"all {len(examples)} examples changed", None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
