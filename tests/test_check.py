"""`drgen check`: a truthful verdict per component, each resting on a cited figure."""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import Result

from drgen.check import CheckReport, Estimate, Finding, check
from drgen.figures import Figure, figures
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
        # Writing a 1 TB snapshot takes about 2.8 hours at the assumed rate: no 1h RPO.
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
            "unmet",
        ),
        # Cold restore forced on tier 0: rebuilding serving capacity takes hours.
        (0, "aws", {"pattern": "cold-restore"}, "serving", "unmet"),
        (0, "aws", {}, "serving", "met"),
        (0, "aws", {"components": {"vector_store": {"engine": "pgvector"}}}, "vector_store", "met"),
        # Global tables replicate "typically within a second" with no SLA: a risk, not a bound.
        (
            0,
            "aws",
            {"components": {"feature_store": {"engine": "dynamodb"}}},
            "feature_store",
            "at-risk",
        ),
        # RTC: seconds as a rule, 15 minutes guaranteed. A 1m RPO holds only as a rule.
        (0, "aws", {}, "models", "at-risk"),
        (1, "aws", {}, "models", "met"),
        # Hourly backups + the 1h start window + backup and copy at the assumed rate: about 2h
        # of a 4h RPO, more than half of it.
        (
            2,
            "aws",
            {"components": {"vector_store": {"engine": "pgvector"}}},
            "vector_store",
            "at-risk",
        ),
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
        # Cold restore rests on the hourly exports into the secondary (daily backups need the
        # primary's key): 1h + 10 GB at the assumed 100 MB/s fits a 4h RPO twice over.
        (
            2,
            "gcp",
            {"components": {"vector_store": {"engine": "pgvector"}}},
            "vector_store",
            "met",
        ),
        # A 2 TB database cannot even be exported within the RPO at the assumed rate.
        (
            2,
            "gcp",
            {"components": {"vector_store": {"engine": "pgvector", "size_gb": 2000}}},
            "vector_store",
            "unmet",
        ),
        # A cross-region replica's lag has no bound.
        (
            1,
            "gcp",
            {"components": {"vector_store": {"engine": "pgvector"}}},
            "vector_store",
            "at-risk",
        ),
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
        # Plain CRR: most objects within 15 minutes, no guarantee.
        (2, "aws", {}, "audit_log", "at-risk"),
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


def test_check_exits_0_when_objectives_are_at_risk_but_not_unmet(
    run_cli: Callable[..., Result],
) -> None:
    contract = next(p for p in EXAMPLES if p.parent.name == "contract-review")

    result = run_cli("check", str(contract), "--today", "2026-11-29")

    assert result.exit_code == 0, result.output
    assert ": at-risk" in result.output
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


def estimate(tier: int, cloud: str, subject: str, **extra: Any) -> Finding:
    return finding(check(resolve(workload(tier, cloud, **extra)), TODAY), subject)


def test_aurora_global_is_bounded_only_by_the_managed_rpo_of_active_active_stacks() -> None:
    # rds.global_db_rpo bounds the lag (at least 20 s); the tier-0 stacks set it to the RPO.
    # https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-global-database-disaster-recovery.html
    pgvector = {"vector_store": {"engine": "pgvector"}}
    active = estimate(0, "aws", "vector_store", components=pgvector, objectives={"rpo": "1m"})
    standby = estimate(1, "aws", "vector_store", components=pgvector)

    assert (active.verdict, active.rpo) == ("met", Estimate(60))
    assert "rds.global_db_rpo = 60 s" in active.basis
    assert standby.verdict == "at-risk" and standby.rpo == Estimate(None, typical=1)
    assert standby.cells()[1] == "1s typ., no bound"


def test_the_managed_rpo_counts_only_where_the_stacks_set_it() -> None:
    # A tier-1 workload forced to active-active renders no rds.global_db_rpo (the plan sets it
    # on tier 0 only), so its lag stays unbounded however the pattern reads.
    pgvector = {"vector_store": {"engine": "pgvector"}}
    forced = estimate(1, "aws", "vector_store", components=pgvector, pattern="active-active")

    assert forced.rpo == Estimate(None, typical=1)
    assert "rds.global_db_rpo" not in forced.basis


