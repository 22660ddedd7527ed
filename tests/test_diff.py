"""`drgen diff` and `drgen render --check`: what a workload change does, without a cloud."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from drgen.diff import ResourceChange, Side, compare
from drgen.plan import StackPlan
from tests.conftest import ROOT

Cli = Callable[..., Result]
BUCKET = "aws:s3/bucket:Bucket"
WARM = """\
name: diff-demo
tier: 1
cloud: aws
regions:
  primary: us-east-1
  secondary: us-west-2
components:
  audit_log:
    retention: 7y
endpoint:
  domain: demo.example.com
  zone: example.com
  targets: {us-east-1: a.example.com, us-west-2: b.example.com}
"""
DIFF_CASE = ROOT / "tests" / "goldens" / "diff-retention"
"""base/ and head/ workloads and the expected Markdown diff (refresh: tests/refresh_stacks.py)."""


def changes_in(result: Result, stack: str) -> dict[tuple[str, str], dict[str, object]]:
    (workload,) = json.loads(result.output)
    (found,) = [s for s in workload["stacks"] if s["name"] == stack]
    return {(r["type"], r["name"]): r for r in found["resources"]}


# Pure comparison


def side(name: str = "w") -> Side:
    return Side(label=name, plan=None)


def test_a_renamed_bucket_is_a_replacement_that_destroys_state() -> None:
    before = {"s": {(BUCKET, "models"): {"bucket": "a-models", "tags": {"k": "v"}}}}
    after = {"s": {(BUCKET, "models"): {"bucket": "b-models", "tags": {"k": "v"}}}}

    diff = compare(side(), side(), before, after)

    ((stack, change),) = diff.destroys_state
    assert stack == "s"
    assert change.replaces == ("bucket",)
    assert [(p.path, p.before, p.after) for p in change.changes] == [
        ("bucket", "a-models", "b-models")
    ]


def test_a_tag_change_on_a_bucket_destroys_nothing() -> None:
    before = {"s": {(BUCKET, "models"): {"bucket": "a", "tags": {"tier": "1"}}}}
    after = {"s": {(BUCKET, "models"): {"bucket": "a", "tags": {"tier": "0"}}}}

    diff = compare(side(), side(), before, after)

    (stack,) = diff.stacks
    (change,) = stack.resources
    assert change == ResourceChange("changed", BUCKET, "models", change.changes, (), True)
    assert [p.path for p in change.changes] == ["tags.tier"]
    assert diff.destroys_state == ()


def test_policy_documents_are_compared_statement_by_statement() -> None:
    policy = {"Statement": [{"Effect": "Allow", "Resource": ["arn:aws:s3:::a/*"]}]}
    moved = {"Statement": [{"Effect": "Allow", "Resource": ["arn:aws:s3:::b/*"]}]}
    token = "aws:iam/rolePolicy:RolePolicy"

    diff = compare(
        side(),
        side(),
        {"s": {(token, "p"): {"policy": json.dumps(policy)}}},
        {"s": {(token, "p"): {"policy": json.dumps(moved)}}},
    )

    (change,) = diff.stacks[0].resources
    assert [p.path for p in change.changes] == ["policy.Statement[0].Resource"]


def test_changes_to_locks_that_only_tighten_are_flagged_as_refused() -> None:
    bucket = "gcp:storage/bucket:Bucket"
    locked = {"name": "a", "retentionPolicy": {"retentionPeriod": "864000", "isLocked": True}}
    shorter = {"name": "a", "retentionPolicy": {"retentionPeriod": "86400", "isLocked": True}}
    longer = {"name": "a", "retentionPolicy": {"retentionPeriod": "8640000", "isLocked": True}}

    shortened = compare(
        side(), side(), {"s": {(bucket, "audit"): locked}}, {"s": {(bucket, "audit"): shorter}}
    )
    lengthened = compare(
        side(), side(), {"s": {(bucket, "audit"): locked}}, {"s": {(bucket, "audit"): longer}}
    )

    ((_, refused),) = shortened.refused
    assert refused.refused == (
        "a locked retention policy can only grow; Cloud Storage refuses to shorten it"
    )
    assert lengthened.refused == ()


def test_a_removed_stack_removes_its_stateful_resources() -> None:
    before = {"p": {}, "old": {(BUCKET, "models"): {"bucket": "x"}}}
    after = {"p": {}, "new": {(BUCKET, "models"): {"bucket": "y"}}}

    diff = compare(side(), side(), before, after)

    statuses = {s.name: s.status for s in diff.stacks}
    assert statuses == {"p": "unchanged", "old": "removed", "new": "added"}
    assert [(stack, c.kind) for stack, c in diff.destroys_state] == [("old", "removed")]


# End to end: render both sides, run every stack under mocks


def test_tier_1_to_tier_0_adds_the_reverse_replication_and_latency_routing(
    workload_file: Callable[..., Path], run_cli: Cli
) -> None:
    base = workload_file(WARM, "base/workload.yaml")
    head = workload_file(WARM.replace("tier: 1", "tier: 0"), "head/workload.yaml")

    result = run_cli("diff", str(base), str(head), "--format", "json")

    assert result.exit_code == 0, result.output
    (workload,) = json.loads(result.output)
    plan = {c["path"]: (c["before"], c["after"]) for c in workload["plan"]}
    assert plan["pattern"] == ("warm-standby", "active-active")
    assert plan["objectives.rpo"] == ("15m", "1m")
    # The effective RPO/RTO, as drgen check judges it: RTC's 15 minutes no longer suffice.
    assert plan["achievable.models"] == (
        "RPO 1m typ., 15m max, RTO 0s: met",
        "RPO 1m typ., 15m max, RTO 0s: at-risk",
    )
    secondary = changes_in(result, "us-west-2")
    added = {key for key, r in secondary.items() if r["kind"] == "added"}
    assert added == {
        ("aws:s3/bucketReplicationConfig:BucketReplicationConfig", "models-replication"),
        ("aws:s3/bucketReplicationConfig:BucketReplicationConfig", "audit-replication"),
        ("aws:iam/role:Role", "models-replication-role"),
        ("aws:iam/rolePolicy:RolePolicy", "models-replication-policy"),
        ("aws:iam/role:Role", "audit-replication-role"),
        ("aws:iam/rolePolicy:RolePolicy", "audit-replication-policy"),
        ("aws:cloudwatch/metricAlarm:MetricAlarm", "models-replication-latency"),
        ("aws:cloudwatch/metricAlarm:MetricAlarm", "models-replication-failures"),
        ("aws:cloudwatch/metricAlarm:MetricAlarm", "audit-replication-latency"),
        ("aws:cloudwatch/metricAlarm:MetricAlarm", "audit-replication-failures"),
    }
    record = secondary[("aws:route53/record:Record", "endpoint-record")]
    assert {c["path"] for c in record["changes"]} == {
        "failoverRoutingPolicies",
        "latencyRoutingPolicies",
    }
    assert workload["destroys_state"] == []


def test_longer_retention_changes_the_locks_and_is_golden_as_markdown(
    run_cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    base, head = (DIFF_CASE.relative_to(ROOT) / side / "workload.yaml" for side in ("base", "head"))

    result = run_cli("diff", str(base), str(head), "--format", "markdown")

    assert result.exit_code == 0
    expected = (DIFF_CASE / "diff.md").read_text(encoding="utf-8")
    assert result.output == expected, "refresh with: python tests/refresh_stacks.py"
    changed = {
        line.split("`")[1] for line in result.output.splitlines() if line.startswith("| ~ |")
    }
    assert changed == {
        "audit-object-lock",
        "audit-lifecycle",
        "audit-backups-vault-lock",
        "audit-backups-plan",
    }
    assert "STATEFUL" not in result.output
    # Vault Lock is immutable after its cooling-off: the reviewer learns it before the apply.
    assert result.output.count("> **CANNOT APPLY**: `audit-backups-vault-lock`") == 2


def test_moving_the_secondary_region_removes_its_buckets_loudly(
    workload_file: Callable[..., Path], run_cli: Cli
) -> None:
    base = workload_file(WARM, "base/workload.yaml")
    head = workload_file(WARM.replace("us-west-2", "us-west-1"), "head/workload.yaml")

    result = run_cli("diff", str(base), str(head), "--format", "json", "--exit-code")

    assert result.exit_code == 1
    (workload,) = json.loads(result.output)
    statuses = {s["name"]: s["status"] for s in workload["stacks"]}
    assert statuses == {"us-east-1": "changed", "us-west-1": "added", "us-west-2": "removed"}
    destroyed = {(d["stack"], d["type"], d["name"]) for d in workload["destroys_state"]}
    assert (("us-west-2", BUCKET, "models")) in destroyed
    assert (("us-west-2", BUCKET, "audit")) in destroyed
    assert (("us-west-2", "aws:kms/key:Key", "data-key")) in destroyed


def test_moving_a_gcp_dual_region_replaces_the_buckets(
    workload_file: Callable[..., Path], run_cli: Cli
) -> None:
    gcp = (
        WARM.replace("cloud: aws", "cloud: gcp")
        .replace("us-east-1", "us-central1")
        .replace("us-west-2", "us-east1")
        .replace("a.example.com", "203.0.113.1")
        .replace("b.example.com", "203.0.113.2")
    )
    base = workload_file(gcp, "base/workload.yaml")
    head = workload_file(gcp.replace("us-east1", "us-west1"), "head/workload.yaml")

    result = run_cli("diff", str(base), str(head))

    assert result.exit_code == 0
    assert "!! REPLACES STATEFUL RESOURCE: models in us-central1" in result.output
    assert "customPlacementConfig.dataLocations" in result.output


def test_no_change_exits_0_even_with_exit_code(
    workload_file: Callable[..., Path], run_cli: Cli
) -> None:
    path = workload_file(WARM)

    result = run_cli("diff", str(path), str(path), "--exit-code")

    assert result.exit_code == 0
    assert "no changes" in result.output


# Git revisions


def git(folder: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.email=ci@example.com", "-c", "user.name=ci", *args],
        cwd=folder,
        check=True,
        capture_output=True,
    )


def test_base_revision_is_read_from_git(
    workload_file: Callable[..., Path], run_cli: Cli, tmp_path: Path
) -> None:
    path = workload_file(WARM)
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-qm", "base")
    path.write_text(WARM.replace("retention: 7y", "retention: 10y"))

    result = run_cli("diff", "--base", "HEAD", str(path), "--exit-code")

    assert result.exit_code == 1
    assert "diff-demo: workload.yaml@HEAD -> workload.yaml" in result.output
    assert 'audit_retention: "7y" -> "10y"' in result.output


def test_a_workload_new_since_the_base_revision_adds_everything(
    workload_file: Callable[..., Path], run_cli: Cli, tmp_path: Path
) -> None:
    workload_file("unrelated: file\n", "README.yaml")
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-qm", "before the workload")
    path = workload_file(WARM)

    result = run_cli("diff", "--base", "HEAD", str(path), "--format", "json")

    (workload,) = json.loads(result.output)
    assert {s["status"] for s in workload["stacks"]} == {"added"}


def test_a_link_committed_at_the_base_is_refused_not_read_as_a_prompt(
    workload_file: Callable[..., Path], run_cli: Cli, tmp_path: Path
) -> None:
    # A link in git is a blob holding its target's path; writing that blob as a file would
    # deploy the path as a prompt. Checked out as a link, the loader refuses it (issue 11).
    path = workload_file(WARM.replace("components:\n", "components:\n  prompts: {path: prompts}\n"))
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "system.txt").write_text("be careful\n")
    (tmp_path / "prompts" / "link.txt").symlink_to("../../outside/credentials")
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-qm", "base with a link")
    (tmp_path / "prompts" / "link.txt").unlink()

    result = run_cli("diff", "--base", "HEAD", str(path))

    assert result.exit_code == 2
    assert "link.txt" in result.output
    assert "symbolic link" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--base", "no-such-rev"), "unknown git revision 'no-such-rev'"),
        ((), "give BASE and HEAD workload files, or --base REV"),
    ],
)
def test_diff_errors_exit_2(
    workload_file: Callable[..., Path],
    run_cli: Cli,
    tmp_path: Path,
    args: tuple[str, ...],
    message: str,
) -> None:
    path = workload_file(WARM)
    git(tmp_path, "init", "-q")

    result = run_cli("diff", *args, str(path))

    assert result.exit_code == 2
    assert message in result.stderr


# render --check


def test_render_check_passes_on_a_fresh_render_and_fails_on_drift(
    workload_file: Callable[..., Path], run_cli: Cli
) -> None:
    path = workload_file(WARM)
    run_cli("render", str(path), "-o", "out")

    clean = run_cli("render", "--check", str(path), "-o", "out")
    Path("out/diff-demo/settings.py").write_text("# edited\n")
    path.write_text(WARM.replace("tier: 1", "tier: 0"))
    drifted = run_cli("render", "--check", str(path), "-o", "out")

    assert clean.exit_code == 0
    assert "up to date" in clean.output
    assert drifted.exit_code == 1
    assert "+++ out/diff-demo/settings.py" in drifted.output
    assert '+PATTERN = "active-active"' in drifted.output
    assert "out of date: out/diff-demo" in drifted.stderr
    assert Path("out/diff-demo/settings.py").read_text() == "# edited\n"  # nothing written


def test_render_check_of_a_missing_project_lists_every_file(
    workload_file: Callable[..., Path], run_cli: Cli
) -> None:
    path = workload_file(WARM)

    result = run_cli("render", "--check", str(path), "-o", "out")

    assert result.exit_code == 1
    assert "--- /dev/null\n+++ out/diff-demo/__main__.py" in result.output
    assert not Path("out").exists()


# Cost follows the change


def test_byte_identical_renders_are_unchanged_without_a_mock_run(
    workload_file: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from drgen import diff
    from drgen.sources import side_from_file

    path = workload_file(WARM)
    ran: list[str] = []
    monkeypatch.setattr(diff, "run_stacks", lambda runs: ran.append(f"{len(runs)} stacks"))

    result = diff.diff_workload(side_from_file(path), side_from_file(path))

    assert ran == []
    assert not result.has_changes
    assert [(s.name, s.status) for s in result.stacks] == [
        ("us-east-1", "unchanged"),
        ("us-west-2", "unchanged"),
    ]


def test_a_changed_workload_runs_both_sides_stacks(
    workload_file: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from drgen import diff
    from drgen.sources import side_from_file

    base = workload_file(WARM, "base.yaml")
    head = workload_file(WARM.replace("retention: 7y", "retention: 8y"), "head.yaml")
    ran: list[str] = []

    def record(runs: list[tuple[Path, StackPlan]]) -> list[dict[object, object]]:
        ran.extend(stack.name for _, stack in runs)
        return [{} for _ in runs]

    monkeypatch.setattr(diff, "run_stacks", record)

    diff.diff_workload(side_from_file(base), side_from_file(head))

    assert sorted(ran) == ["us-east-1", "us-east-1", "us-west-2", "us-west-2"]


def test_forked_runs_declare_what_one_interpreter_per_stack_declares() -> None:
    # The fork server must be indistinguishable from a fresh interpreter per stack, for both
    # clouds and for two projects that share module names (settings, storage, ...).
    from drgen.diff import _declared, mock_run, run_stacks
    from tests.stacks import stack_plan

    runs = [
        (ROOT / "stacks" / project, stack_plan(ROOT / "stacks" / project, stack))
        for project, stack in (
            ("fraud-scoring", "us-east-1"),
            ("patient-triage", "europe-west4"),
            ("claims-triage", "eu-west-2"),
        )
    ]

    assert run_stacks(runs) == [_declared(mock_run(project, stack)) for project, stack in runs]
