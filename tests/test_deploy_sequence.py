"""One deploy sequence: `drgen plan --json` orders every `pulumi up` from an empty account, and
the generated README's deploy block is exactly that sequence."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from drgen.plan import DeployStep, DrPlan
from tests.conftest import ROOT
from tests.stacks import PROJECTS, plan_of

Ref = tuple[str, ...]


def steps(sequence: tuple[DeployStep, ...]) -> list[tuple[str, dict[str, str]]]:
    return [(step.stack, step.config) for step in sequence]


def test_the_plan_orders_the_bootstrap_of_an_active_active_aurora_workload(
    run_cli: Callable[..., Result],
) -> None:
    result = run_cli("plan", str(ROOT / "examples/fraud-scoring/workload.yaml"), "--json")
    deploy = json.loads(result.output)["deploy"]

    first = [(s["stack"], s["config"]) for s in deploy["first"]]
    update = [(s["stack"], s["config"]) for s in deploy["update"]]

    assert first == [
        ("us-west-2", {"peer_deployed": "false"}),
        ("us-east-1", {"peer_deployed": "true"}),
        ("us-west-2", {"peer_deployed": "true"}),
    ]
    assert update == [
        ("us-west-2", {"peer_deployed": "true"}),
        ("us-east-1", {"peer_deployed": "true"}),
    ]
    assert deploy["first"][1]["inputs"] == [
        "database_subnet_group",
        "database_security_group_ids",
        "database_master_password",
    ]


def test_a_workload_whose_secondary_needs_nothing_of_the_primary_deploys_once_per_stack() -> None:
    plan = plan_of(ROOT / "stacks" / "claims-triage")

    assert plan.secondary_needs_primary is None
    assert plan.deploy.first == plan.deploy.update
    assert [s.role for s in plan.deploy.first] == ["secondary", "primary"]


# Walking the sequence: every cross-region reference a step's program declares must point at
# something an earlier step (or the step itself) created. These are the references a real
# account resolves at create time: S3 replication checks its destination bucket and key alias,
# Aurora checks the global cluster a member joins, Cloud SQL the instance a replica follows,
# DynamoDB the table a replica joins and the key of a replica, Cloud Storage the bucket of an
# IAM grant or a transfer's sink.


@cache
def declared(project: Path, stack: str, config: tuple[tuple[str, str], ...]) -> list[Any]:
    plan = plan_of(project)
    (stack_plan,) = [s for s in plan.stacks if s.name == stack]
    pairs = {**stack_plan.placeholder_inputs(), **dict(config)}
    completed = subprocess.run(
        [sys.executable, "-m", "drgen.mockrun", str(project), stack]
        + [f"{key}={value}" for key, value in pairs.items()],
        capture_output=True,
        text=True,
        check=True,
    )
    resources: list[Any] = json.loads(completed.stdout)["resources"]
    return resources


def provides(resources: list[Any], region: str) -> set[Ref]:
    found: set[Ref] = set()
    for r in resources:
        inputs, token = r["inputs"], r["type"]
        if token == "aws:s3/bucket:Bucket":
            found.add(("bucket", inputs["bucket"]))
        elif token == "gcp:storage/bucket:Bucket":
            found.add(("bucket", inputs["name"]))
        elif token == "aws:kms/alias:Alias":
            found.add(("alias", region, inputs["name"]))
        elif token == "aws:dynamodb/table:Table":
            found.add(("table", region, inputs["name"]))
        elif token == "aws:rds/globalCluster:GlobalCluster":
            found |= {("global", inputs["globalClusterIdentifier"]), ("global", r["id"])}
        elif token == "gcp:sql/databaseInstance:DatabaseInstance":
            found.add(("sql", inputs["name"]))
    return found


def _alias(arn: str) -> Ref:
    _, _, _, region, _, alias = arn.split(":", 5)
    return ("alias", region, alias)


def references(resources: list[Any]) -> Iterator[Ref]:
    for r in resources:
        inputs, token = r["inputs"], r["type"]
        if token == "aws:s3/bucketReplicationConfig:BucketReplicationConfig":
            for rule in inputs["rules"]:
                destination = rule["destination"]
                yield ("bucket", destination["bucket"].removeprefix("arn:aws:s3:::"))
                key = destination.get("encryptionConfiguration", {}).get("replicaKmsKeyId")
                if key and ":alias/" in key:
                    yield _alias(key)
        elif token == "aws:rds/cluster:Cluster" and inputs.get("globalClusterIdentifier"):
            yield ("global", inputs["globalClusterIdentifier"])
        elif token == "aws:dynamodb/tableReplica:TableReplica":
            _, _, _, region, _, table = inputs["globalTableArn"].split(":", 5)
            yield ("table", region, table.removeprefix("table/"))
        elif token == "aws:dynamodb/table:Table":
            for replica in inputs.get("replicas", []):
                if ":alias/" in replica.get("kmsKeyArn", ""):
                    yield _alias(replica["kmsKeyArn"])
        elif token == "gcp:sql/databaseInstance:DatabaseInstance" and inputs.get(
            "masterInstanceName"
        ):
            yield ("sql", inputs["masterInstanceName"])
        elif token in (
            "gcp:storage/bucketIAMMember:BucketIAMMember",
            "gcp:storage/bucketIAMBinding:BucketIAMBinding",
        ):
            yield ("bucket", inputs["bucket"])
        elif token == "gcp:storage/transferJob:TransferJob":
            yield ("bucket", inputs["transferSpec"]["gcsDataSink"]["bucketName"])


def walk(project: Path, sequence: tuple[DeployStep, ...]) -> list[str]:
    """What each `pulumi up` of `sequence` would find missing, starting from an empty account."""
    plan = plan_of(project)
    regions = {s.name: s.region for s in plan.stacks}
    existing: set[Ref] = set()
    missing = []
    for n, step in enumerate(sequence, 1):
        resources = declared(project, step.stack, tuple(sorted(step.config.items())))
        made = provides(resources, regions[step.stack])
        missing += [f"step {n} ({step.stack}) needs {ref}" for ref in references(resources)
                    if ref not in existing | made]  # fmt: skip
        existing |= made
    return missing


@pytest.mark.parametrize("project", PROJECTS, ids=lambda p: p.name)
def test_every_up_of_the_first_deployment_finds_what_it_references(project: Path) -> None:
    plan = plan_of(project)

    assert walk(project, plan.deploy.first) == []


@pytest.mark.parametrize(
    "project",
    [p for p in PROJECTS if plan_of(p).secondary_needs_primary],
    ids=lambda p: p.name,
)
def test_the_first_deployment_ends_where_every_later_one_starts(project: Path) -> None:
    plan = plan_of(project)
    last = {step.stack: step for step in plan.deploy.first}

    for step in plan.deploy.update:
        config = tuple(sorted(step.config.items()))
        assert declared(project, step.stack, config) == declared(
            project, step.stack, tuple(sorted(last[step.stack].config.items()))
        )
    # The sequence is needed: the later-deployment order alone fails on an empty account.
    assert walk(project, plan.deploy.update) != []


# The README's deploy block is the sequence, commands in order


def readme_commands(project: Path, heading: str) -> list[str]:
    text = (project / "README.md").read_text()
    section = text[text.index(heading) :]
    start = section.index("```sh\n") + 6
    block = section[start : section.index("\n```", start)]
    return [line.split("  #")[0] for line in block.splitlines() if line.startswith("pulumi ")]


def expected_commands(plan: DrPlan) -> list[str]:
    commands, created = [], set()
    for step in plan.deploy.first:
        (stack,) = [s for s in plan.stacks if s.name == step.stack]
        if stack.name not in created:
            created.add(stack.name)
            commands.append(f"pulumi stack select {stack.name} --create")
            commands += [
                f"pulumi config set --secret {i.key} --stack {stack.name}"
                if i.secret
                else f"pulumi config set {i.key} '{i.example}' --stack {stack.name}"
                for i in stack.inputs
            ]
        commands += [
            f"pulumi config set {k} {v} --stack {step.stack}" for k, v in step.config.items()
        ]
        commands.append(f"pulumi up --stack {step.stack}")
    return commands


@pytest.mark.parametrize("project", PROJECTS, ids=lambda p: p.name)
def test_the_readme_deploy_block_is_the_plans_first_deployment(project: Path) -> None:
    plan = plan_of(project)

    assert readme_commands(project, "The first deployment") == expected_commands(plan)
    later = readme_commands(project, "Every later deployment")
    assert [c for c in later if c.startswith("pulumi up")] == [
        f"pulumi up --stack {s.stack}" for s in plan.deploy.update
    ]


def test_no_shipped_stack_file_presets_the_bootstrap_flag() -> None:
    # The sequence sets peer_deployed before every `up`; a preset value in a file the team
    # owns would otherwise decide the very first deployment.
    for project in PROJECTS:
        for stack_file in project.glob("Pulumi.*.yaml"):
            assert not re.search(r"peer_deployed", stack_file.read_text()), stack_file
