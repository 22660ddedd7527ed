"""Print how fast drgen renders and how long one generated stack takes under the mock runtime.

    python benchmarks/render_speed.py [--repeat N]

Figures (targets from issue 3, on a 2-core machine):
  - `drgen render` of one workload, interpreter start included  (< 0.5 s)
  - `drgen render` of 200 generated workloads in one call        (< 5 s)
  - one stack of a generated project under the Pulumi mocks      (no target; for the record)
It also checks that rendering imports neither pulumi nor a cloud SDK (`python -X importtime`).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from drgen.loader import load_workload
from drgen.plan import resolve

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "fraud-scoring" / "workload.yaml"
MANY = 200


def timed(command: list[str], repeat: int) -> list[float]:
    """Wall-clock seconds of each of `repeat` runs of `command` (which must succeed)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return times


def many_workloads(folder: Path, count: int) -> list[Path]:
    """`count` distinct workloads: the fraud-scoring example under other names and tiers."""
    text = EXAMPLE.read_text()
    paths = []
    for index in range(count):
        path = folder / f"w{index:03d}" / "workload.yaml"
        path.parent.mkdir(parents=True)
        path.write_text(
            text.replace("name: fraud-scoring", f"name: bench-{index:03d}").replace(
                "tier: 0", f"tier: {index % 2}"
            )
        )
        paths.append(path)
    return paths


def heavy_imports() -> list[str]:
    """Modules of pulumi or the cloud SDKs that `drgen render` imports (should be none)."""
    with tempfile.TemporaryDirectory() as out:
        completed = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "drgen", "render", str(EXAMPLE), "-o", out],
            check=True,
            capture_output=True,
            text=True,
        )
    modules = [line.rsplit("|", 1)[-1].strip() for line in completed.stderr.splitlines()]
    return sorted({m for m in modules if m.split(".")[0] in ("pulumi", "pulumi_aws", "pulumi_gcp")})


def report(label: str, times: list[float], target: float | None) -> None:
    best, median = min(times), statistics.median(times)
    verdict = "" if target is None else ("  ok" if median < target else f"  OVER {target} s")
    print(f"{label:<48} median {median:6.3f} s   best {best:6.3f} s{verdict}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per figure (default 5)")
    repeat = parser.parse_args().repeat
    drgen = [sys.executable, "-m", "drgen", "render"]

    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        report(
            "render 1 workload (interpreter included)",
            timed([*drgen, str(EXAMPLE), "-o", str(folder / "one")], repeat),
            0.5,
        )
        workloads = [str(p) for p in many_workloads(folder / "in", MANY)]
        report(
            f"render {MANY} workloads in one call",
            timed([*drgen, *workloads, "-o", str(folder / "many")], max(1, repeat // 2)),
            5.0,
        )
        project = folder / "one" / "fraud-scoring"
        primary = resolve(load_workload(EXAMPLE)).primary
        inputs = [f"{key}={value}" for key, value in primary.placeholder_inputs().items()]
        report(
            f"mock run of one stack (fraud-scoring {primary.name})",
            timed(
                [sys.executable, "-m", "drgen.mockrun", str(project), primary.name, *inputs],
                max(1, repeat // 2),
            ),
            None,
        )
    imported = heavy_imports()
    print("pulumi / cloud SDK modules imported by render:", ", ".join(imported) or "none")
    return 1 if imported else 0


if __name__ == "__main__":
    sys.exit(main())
