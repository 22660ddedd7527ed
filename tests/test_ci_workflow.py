"""examples/ci: the workflow passes zizmor and actionlint, and its deploy script runs the plan's
deploy sequence. The Pulumi CLI cannot be installed here, so the script runs against a recording
stand-in `pulumi` on PATH that keeps stack config in the Pulumi.<stack>.yaml files and remembers
which stacks completed an `up`, as the real CLI and its state backend do."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT

CI = ROOT / "examples" / "ci"
WORKFLOW = CI / "drgen.yml"
BIN = Path(sys.executable).parent
WORKLOAD = "workloads/fraud-scoring/workload.yaml"


def jobs() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(WORKFLOW.read_text())["jobs"]
    return loaded


def test_zizmor_finds_nothing() -> None:
    result = subprocess.run(
        [BIN / "zizmor", "--offline", str(WORKFLOW)], capture_output=True, text=True, check=False
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout


def test_actionlint_finds_nothing() -> None:
    result = subprocess.run(
        [BIN / "actionlint", str(WORKFLOW)], capture_output=True, text=True, check=False
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_every_action_is_pinned_to_a_commit_named_by_its_release() -> None:
    uses = re.findall(r"uses: ([\w.-]+/[\w.-]+)@(\S+)(.*)", WORKFLOW.read_text())

    assert {action for action, _, _ in uses} == {
        "actions/checkout",
        "actions/setup-python",
        "actions/upload-artifact",
        "pulumi/actions",
        "aws-actions/configure-aws-credentials",
        "google-github-actions/auth",
    }
    for action, ref, comment in uses:
        assert re.fullmatch(r"[0-9a-f]{40}", ref), action
        assert re.fullmatch(r" # v\d+\.\d+\.\d+", comment), action


def test_cloud_access_is_oidc_and_deploys_are_serial_behind_an_environment() -> None:
    preview, deploy = jobs()["preview"], jobs()["deploy"]

    for job in (preview, deploy):
        assert job["permissions"] == {"contents": "read", "id-token": "write"}
        assert "role-to-assume" in str(job["steps"]) and "workload_identity_provider" in str(
            job["steps"]
        )
        assert "aws-access-key-id" not in str(job["steps"])
    assert deploy["environment"] == "production"
    assert deploy["concurrency"] == {"group": "drgen-deploy", "cancel-in-progress": False}
    # Forks: no preview (no secrets), no comment; the offline diff still runs.
    assert "head.repo.full_name == github.repository" in preview["if"]
    checkouts = [
        step for job in jobs().values() for step in job["steps"]
        if step.get("uses", "").startswith("actions/checkout@")
    ]  # fmt: skip
    assert len(checkouts) == 3
    assert all(step["with"]["persist-credentials"] is False for step in checkouts)


def run_lines(job: str) -> str:
    return "\n".join(step.get("run", "") for step in jobs()[job]["steps"])


def test_the_jobs_install_drgen_from_a_pinned_source_and_call_the_deploy_script() -> None:
    for job in ("review", "preview", "deploy"):
        assert '@ $DRGEN_SOURCE"' in run_lines(job)
    assert "pip install drgen" not in WORKFLOW.read_text()
    assert "--max-chars 60000 --full-to drgen-diff-full.md" in run_lines("review")
    (upload,) = [s for s in jobs()["review"]["steps"] if "upload-artifact" in s.get("uses", "")]
    assert upload["with"]["path"] == "drgen-diff-full.md"
    assert "deploy.py preview --stacks" in run_lines("preview")
    assert "deploy.py up --stacks" in run_lines("deploy")
    assert 'drgen render --check "$WORKLOADS"' in run_lines("deploy")


# The deploy script against a recording stand-in


STAND_IN_PULUMI = """\
#!{python}
# Recording stand-in for the Pulumi CLI: logs every call; keeps config in Pulumi.<stack>.yaml
# (as the CLI does) and, in a state file, which stacks exist and each `up`'s result (history).
import json, os, sys
from pathlib import Path
import yaml

