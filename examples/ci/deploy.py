"""Preview or deploy drgen's rendered stacks in the order `drgen plan --json` gives.

Usage (from the repository root, after `drgen render --check` passed):

    python deploy.py preview --stacks stacks workloads/*/workload.yaml
    python deploy.py up --stacks stacks workloads/*/workload.yaml

Per workload: install the project's requirements into the virtualenv its Pulumi.yaml names,
create any missing stack (`pulumi stack select --create`), stop before any change when a stack
lacks an input the README lists, then run the plan's deploy sequence: the first deployment's
while the primary's stack has no succeeded update in its history, every later deployment's
after that. Before each `pulumi up` it sets the config the step names
(`peer_deployed`), so the bootstrap of a secondary that needs its primary runs by itself.
`preview` runs `pulumi preview --diff` once per stack, with the config of that stack's first
step. Needs only the standard library, PyYAML (a drgen dependency), `drgen` and `pulumi` on PATH.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml


class DeployError(Exception):
    """A step failed or cannot start; the message says which and why."""


def run(*command: str, capture: bool = False) -> str:
    """Run a command, echoing it like a shell trace; its output when `capture`."""
    print("+ " + " ".join(command), flush=True)
    completed = subprocess.run(command, text=True, capture_output=capture, check=False)
    if completed.returncode != 0:
        detail = (completed.stderr or "").strip() if capture else ""
        raise DeployError(f"`{' '.join(command)}` failed ({completed.returncode}) {detail}")
    return completed.stdout if capture else ""


def install_requirements(project: Path) -> None:
    """The project's requirements, in the virtualenv its Pulumi.yaml names (Pulumi runs the
    program with that one)."""
    runtime = yaml.safe_load((project / "Pulumi.yaml").read_text())["runtime"]
    venv = project / runtime.get("options", {}).get("virtualenv", "venv")
    python = venv / "bin" / "python"
    if not python.exists():
        run("python3", "-m", "venv", str(venv))
    run(str(python), "-m", "pip", "install", "--quiet", "-r", str(project / "requirements.txt"))


def pulumi(project: Path, *args: str, capture: bool = False) -> str:
    return run("pulumi", *args, "--cwd", str(project), "--non-interactive", capture=capture)


def missing_inputs(plan: dict[str, Any], project: Path) -> list[str]:
    """`stack: key` for every input a step needs that its stack's config lacks."""
    missing = []
    needed: dict[str, list[str]] = {}
    for step in plan["deploy"]["first"]:
        needed.setdefault(step["stack"], [])
        needed[step["stack"]] += [k for k in step["inputs"] if k not in needed[step["stack"]]]
    for stack, keys in needed.items():
        config = json.loads(pulumi(project, "config", "--json", "--stack", stack, capture=True))
        for key in keys:
            full = key if ":" in key else f"{plan['workload']}:{key}"
            if full not in config:
                missing.append(f"{stack}: {key}")
    return missing


def primary_has_deployed(plan: dict[str, Any], project: Path) -> bool:
    """Whether the primary's stack has ever completed an update. Until it has, the first
    deployment's sequence runs (again, after a failure: each of its steps is safe to repeat)."""
    primary = next(s["name"] for s in plan["stacks"] if s["role"] == "primary")
    history = json.loads(
        pulumi(project, "stack", "history", "--json", "--page-size", "100", "--stack", primary,
               capture=True) or "[]"
    )  # fmt: skip
    return any(u.get("kind") == "update" and u.get("result") == "succeeded" for u in history)


def deploy(command: str, stacks: Path, workload: str) -> None:
    plan = json.loads(run("drgen", "plan", workload, "--json", capture=True))
    project = stacks / plan["workload"]
    if not (project / "Pulumi.yaml").is_file():
        raise DeployError(f"{project} holds no rendered project; run `drgen render` first")
    install_requirements(project)
    for stack in sorted(plan["stacks"], key=lambda s: s["deploy_order"]):
        pulumi(project, "stack", "select", stack["name"], "--create")
    missing = missing_inputs(plan, project)
    if missing:
        raise DeployError(
            f"{project}: set these inputs (README.md lists each) in the stack config and commit"
            f" it, before anything is deployed: {', '.join(missing)}"
        )
    sequence = plan["deploy"]["update"]
    if plan["deploy"]["first"] != sequence and not primary_has_deployed(plan, project):
        print(f"{plan['workload']}: first deployment (the primary has never deployed)")
        sequence = plan["deploy"]["first"]
    if command == "preview":
        first_steps = {step["stack"]: step for step in reversed(sequence)}
        sequence = [step for step in sequence if first_steps[step["stack"]] is step]
    for step in sequence:
        for key, value in step["config"].items():
            pulumi(project, "config", "set", key, value, "--stack", step["stack"])
        if command == "up":
            pulumi(project, "up", "--yes", "--stack", step["stack"])
        else:
            pulumi(project, "preview", "--diff", "--stack", step["stack"])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["preview", "up"])
    parser.add_argument("--stacks", type=Path, required=True, help="drgen render's -o folder")
    parser.add_argument("workloads", nargs="+")
    args = parser.parse_args(argv)
    try:
        for workload in args.workloads:
            deploy(args.command, args.stacks, workload)
    except DeployError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
