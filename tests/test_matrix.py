"""Combinations no example covers still render, lint clean and run under mocks.

The examples are the golden contract; these synthetic workloads reach the template branches
they leave out (pgvector and DynamoDB on warm standby, Cloud SQL backups in the secondary,
Firestore cold restore across regions, Weaviate and Bigtable active-active, Qdrant snapshots
from both regions).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from drgen.diff import mock_run
from drgen.plan import resolve
from drgen.render import render
from drgen.write import write_project
from tests.conftest import make_workload
from tests.stacks import BUILT_IN_CONFIG

MATRIX = {
    "aws-warm-pgvector-dynamodb": make_workload(
        1,
        "aws",
        components={
            "vector_store": {"engine": "pgvector"},
            "feature_store": {"engine": "dynamodb"},
        },
    ),
    "aws-active-qdrant": make_workload(
        0, "aws", components={"vector_store": {"engine": "qdrant", "snapshot_every": "5m"}}
    ),
    "gcp-cold-pgvector-firestore": make_workload(
        2,
        "gcp",
        components={
            "vector_store": {"engine": "pgvector"},
            "feature_store": {"engine": "firestore"},
        },
    ),
    "gcp-active-weaviate-bigtable": make_workload(
        0,
        "gcp",
        components={
            "vector_store": {"engine": "weaviate"},
            "feature_store": {"engine": "bigtable"},
        },
    ),
}


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("matrix")
    found = {}
    for case, sourced in MATRIX.items():
        plan = resolve(sourced)
        write_project(render(plan), root / case)
        found[case] = root / case
    return found


@pytest.mark.parametrize("case", sorted(MATRIX))
def test_every_stack_runs_with_valid_inputs_and_reads_what_it_documents(
    case: str, projects: dict[str, Path]
) -> None:
    plan = resolve(MATRIX[case])

    for stack in plan.stacks:
        result = mock_run(projects[case], stack)

        assert result["problems"] == []
        read = set(result["config_read"]) - BUILT_IN_CONFIG
        assert read == set(stack.placeholder_inputs()), stack.name


@pytest.mark.parametrize("case", sorted(MATRIX))
def test_generated_code_is_lint_clean(case: str, projects: dict[str, Path]) -> None:
    for command in (["check", "--quiet", "."], ["format", "--check", "--quiet", "."]):
        completed = subprocess.run(
            [sys.executable, "-m", "ruff", *command],
            cwd=projects[case],
            capture_output=True,
            text=True,
        )
        assert completed.returncode == 0, completed.stdout + completed.stderr
