"""README's "Permissions the drill needs" grants every call the pgvector cloud drills make.

The calls come from `drgen drill --dry-run`, which lists every call a run can make (the drill
tests hold that a run makes no call the dry-run does not list), so the README's policy and the
code cannot drift apart.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.conftest import ROOT

SECTION = "### Permissions the drill needs"
NO_PERMISSION = {"sts:GetCallerIdentity"}
""""No permissions are required to perform this operation."
(https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html)"""


def _section() -> str:
    readme = (ROOT / "README.md").read_text()
    assert SECTION in readme
    return readme.split(SECTION, 1)[1].split("\n## ", 1)[0]


def _policy() -> list[dict[str, Any]]:
    block = re.search(r"```json\n(.*?)\n```", _section(), re.S)
    assert block, "the AWS policy is a JSON block"
    statements: list[dict[str, Any]] = json.loads(block.group(1))["Statement"]
    return statements


def _listed(run_cli: Any, example: str) -> set[tuple[str, str]]:
    """(service, operation) of every call the dry-run lists for the vector store."""
    path = ROOT / "examples" / example / "workload.yaml"
    result = run_cli("drill", str(path), "--component", "vector_store", "--dry-run")
    assert result.exit_code == 0, result.output
    calls = set()
    for line in result.output.splitlines():
        if line.startswith("  ") and line.rstrip().endswith("]"):
            service, operation = line.split()[:2]
            calls.add((service, operation))
    return calls


def _as_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


@pytest.mark.parametrize("example", ["fraud-scoring", "contract-review"])
def test_every_aws_call_of_the_pgvector_drill_is_granted(run_cli: Any, example: str) -> None:
    granted = {a for s in _policy() for a in _as_list(s["Action"]) if s["Effect"] == "Allow"}
    calls = _listed(run_cli, example)
    assert ("backup", "StartRestoreJob") in calls  # the cloud restore is what was listed
    needed = {f"{service}:{op}" for service, op in calls if service != "postgresql"}
    assert needed - NO_PERMISSION <= granted, sorted(needed - NO_PERMISSION - granted)


def test_aws_writes_are_scoped_to_the_scratch_names() -> None:
    for statement in _policy():
        actions = _as_list(statement["Action"])
        if any(a.startswith("rds:Delete") or a == "rds:ModifyDBCluster" for a in actions):
            resources = _as_list(statement["Resource"])
            assert all(":drgen-drill-*" in r for r in resources), statement["Sid"]
        if "iam:PassRole" in actions:
            assert statement["Resource"] != "*"
            assert statement["Condition"]["StringEquals"]["iam:PassedToService"] == (
                "backup.amazonaws.com"
            )
        if "secretsmanager:GetSecretValue" in actions:
            tag = statement["Condition"]["StringLike"]
            assert tag["secretsmanager:ResourceTag/aws:rds:primaryDBClusterArn"].endswith(
                ":cluster:drgen-drill-*"
            )


@pytest.mark.parametrize(
    ("example", "restore"),
    # patient-triage restores a backup; lab-notebooks (a secondary, tier 3) imports its export.
    [("patient-triage", "instances.restoreBackup"), ("lab-notebooks", "instances.import")],
)
def test_every_cloud_sql_call_of_the_pgvector_drill_is_in_the_table(
    run_cli: Any, example: str, restore: str
) -> None:
    rows = [line for line in _section().splitlines() if line.startswith("| ")]
    named = set()
    for row in rows[1:]:
        first = row.split("|")[1]
        named |= {re.sub(r"\s*\(.*?\)", "", name).strip() for name in first.split(",")}
    calls = _listed(run_cli, example)
    assert ("sqladmin", restore) in calls
    needed = {f"{s} {op}" if s == "storage" else op for s, op in calls if s != "postgresql"}
    assert needed <= named, sorted(needed - named)
    assert 'resource.name.startsWith("projects/PROJECT/instances/drgen-drill-")' in _section()
    assert 'resource.name.startsWith("projects/_/buckets/drgen-drill-")' in _section()
