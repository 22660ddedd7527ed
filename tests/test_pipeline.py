"""The pipeline wiring shipped in the repository does what its documentation says."""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable

import pytest
import yaml
from click.testing import Result

from tests.conftest import EXAMPLES, ROOT

WORKFLOW = ROOT / "examples" / "ci" / "drgen.yml"
DEPLOY_ORDER_JQ = ".stacks | sort_by(.deploy_order) | .[].name"


def test_the_pre_commit_hook_passes_on_the_committed_stacks(
    run_cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    program, *command = shlex.split(hook["entry"])
    monkeypatch.chdir(ROOT)

    result = run_cli(*command, *hook["args"], *(str(p.relative_to(ROOT)) for p in EXAMPLES))

    assert program == "drgen"
    assert result.exit_code == 0, result.output
    assert "up to date" in result.output


def steps_of(job: str) -> str:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    return "\n".join(step.get("run", "") for step in workflow["jobs"][job]["steps"])


def test_the_review_job_checks_diffs_and_previews() -> None:
    review = steps_of("review")

    assert 'drgen render --check $WORKLOADS -o "$STACKS"' in review
    assert "drgen diff --base" in review and "--format markdown" in review
    assert "gh pr comment" in review
    assert "pulumi preview --diff" in review and DEPLOY_ORDER_JQ in review


def test_the_deploy_job_runs_pulumi_up_in_deploy_order(run_cli: Callable[..., Result]) -> None:
    deploy = steps_of("deploy")
    plan = json.loads(
        run_cli("plan", str(ROOT / "examples/fraud-scoring/workload.yaml"), "--json").output
    )

    # The jq program the workflow uses, evaluated on a real plan: the secondary goes first.
    ordered = [s["name"] for s in sorted(plan["stacks"], key=lambda s: s["deploy_order"])]

    assert "pulumi up --yes" in deploy and DEPLOY_ORDER_JQ in deploy
    assert ordered == ["us-west-2", "us-east-1"]
