"""`drgen check`: a truthful verdict per component, each resting on a cited figure."""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import Result

from drgen.check import CheckReport, Finding, check
from drgen.figures import figures
from drgen.loader import load_workload
from drgen.plan import resolve
from tests.conftest import EXAMPLES, ROOT, make_workload

TODAY = datetime.date(2026, 11, 29)
workload = make_workload


def finding(report: CheckReport, subject: str) -> Finding:
    return next(f for f in report.findings if f.subject.startswith(subject))


@pytest.mark.parametrize(
    ("tier", "cloud", "extra", "subject", "verdict"),
    [
        # A snapshot an hour cannot give a one-minute RPO.
        (
            0,
            "aws",
            {"components": {"vector_store": {"engine": "qdrant", "snapshot_every": "1h"}}},
            "vector_store",
            "unmet",
        ),
        # 2 TB at the assumed 100 MB/s is about 5.6 hours: more than tier 1's 4 hours.
        (
            1,
            "aws",
            {
                "components": {
                    "vector_store": {"engine": "qdrant", "size_gb": 2000, "snapshot_every": "5m"}
                },
                "objectives": {"rpo": "1h"},
            },
            "vector_store",
            "unmet",
        ),
        # 1 TB is about 2.8 hours: inside 4 hours only if the assumed throughput holds.
        (
            1,
            "aws",
            {
                "components": {
                    "vector_store": {"engine": "qdrant", "size_gb": 1000, "snapshot_every": "5m"}
                },
                "objectives": {"rpo": "1h"},
            },
            "vector_store",
            "at-risk",
        ),
        # Cold restore forced on tier 0: rebuilding serving capacity takes hours.
        (0, "aws", {"pattern": "cold-restore"}, "serving", "unmet"),
        (0, "aws", {}, "serving", "met"),
        (0, "aws", {"components": {"vector_store": {"engine": "pgvector"}}}, "vector_store", "met"),
        (
            0,
            "aws",
            {"components": {"feature_store": {"engine": "dynamodb"}}},
            "feature_store",
            "met",
        ),
        # RTC: seconds as a rule, 15 minutes guaranteed. A 1m RPO holds only as a rule.
        (0, "aws", {}, "models", "at-risk"),
        (1, "aws", {}, "models", "met"),
        (2, "aws", {"components": {"vector_store": {"engine": "pgvector"}}}, "vector_store", "met"),
        # AWS Backup runs at most hourly: a 30m RPO needs a live pattern.
        (
            2,
            "aws",
            {"components": {"vector_store": {"engine": "pgvector"}}, "objectives": {"rpo": "30m"}},
            "vector_store",
            "unmet",
        ),
        # GCS turbo replication guarantees 15 minutes, and nothing better.
        (0, "gcp", {}, "models", "unmet"),
        (1, "gcp", {}, "models", "met"),
        # Cloud SQL backups are daily: a 4h RPO needs a replica.
        (
            2,
            "gcp",
            {"components": {"vector_store": {"engine": "pgvector"}}},
            "vector_store",
            "unmet",
        ),
        (1, "gcp", {"components": {"vector_store": {"engine": "pgvector"}}}, "vector_store", "met"),
        (
            2,
            "gcp",
            {"components": {"feature_store": {"engine": "bigtable"}}},
            "feature_store",
            "unmet",
        ),
        (
            1,
            "gcp",
            {"components": {"feature_store": {"engine": "firestore"}}},
            "feature_store",
            "met",
        ),
        (2, "gcp", {}, "audit_log", "met"),
        (2, "aws", {}, "audit_log", "met"),
        (1, "aws", {"components": {"prompts": {"path": "prompts"}}}, "prompts", "met"),
        # Snapshots every 5 minutes still wait up to 15 for turbo replication.
        (
            0,
            "gcp",
            {"components": {"vector_store": {"engine": "weaviate", "snapshot_every": "5m"}}},
            "vector_store",
            "unmet",
        ),
    ],
)
def test_component_verdicts(
    tier: int, cloud: str, extra: dict[str, Any], subject: str, verdict: str
) -> None:
    report = check(resolve(workload(tier, cloud, **extra)), TODAY)

    assert finding(report, subject).verdict == verdict, finding(report, subject).basis


def test_tier_3_gaps_are_risks_not_failures() -> None:
    data = workload(3, "gcp", components={"feature_store": {"engine": "bigtable"}})

    report = check(resolve(data), TODAY)

    assert finding(report, "feature_store").verdict == "at-risk"


