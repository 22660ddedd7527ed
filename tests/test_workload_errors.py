"""Bad workload files: every problem located, explained, reported at once, never a traceback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from drgen.errors import WorkloadError
from drgen.loader import load_workload
from tests.conftest import MINIMAL

GCP_LIVE = """\
name: demo-workload
tier: 1
cloud: gcp
regions:
  primary: us-central1
  secondary: us-east1
endpoint:
  domain: x.example.com
  zone: example.com
  targets: {us-central1: 203.0.113.1, us-east1: 203.0.113.2}
"""


def problems_of(path: Path) -> list[str]:
    with pytest.raises(WorkloadError) as caught:
        load_workload(path)
    return [str(problem) for problem in caught.value.problems]


def test_misspelled_key_suggests_the_right_one(workload_file: Callable[..., Path]) -> None:
    path = workload_file(MINIMAL.replace("tier: 2", "teir: 2"))

    problems = problems_of(path)

    assert "workload.yaml:2:1: teir: unknown key 'teir'; did you mean 'tier'?" in problems
    assert "workload.yaml:1:1: tier: missing required key 'tier'" in problems


def test_nested_misspelling_is_located_at_its_key(workload_file: Callable[..., Path]) -> None:
    path = workload_file(MINIMAL + "components:\n  audit_log:\n    retenton: 7y\n")

    assert problems_of(path) == [
        "workload.yaml:9:5: components.audit_log.retenton: unknown key 'retenton';"
        " did you mean 'retention'?"
    ]


def test_three_mistakes_are_all_reported_with_their_lines(
    workload_file: Callable[..., Path], run_cli: Callable[..., Result]
) -> None:
    path = workload_file(
        """\
        name: demo-workload
        tier: 7
        cloud: aws
        regions:
          primary: us-east-1
          secondary: us-wset-2
        components:
          vector_store: {engine: chroma}
        """
    )

    result = run_cli("validate", str(path))

    assert result.exit_code == 1
    assert "workload.yaml:2:7: tier: Input should be less than or equal to 3" in result.stderr
    assert (
        "workload.yaml:6:14: regions.secondary: 'us-wset-2' is not a region of AWS;"
        " did you mean 'us-west-2'?" in result.stderr
    )
    assert "workload.yaml:8:26: components.vector_store.engine: Input should be" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "workload.yaml:1:1: the file is empty; run `drgen init` for a starter"),
        ("- a\n- b\n", "workload.yaml:1:1: expected a mapping of keys (name:, tier:, ...)"),
        ("name: [unclosed\n", "workload.yaml:2:1: YAML syntax error:"),
        (MINIMAL + "tier: 1\n", "workload.yaml:7:1: tier: duplicate key (first set on line 2)"),
        (
            MINIMAL.replace("us-west-2", "us-east-1"),
            "workload.yaml:6:14: regions.secondary: must differ from primary",
        ),
        (
            MINIMAL.replace("  secondary: us-west-2\n", ""),
            "regions.secondary: required for tier 2: name a recovery region",
        ),
        (
            MINIMAL.replace("tier: 2", "tier: 1"),
            "workload.yaml:1:1: endpoint: required for warm-standby: add endpoint",
        ),
        (
            MINIMAL.replace("cloud: aws", "cloud: gcp"),
            "regions.primary: 'us-east-1' is not a region of GCP; did you mean 'us-east1'?",
        ),
        (MINIMAL + "objectives: {rpo: 15}\n", "objectives.rpo: expected a duration such as"),
        (MINIMAL + "objectives: {rpo: 1mo}\n", "objectives.rpo: months have no fixed length"),
        (
            MINIMAL + "tags: {'aws:owner': me}\n",
            "tags.aws:owner: tag key 'aws:owner': the prefixes aws: and drgen: are reserved",
        ),
        (
            MINIMAL + "components: {feature_store: {engine: bigtable}}\n",
            "components.feature_store.engine: bigtable is not offered on aws; choose one of"
            " dynamodb",
        ),
        (
            MINIMAL + "components: {prompts: {path: ../secrets}}\n",
            "components.prompts.path: '../secrets' must be a folder inside the workload's folder",
        ),
        (
            MINIMAL + "components: {prompts: {path: prompts/}}\n",
            "components.prompts.path: folder 'prompts/' not found next to the workload file",
        ),
        (
            MINIMAL.replace("demo-workload", "a-very-long-workload-name-for-buckets-xx")
            + "naming: {suffix: abcdefgh}\n",
            "name: too long for bucket names",
        ),
        (
            MINIMAL + "components: {vector_store: {engine: qdrant, snapshot_every: 330s}}\n",
            "components.vector_store.snapshot_every: schedulers count in whole minutes",
        ),
        (
            MINIMAL + "components:\n  vector_store:\n    engine: pgvector\n    database: App-DB\n",
            "workload.yaml:10:15: components.vector_store.database: a PostgreSQL database name of"
            " 1-63 lowercase letters, digits and _",
        ),
        (
            MINIMAL + "components: {vector_store: {engine: pgvector, database: cloudsqladmin}}\n",
            "components.vector_store.database: cloudsqladmin is not a database the application"
            " writes",
        ),
        (
            GCP_LIVE.replace("us-east1", "europe-west1"),
            "workload.yaml:6:14: regions.secondary: warm-standby on GCP keeps data in"
            " dual-region buckets",
        ),
        (
            GCP_LIVE.split("endpoint:")[0],
            "endpoint: required for warm-standby: add endpoint with domain, zone and targets"
            " (per region: load balancer IPv4 address)",
        ),
        (
            GCP_LIVE.replace("203.0.113.2", "lb.example.com"),
            "endpoint.targets.us-east1: 'lb.example.com' is not an IPv4 address",
        ),
        (
            GCP_LIVE.replace("us-central1", "asia-east1").replace("us-east1", "asia-southeast1")
            + "components: {feature_store: {engine: firestore}}\n",
            "components.feature_store.engine: warm-standby needs a Firestore multi-region",
        ),
    ],
)
def test_bad_input_gets_one_clear_located_line(
    workload_file: Callable[..., Path], run_cli: Callable[..., Result], text: str, expected: str
) -> None:
    path = workload_file(text)

    result = run_cli("validate", str(path))

    assert result.exit_code == 1
    assert expected in result.stderr
    assert "Traceback" not in result.output


def test_gcp_labels_follow_gcp_rules(workload_file: Callable[..., Path]) -> None:
    path = workload_file(
        MINIMAL.replace("cloud: aws", "cloud: gcp")
        .replace("us-east-1", "us-east1")
        .replace("us-west-2", "us-west1")
        + "tags: {Team: ML}\n"
    )

    problems = problems_of(path)

    assert any("label key 'Team': GCP wants lowercase" in p for p in problems)
    assert any("label 'Team': GCP wants values of lowercase" in p for p in problems)


def test_endpoint_targets_must_match_regions(workload_file: Callable[..., Path]) -> None:
    path = workload_file(
        MINIMAL.replace("tier: 2", "tier: 0")
        + "endpoint:\n  domain: x.example.com\n  zone: example.com\n"
        "  targets: {us-east-1: a.example.com, us-west-1: b.example.com}\n"
    )

    problems = problems_of(path)

    assert any("endpoint.targets: no target for region us-west-2" in p for p in problems)
    assert any(
        "endpoint.targets.us-west-1: us-west-1 is not one of the workload's regions" in p
        for p in problems
    )


def test_cli_misuse_exits_2(run_cli: Callable[..., Result]) -> None:
    result = run_cli("render", "missing.yaml", "-o", "out")

    assert result.exit_code == 2
    assert "does not exist" in result.stderr