def test_dynamodb_strong_consistency_needs_three_regions() -> None:
    features = estimate(
        0, "aws", "feature_store", components={"feature_store": {"engine": "dynamodb"}}
    )

    assert "dynamodb_mrsc" in features.cites
    assert "cannot use multi-Region strong consistency" in features.basis


@pytest.mark.parametrize(
    ("size_gb", "verdict", "achievable"),
    [(112, "met", "1m typ., 15m max"), (113, "at-risk", "~1m typ., 15m max")],
)
def test_s3_rtc_sla_holds_only_below_the_default_transfer_rate(
    size_gb: int, verdict: str, achievable: str
) -> None:
    # 1 Gbps moves 112.5 GB in 15 minutes; above that the RTC SLA does not apply.
    # https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-time-control.html
    models = estimate(1, "aws", "models", components={"models": {"size_gb": size_gb}})

    assert models.verdict == verdict, models.basis
    assert models.cells()[1] == achievable


@pytest.mark.parametrize(
    ("rpo", "every_hours", "verdict"), [("2h", 1, "unmet"), ("4h", 1, "at-risk"), ("12h", 4, "met")]
)
def test_aws_backup_rpo_counts_the_start_window_backup_and_copy(
    rpo: str, every_hours: int, verdict: str
) -> None:
    # interval + 60-minute start window + backup + copy (10 GB each way at 100 MB/s).
    plan = resolve(
        workload(
            2, "aws", components={"vector_store": {"engine": "pgvector"}}, objectives={"rpo": rpo}
        )
    )
    vectors = finding(check(plan, TODAY), "vector_store")

    assert plan.component("vector_store").params["backup_every_hours"] == every_hours  # type: ignore[union-attr]
    assert vectors.rpo == Estimate(every_hours * 3600 + 3600 + 200, True)
    assert vectors.verdict == verdict


@pytest.mark.parametrize(
    ("rpo", "verdict"), [("2h", "unmet"), ("3h", "at-risk"), ("1d", "at-risk")]
)
def test_storage_transfer_waits_up_to_two_intervals_plus_the_copy(rpo: str, verdict: str) -> None:
    # A run is skipped while the previous one still runs; 100 GB copy at the assumed rate.
    models = estimate(2, "gcp", "models", objectives={"rpo": rpo})

    assert models.verdict == verdict, models.basis
    assert "a run is skipped while one still runs" in models.basis


@pytest.mark.parametrize(("rpo", "every_hours"), [("1d", 8), ("4h", 1), ("3d", 24)])
def test_cloud_sql_exports_run_three_times_per_rpo(rpo: str, every_hours: int) -> None:
    # Not the daily backups (up to 28 hours apart): they need the primary's key to restore.
    vectors = estimate(
        2,
        "gcp",
        "vector_store",
        components={"vector_store": {"engine": "pgvector", "size_gb": 1}},
        objectives={"rpo": rpo},
    )

    assert vectors.rpo == Estimate(every_hours * 3600 + 10, True)
    assert vectors.verdict == "met"


def test_snapshot_rpo_counts_the_snapshot_duration() -> None:
    vectors = estimate(
        1,
        "gcp",
        "vector_store",
        components={"vector_store": {"engine": "qdrant", "size_gb": 60, "snapshot_every": "15m"}},
        objectives={"rpo": "30m"},
    )

    # 15m cadence + 10m to write 60 GB at 100 MB/s + turbo replication's 15m.
    assert vectors.rpo == Estimate(40 * 60, True)
    assert vectors.verdict == "unmet"


@pytest.mark.parametrize(
    ("engine", "restore_seconds"),
    [
        ("qdrant", 600),  # 60 GB at the assumed 100 MB/s
        ("opensearch", 1432),  # at the default 40 MiB/s recovery throttle
        ("milvus", 600 + 50000),  # files back, then the index rebuilt at 1.2 MB/s
    ],
)
def test_restore_time_depends_on_the_mechanism(engine: str, restore_seconds: int) -> None:
    vectors = estimate(
        1, "aws", "vector_store", components={"vector_store": {"engine": engine, "size_gb": 60}}
    )

    assert vectors.rto == Estimate(restore_seconds, True)


