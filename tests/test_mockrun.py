"""The nested-input validator of drgen.mockrun catches what the mock runtime lets by."""

from __future__ import annotations

import warnings

import pytest

from drgen.mockrun import nested_problems

TOKEN = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"


@pytest.fixture(autouse=True, scope="module")
def _sdk_loaded() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pulumi_aws.s3

        pulumi_aws.s3.Bucket  # noqa: B018  (lazy module: load it while warnings are ignored)


def rule(destination: dict[str, object]) -> dict[str, object]:
    return {"rules": [{"status": "Enabled", "destination": destination}]}


def test_accepts_correct_nested_inputs() -> None:
    inputs = rule(
        {
            "bucket": "arn:aws:s3:::b",
            "replicationTime": {"status": "Enabled", "time": {"minutes": 15}},
        }
    )

    assert nested_problems(TOKEN, inputs) == []


def test_reports_a_misspelled_nested_key() -> None:
    inputs = rule({"bucket": "arn:aws:s3:::b", "replicationTme": {"status": "Enabled"}})

    (problem,) = nested_problems(TOKEN, inputs)

    assert "replicationTme: not a field of BucketReplicationConfigRuleDestinationArgs" in problem


def test_reports_a_missing_required_nested_key() -> None:
    inputs = rule({"bucket": "arn:aws:s3:::b", "replicationTime": {"status": "Enabled"}})

    (problem,) = nested_problems(TOKEN, inputs)

    assert (
        "required field time of BucketReplicationConfigRuleDestinationReplicationTimeArgs"
        " is missing" in problem
    )


def test_reports_a_wrong_scalar_type() -> None:
    inputs = rule(
        {"bucket": "arn:aws:s3:::b", "replicationTime": {"status": True, "time": {"minutes": 15}}}
    )

    (problem,) = nested_problems(TOKEN, inputs)

    assert "status: True is not a string" in problem
