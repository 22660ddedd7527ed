"""Run many stacks under the Pulumi mock runtime, loading pulumi and the cloud SDKs only once.

`python -m drgen.mockfork` reads a JSON list of jobs, `{"project", "stack", "inputs"}`, on stdin
and prints a JSON list of results in the same order: the report of `drgen.mockrun.run_stack`, or
`{"error": traceback}`. Loading the SDKs is most of a mock run's cost, so this process loads them
and then forks one child per stack (as many at once as there are cores): each child starts from
the loaded SDKs with no project module imported and no runtime state set, as a fresh interpreter
would (`drgen.mockrun` explains why every stack needs that). POSIX only: `drgen diff` falls back
to one interpreter per stack where `os.fork` does not exist.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import tempfile
import traceback
import warnings
from pathlib import Path
from typing import Any

import yaml

from drgen.mockrun import SDK_MODULES, run_stack


def preload(clouds: set[str]) -> None:
    """Import the SDK modules the generated programs use (what each fresh interpreter pays)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # run_stack turns the program's own warnings into errors
        for cloud in sorted(clouds):
            for name in SDK_MODULES[cloud]:
                getattr(importlib.import_module(f"pulumi_{cloud}.{name}"), "_utilities", None)


def cloud_of(project: Path, stack: str) -> str:
    config = yaml.safe_load((project / f"Pulumi.{stack}.yaml").read_text())["config"]
    return "aws" if "aws:region" in config else "gcp"


def run_all(jobs: list[dict[str, Any]], workers: int) -> list[dict[str, Any]]:
    preload({cloud_of(Path(job["project"]), job["stack"]) for job in jobs})
    with tempfile.TemporaryDirectory(prefix="drgen-mockfork-") as scratch:
        outputs = [Path(scratch) / f"{index}.json" for index in range(len(jobs))]
        pending = list(range(len(jobs)))
        running: set[int] = set()
        while pending or running:
            while pending and len(running) < workers:
                index = pending.pop(0)
                sys.stdout.flush()
                sys.stderr.flush()
                pid = os.fork()
                if pid == 0:
                    _child(jobs[index], outputs[index])
                running.add(pid)
            pid, _ = os.wait()
            running.discard(pid)
        return [
            json.loads(out.read_text()) if out.exists() else {"error": "the run died silently"}
            for out in outputs
        ]


def _child(job: dict[str, Any], output: Path) -> None:
    """Run one stack and write its report; never returns."""
    code = 1
    try:
        os.dup2(2, 1)  # anything the program prints must not reach the parent's JSON
        result = run_stack(Path(job["project"]), job["stack"], job["inputs"])
        output.write_text(json.dumps(result, default=str))
        code = 0
    except BaseException:  # the parent reports it with the stack's name
        output.write_text(json.dumps({"error": traceback.format_exc()}))
    finally:
        os._exit(code)


def main() -> int:
    jobs = json.load(sys.stdin)
    results = run_all(jobs, max(1, os.cpu_count() or 2))
    json.dump(results, sys.stdout, sort_keys=True, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