args = sys.argv[1:]
cwd = Path(args[args.index("--cwd") + 1])
stack = args[args.index("--stack") + 1] if "--stack" in args else None
state_file = Path(os.environ["STANDIN_STATE"])
state = json.loads(state_file.read_text()) if state_file.exists() else {{"stacks": [], "up": []}}
project = yaml.safe_load((cwd / "Pulumi.yaml").read_text())["name"]
stack_file = cwd / f"Pulumi.{{stack}}.yaml"
config = (yaml.safe_load(stack_file.read_text()) or {{}}).get("config", {{}}) if stack else {{}}
entry = {{"args": [a for a in args if a not in ("--cwd", str(cwd))], "project": cwd.name}}
if args[0] in ("up", "preview"):
    entry["config"] = {{k: v for k, v in config.items() if k.endswith(":peer_deployed")}}
with open(os.environ["STANDIN_LOG"], "a") as log:
    log.write(json.dumps(entry) + "\\n")
if args[:2] == ["stack", "select"]:
    state["stacks"].append(args[2])
elif args[:2] == ["config", "set"]:
    data = yaml.safe_load(stack_file.read_text())
    data["config"][f"{{project}}:{{args[2]}}"] = args[3]
    stack_file.write_text(yaml.safe_dump(data))
elif args[0] == "config":
    shown = {{k: {{"value": v, "secret": isinstance(v, dict)}} for k, v in config.items()}}
    print(json.dumps(shown))
elif args[:2] == ["stack", "history"]:
    print(json.dumps([{{"kind": "update", "result": r}} for s, r in state["up"] if s == stack]))
elif args[0] == "up":
    failed = stack == os.environ.get("STANDIN_FAIL_UP")
    state["up"].insert(0, [stack, "failed" if failed else "succeeded"])
    state_file.write_text(json.dumps(state))
    sys.exit(1 if failed else 0)
state_file.write_text(json.dumps(state))
"""

STAND_IN_PYTHON3 = """\
#!{python}
# Stand-in for `python3 -m venv DIR` and `DIR/bin/python -m pip install -r ...`: logs the call
# and creates DIR/bin/python as another stand-in.
import json, os, shutil, sys
from pathlib import Path
with open(os.environ["STANDIN_LOG"], "a") as log:
    log.write(json.dumps({{"args": [Path(sys.argv[0]).name, *sys.argv[1:]]}}) + "\\n")
if sys.argv[1:3] == ["-m", "venv"]:
    target = Path(sys.argv[3]) / "bin" / "python"
    target.parent.mkdir(parents=True)
    shutil.copy(__file__, target)
"""

TEAM_CONFIG = {
    "us-west-2": """\
  fraud-scoring:database_subnet_group: vectors-private
  fraud-scoring:database_security_group_ids:
    - sg-0123456789abcdef0
""",
    "us-east-1": """\
  fraud-scoring:database_subnet_group: vectors-private
  fraud-scoring:database_security_group_ids:
    - sg-0123456789abcdef0
  fraud-scoring:database_master_password:
    secure: AAABAJ4Xy4c3ZWNyZXQ=