@pytest.mark.parametrize(
    ("deprecation", "verdict", "words"),
    [
        ("2026-10-01", "unmet", "retired on 2026-10-01 (59 days ago)"),
        ("2027-01-15", "at-risk", "retires on 2027-01-15, in 47 days"),
        ("2027-06-30", "met", "retires on 2027-06-30, in 213 days"),
    ],
)
def test_vendor_retirement_dates(deprecation: str, verdict: str, words: str) -> None:
    vendors = [
        {"name": "openai", "model": "gpt-4o", "role": "primary", "deprecation": deprecation},
        {"name": "anthropic", "model": "claude-sonnet", "role": "alternate"},
    ]

    report = check(resolve(workload(1, vendors=vendors)), TODAY)

    vendor = finding(report, "vendor openai")
    assert vendor.verdict == verdict
    assert words in vendor.basis


@pytest.mark.parametrize(("tier", "verdict"), [(0, "unmet"), (1, "unmet"), (2, "at-risk")])
def test_a_primary_vendor_without_any_fallback(tier: int, verdict: str) -> None:
    vendors = [{"name": "openai", "model": "gpt-4o", "role": "primary"}]

    report = check(resolve(workload(tier, vendors=vendors)), TODAY)

    assert finding(report, "vendor openai").verdict == verdict
    assert "no alternate vendor and no degraded_mode" in finding(report, "vendor").basis


def test_a_degraded_mode_is_a_fallback() -> None:
    vendors = [{"name": "openai", "model": "gpt-4o", "role": "primary"}]

    report = check(resolve(workload(0, vendors=vendors, degraded_mode="rules")), TODAY)

    assert finding(report, "vendor openai").verdict == "met"


def test_the_deprecation_window_is_configurable() -> None:
    vendors = [
        {"name": "openai", "model": "gpt-4o", "role": "primary", "deprecation": "2027-06-30"}
    ]
    plan = resolve(workload(2, vendors=vendors, degraded_mode="human"))

    wide = check(plan, TODAY, datetime.timedelta(days=365))

    assert finding(wide, "vendor").verdict == "at-risk"


def test_every_figure_has_a_source_and_every_one_is_cited() -> None:
    cited: set[str] = set()
    plans = [resolve(load_workload(p)) for p in EXAMPLES] + [
        resolve(workload(t, c, **extra))
        for t in range(4)
        for c in ("aws", "gcp")
        for extra in (
            {"components": {"vector_store": {"engine": "pgvector"}, "prompts": None}},
            {
                "components": {
                    "feature_store": {"engine": "dynamodb" if c == "aws" else "firestore"}
                }
            },
        )
    ]
    for plan in plans:
        for f in check(plan, TODAY).findings:
            cited |= set(f.cites)

    for figure in figures().values():
        assert figure.source and figure.url.startswith("https://"), figure.id
    assert cited == set(figures())


def test_check_exits_1_when_an_objective_is_unmet(run_cli: Callable[..., Result]) -> None:
    catalog = next(p for p in EXAMPLES if p.parent.name == "catalog-search")

    result = run_cli("check", str(catalog), "--today", "2026-11-29")

    assert result.exit_code == 1
    assert "feature_store (bigtable)" in result.output and "unbounded" in result.output
    assert "objectives not met: catalog-search" in result.stderr


def test_check_exits_0_when_every_objective_is_met(run_cli: Callable[..., Result]) -> None:
    contract = next(p for p in EXAMPLES if p.parent.name == "contract-review")

    result = run_cli("check", str(contract), "--today", "2026-11-29")

    assert result.exit_code == 0, result.output
    assert ": met" in result.output
    assert "source: https://docs.aws.amazon.com/aws-backup/" in result.output


def test_check_json_and_drills(run_cli: Callable[..., Result]) -> None:
    fraud = next(p for p in EXAMPLES if p.parent.name == "fraud-scoring")

    result = run_cli("check", str(fraud), "--json", "--drills", "--today", "2027-05-01")

    (report,) = json.loads(result.output)
    assert report["verdict"] == "at-risk"
    vendor = next(f for f in report["findings"] if f["subject"].startswith("vendor openai"))
    assert vendor["verdict"] == "at-risk"  # gpt-4o retires 2027-06-30, inside 90 days
    kinds = {(d["cadence"], d["kind"]) for d in report["drills"]}
    assert kinds == {
        ("quarterly", "tabletop"),
        ("semi-annual", "partial restore"),
        ("annual", "full failover"),
    }


def test_every_example_has_a_runbook_with_its_checks_and_drills() -> None:
    # The golden test compares each RUNBOOK.md byte for byte; this checks what it must hold.
    for example in EXAMPLES:
        plan = resolve(load_workload(example))

        text = (ROOT / "stacks" / plan.workload / "RUNBOOK.md").read_text()

        assert f"# Runbook: {plan.workload}" in text
        for f in check(plan, TODAY).findings:
            if not f.subject.startswith("vendor"):
                assert f"| {f.subject} |" in text
        assert "tabletop" in text
