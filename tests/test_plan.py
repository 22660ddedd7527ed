"""Plan resolution: tier defaults, patterns, building blocks, names, stable JSON."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from drgen.durations import parse_duration
from drgen.loader import SourcedWorkload, load_workload
from drgen.plan import resolve
from drgen.schema import Workload
from tests.conftest import EXAMPLES, make_workload

workload = make_workload


@pytest.mark.parametrize(
    ("tier", "pattern", "rto", "rpo"),
    [
        (0, "active-active", 3600, 60),
        (1, "warm-standby", 4 * 3600, 15 * 60),
        (2, "cold-restore", 3 * 86400, 4 * 3600),
        (3, "cold-restore", None, 86400),
    ],
)
def test_tier_defaults(tier: int, pattern: str, rto: int | None, rpo: int) -> None:
    plan = resolve(workload(tier, "aws"))

    assert plan.pattern == pattern
    assert plan.pattern_source == "tier default"
    assert (plan.objectives.rto_seconds, plan.objectives.rpo_seconds) == (rto, rpo)
    assert plan.objectives.rpo_source == "tier default"


@pytest.mark.parametrize(
    ("tier", "cloud", "pattern"),
    list(
        itertools.product(
            range(4), ("aws", "gcp"), ("active-active", "warm-standby", "cold-restore")
        )
    ),
)
def test_every_tier_cloud_and_pattern_resolves(tier: int, cloud: str, pattern: str) -> None:
    engine = "pgvector"
    features = "dynamodb" if cloud == "aws" else "bigtable"
    sourced = workload(
        tier,
        cloud,
        pattern,
        components={"vector_store": {"engine": engine}, "feature_store": {"engine": features}},
    )

    plan = resolve(sourced)

    assert plan.pattern == pattern
    assert [s.role for s in sorted(plan.stacks, key=lambda s: s.deploy_order)] == [
        "secondary",
        "primary",
    ]
    assert {c.component for c in plan.components} == {
        "models",
        "vector_store",
        "feature_store",
        "audit_log",
    }
    models = plan.component("models")
    assert models is not None
    expected = {
        "active-active": "bidirectional" if cloud == "aws" else "dual-region",
        "warm-standby": "to-secondary" if cloud == "aws" else "dual-region",
        "cold-restore": "to-secondary",
    }[pattern]
    assert models.replication == expected
    assert (plan.routing is not None) == (pattern != "cold-restore")


def test_aws_replication_time_control_follows_the_pattern() -> None:
    live = resolve(workload(1, "aws")).component("models")
    cold = resolve(workload(2, "aws")).component("models")

    assert live is not None and live.params["replication_time_control"] is True
    assert cold is not None and cold.params["replication_time_control"] is False


def test_weaker_pattern_warns_with_the_objective_it_endangers() -> None:
    plan = resolve(workload(0, "aws", "cold-restore"))

    assert plan.warnings == (
        "pattern cold-restore is weaker than tier 0's default active-active: it endangers"
        " RTO 1h (recovery must rebuild the secondary) and RPO 1m (no continuous replication)",
    )
    assert resolve(workload(2, "aws", "active-active")).warnings == ()


def test_single_region_tier_3_deploys_only_the_primary() -> None:
    sourced = SourcedWorkload(
        Workload.model_validate(
            {"name": "sandbox", "tier": 3, "cloud": "aws", "regions": {"primary": "eu-west-1"}}
        ),
        "workload.yaml",
    )

    plan = resolve(sourced)

    assert [s.region for s in plan.stacks] == ["eu-west-1"]
    assert all(c.replication == "none" and c.replicate_from == () for c in plan.components)


def test_names_are_deterministic_and_carry_the_suffix() -> None:
    plan = resolve(workload(1, "aws", naming={"suffix": "x1"}))

    models = plan.component("models")
    assert models is not None
    assert models.names == {
        "us-east-1": "demo-workload-models-us-east-1-x1",
        "us-west-2": "demo-workload-models-us-west-2-x1",
    }


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.parent.name)
def test_plan_json_is_stable_and_round_trips(example: Path) -> None:
    plan = resolve(load_workload(example))

    text = plan.to_json()

    assert text == resolve(load_workload(example)).to_json()
    assert json.loads(text)["workload"] == plan.workload


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("15m", 900),
        ("4h", 14400),
        ("3d", 259200),
        ("2w", 1209600),
        ("7y", 7 * 365 * 86400),
        ("PT15M", 900),
        ("P1DT2H", 93600),
        ("P7Y", 7 * 365 * 86400),
    ],
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["15", "1.5h", "P", "PT", "15 minutes", "P1M"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match=r"duration|months"):
        parse_duration(text)


def test_plan_reads_prompt_files(workload_file: Callable[..., Path]) -> None:
    workload_file("You are careful.\n", "prompts/system.md")
    path = workload_file(
        "name: demo-workload\ntier: 3\ncloud: aws\nregions: {primary: us-east-1}\n"
        "components: {prompts: {path: prompts}}\n"
    )

    plan = resolve(load_workload(path))

    assert [(p.path, p.text) for p in plan.prompt_files] == [("system.md", "You are careful.\n")]