def test_instance_start_follows_a_cluster_restore_but_not_a_table_restore() -> None:
    aurora = estimate(2, "aws", "vector_store", components={"vector_store": {"engine": "pgvector"}})
    table = estimate(
        2, "aws", "feature_store", components={"feature_store": {"engine": "dynamodb"}}
    )

    assert aurora.rto == Estimate(100 + 900, True)  # 10 GB managed restore + the instance
    assert table.rto == Estimate(3600, True)  # "usually less than an hour", no instance
    assert "instance_start" in aurora.cites and "instance_start" not in table.cites


NUMBER_WORDS = {1: ("1", "one", "a", "an"), 0: ("0",)}


def _stated(seconds: int, text: str) -> bool:
    """Whether `text` states `seconds` in one of the forms people write."""
    for unit, size in (("hour", 3600), ("minute", 60), ("second", 1)):
        if seconds % size == 0:
            n = seconds // size
            for word in NUMBER_WORDS.get(n, (str(n),)):
                if re.search(rf"\b{word}[ -]{unit}", text):
                    return True
    return False


@pytest.mark.parametrize("figure", list(figures().values()), ids=lambda f: f.id)
def test_every_figure_states_its_numbers_and_its_basis(figure: Figure) -> None:
    text = " ".join(figure.figure.split())
    for value in (figure.rpo, figure.rpo_typical, figure.rto, figure.rto_typical):
        if value is not None:
            assert _stated(value, text), f"{figure.id}: {value} s is not stated in {text!r}"
    if figure.rate_mb_s is not None:
        assert f"{figure.rate_mb_s:g} MB/s" in text or "1 Gbps" in text, figure.id
    if figure.basis == "published":
        assert not figure.source.startswith("drgen"), figure.id
    if figure.basis == "arithmetic":
        assert figure.source.startswith("drgen's arithmetic on "), figure.id
    if figure.basis == "assumption":
        assert figure.source.startswith("drgen planning assumption"), figure.id
        assert "drgen assumes" in text or "drill" in text or "about" in text, figure.id


def test_bigtable_backups_copied_to_the_secondary_bound_the_rpo() -> None:
    # Automated backups run every 24 hours at a time Bigtable picks
    # (https://cloud.google.com/bigtable/docs/managing-backups); the secondary's job copies the
    # newest every 6 hours (backups:copy). RPO = 24 h + 6 h + the copy, which is not timed
    # without the table's size: an assumption, so at best at-risk; the restore is not timed.
    bigtable = {"feature_store": {"engine": "bigtable"}}
    copied = estimate(2, "gcp", "feature_store", components=bigtable, objectives={"rpo": "3d"})
    one_region = estimate(
        3,
        "gcp",
        "feature_store",
        components=bigtable,
        regions={"primary": "us-west1"},
        endpoint=None,
    )

    assert copied.rpo == Estimate(86400 + 6 * 3600, True)
    assert copied.cites == ("bigtable_backups", "bigtable_backup_copy")
    assert copied.rto == Estimate(None)
    assert copied.verdict == "unmet"  # the restore's duration is unknown
    assert "the copy and the restore are not timed" in copied.basis
    assert one_region.rpo == Estimate(None) and one_region.cites == ("single_region",)


def test_cold_cloud_sql_is_judged_on_the_exports_not_on_backups_that_need_the_primary_key() -> None:
    """A Cloud SQL backup is encrypted with the primary instance's key, which lives in the
    primary's region (https://cloud.google.com/sql/docs/postgres/cmek): the RPO is the export
    interval plus writing the dump; the restore replays it and rebuilds the HNSW index."""
    vectors = {"vector_store": {"engine": "pgvector", "size_gb": 36}}
    found = estimate(2, "gcp", "vector_store", components=vectors)

    assert found.cites[0] == "cloudsql_export" and found.cites[-1] == "cloudsql_backups"
    # every 1h + 36 GB at 100 MB/s (6 min); 15 min instance + 6 min import + 36 GB at 1.2 MB/s.
    assert found.rpo == Estimate(3600 + 360, True)
    assert found.rto == Estimate(900 + 360 + 30000, True)