""",
}


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A workloads repository with fraud-scoring rendered and the team's inputs committed, and
    the stand-ins first on PATH."""
    monkeypatch.chdir(tmp_path)
    shutil.copytree(ROOT / "examples" / "fraud-scoring", "workloads/fraud-scoring")
    subprocess.run(
        [BIN / "drgen", "render", "workloads/", "-o", "stacks"], check=True, capture_output=True
    )
    for stack, text in TEAM_CONFIG.items():
        path = Path(f"stacks/fraud-scoring/Pulumi.{stack}.yaml")
        path.write_text(path.read_text() + text)
    stand_ins = tmp_path / "bin"
    stand_ins.mkdir()
    for name, text in (("pulumi", STAND_IN_PULUMI), ("python3", STAND_IN_PYTHON3)):
        (stand_ins / name).write_text(text.format(python=sys.executable))
        (stand_ins / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{stand_ins}{os.pathsep}{BIN}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("STANDIN_LOG", str(tmp_path / "calls.jsonl"))
    monkeypatch.setenv("STANDIN_STATE", str(tmp_path / "state.json"))
    return tmp_path


def deploy(command: str) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
    log = Path(os.environ["STANDIN_LOG"])
    log.unlink(missing_ok=True)
    result = subprocess.run(
        [sys.executable, str(CI / "deploy.py"), command, "--stacks", "stacks", WORKLOAD],
        capture_output=True,
        text=True,
        check=False,
    )
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return result, calls


def pulumi_calls(calls: list[dict[str, Any]]) -> list[str]:
    return [
        " ".join(c["args"]).replace(" --non-interactive", "")
        + (f"  {json.dumps(c['config'])}" if "config" in c else "")
        for c in calls
        if "project" in c
    ]


SETUP = [
    "stack select us-west-2 --create",
    "stack select us-east-1 --create",
    "config --json --stack us-west-2",
    "config --json --stack us-east-1",
]
DEPLOYED = '{"fraud-scoring:peer_deployed": "true"}'


def test_the_first_deployment_bootstraps_then_later_ones_run_the_update_order(repo: Path) -> None:
    first, first_calls = deploy("up")
    later, later_calls = deploy("up")

    assert first.returncode == 0, first.stderr
    venv = "stacks/fraud-scoring/venv"
    assert [c["args"] for c in first_calls if "project" not in c] == [
        ["python3", "-m", "venv", venv],
        [
            "python",
            "-m",
            "pip",
            "install",
            "--quiet",
            "-r",
            "stacks/fraud-scoring/requirements.txt",
        ],
    ]
    assert pulumi_calls(first_calls) == [
        *SETUP,
        "stack history --json --page-size 100 --stack us-east-1",
        "config set peer_deployed false --stack us-west-2",
        'up --yes --stack us-west-2  {"fraud-scoring:peer_deployed": "false"}',
        "config set peer_deployed true --stack us-east-1",
        f"up --yes --stack us-east-1  {DEPLOYED}",
        "config set peer_deployed true --stack us-west-2",
        f"up --yes --stack us-west-2  {DEPLOYED}",
    ]
    assert later.returncode == 0, later.stderr
    assert pulumi_calls(later_calls) == [
        *SETUP,
        "stack history --json --page-size 100 --stack us-east-1",
        "config set peer_deployed true --stack us-west-2",
        f"up --yes --stack us-west-2  {DEPLOYED}",
        "config set peer_deployed true --stack us-east-1",
        f"up --yes --stack us-east-1  {DEPLOYED}",
    ]
    # The team's committed inputs are still there, untouched by the sequence's config sets.
    east = yaml.safe_load((repo / "stacks/fraud-scoring/Pulumi.us-east-1.yaml").read_text())
    assert east["config"]["fraud-scoring:database_master_password"] == {
        "secure": "AAABAJ4Xy4c3ZWNyZXQ="
    }


def test_a_first_deployment_that_failed_midway_is_run_again_from_its_start(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STANDIN_FAIL_UP", "us-east-1")
    failed, _ = deploy("up")
    monkeypatch.delenv("STANDIN_FAIL_UP")
    again, calls = deploy("up")

    assert failed.returncode == 1 and "up --yes --stack us-east-1" in failed.stderr
    assert again.returncode == 0, again.stderr
    ups = [line for line in pulumi_calls(calls) if line.startswith("up ")]
    assert ups == [
        'up --yes --stack us-west-2  {"fraud-scoring:peer_deployed": "false"}',
        f"up --yes --stack us-east-1  {DEPLOYED}",
        f"up --yes --stack us-west-2  {DEPLOYED}",
    ]


def test_a_missing_input_stops_before_anything_deploys(repo: Path) -> None:
    path = repo / "stacks/fraud-scoring/Pulumi.us-east-1.yaml"
    path.write_text(
        path.read_text().replace("  fraud-scoring:database_master_password:\n", "  x:\n")
    )

    result, calls = deploy("up")

    assert result.returncode == 1
    assert "us-east-1: database_master_password" in result.stderr
    assert not any(c["args"][0] == "up" for c in calls)


def test_a_preview_runs_once_per_stack_with_its_first_steps_config(repo: Path) -> None:
    result, calls = deploy("preview")

    assert result.returncode == 0, result.stderr
    assert pulumi_calls(calls) == [
        *SETUP,
        "stack history --json --page-size 100 --stack us-east-1",
        "config set peer_deployed false --stack us-west-2",
        'preview --diff --stack us-west-2  {"fraud-scoring:peer_deployed": "false"}',
        "config set peer_deployed true --stack us-east-1",
        f"preview --diff --stack us-east-1  {DEPLOYED}",
    ]


def test_the_readme_says_what_the_stand_in_verified() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Deploying from CI") :]

    assert "stand-in" in section and "real account" in section
    # The README's two commands, verbatim: the light install still renders, the test extra
    # still brings everything the tests need.
    assert "pip install -e . && drgen render examples/content-moderation/workload.yaml" in readme
    assert "pip install -e '.[test]' && python -m pytest" in readme
