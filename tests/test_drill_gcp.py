"""`drgen drill` on GCP against gcp-storage-emulator on loopback (Cloud Storage's JSON API).

A tier-1 GCP workload: models in the dual-region bucket streamed and checked against their
stored SHA-256 (and MD5 where none was stored), pgvector restored into a scratch PostgreSQL,
the evidence uploaded. The emulator stores a bucket's retention policy but enforces none of it
(its delete handler never consults the policy), so on GCP the refusal path cannot run here:
these tests show that the drill reports an accepted delete as a failure; the refusal path is
exercised against moto's S3 object lock (test_drill_aws.py).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.drill_servers import (  # noqa: F401 (fixtures)
    gcs_endpoint_fixture,
    gcs_fixture,
    pg_server_fixture,
    pg_source_fixture,
    pg_tools_fixture,
)

WORKLOAD = """\
name: triage-gcp
tier: 1
cloud: gcp
regions:
  primary: us-central1
  secondary: us-east1
components:
  models: {size_gb: 1}
  vector_store: {engine: pgvector}
  feature_store: {engine: firestore}
endpoint:
  domain: triage.example.org
  zone: example.org
  targets: {us-central1: 203.0.113.1, us-east1: 203.0.113.2}
"""


def _client() -> Any:
    from google.cloud import storage

    return storage.Client(project="drgen-test")


def _deploy(lock_audit: bool = True) -> None:
    client = _client()
    models = client.create_bucket("triage-gcp-models")
    weights = b"w" * 3_000_000
    blob = models.blob("clinical/v7/weights.safetensors")
    blob.metadata = {"sha256": hashlib.sha256(weights).hexdigest()}
    blob.upload_from_string(weights)
    models.blob("clinical/v7/tokenizer.json").upload_from_string(b'{"vocab": 32000}')
    audit = client.create_bucket("triage-gcp-audit")
    if lock_audit:
        # What a locked bucket reports (the emulator keeps whatever policy it is given).
        audit.retention_period = 86400
        audit.patch()
        audit._properties["retentionPolicy"]["isLocked"] = True
        audit._patch_property("retentionPolicy", audit._properties["retentionPolicy"])
        audit.patch()
    audit.blob("decisions/0001.json").upload_from_string(b'{"triage": "amber"}')


def _report(folder: Path) -> dict[str, Any]:
    [path] = [p for p in folder.glob("*.json") if not p.name.endswith(".receipt.json")]
    return dict(json.loads(path.read_text()))


def _component(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in report["components"] if c["component"] == name)


@pytest.fixture(name="workload")
def workload_fixture(workload_file: Callable[..., Path]) -> Path:
    return workload_file(WORKLOAD)


def test_gcp_tier1_models_verified_and_evidence_uploaded(
    gcs: str, workload: Path, run_cli: Any, tmp_path: Path
) -> None:
    _deploy()
    result = run_cli("drill", str(workload), "--component", "models", "--evidence", "out")
    assert result.exit_code == 0, result.output
    report = _report(tmp_path / "out")
    models = _component(report, "models")
    assert models["outcome"] == "pass"
    assert models["integrity"]["verified"] == 2
    assert models["bytes"] == 3_000_000 + len(b'{"vocab": 32000}')
    assert "dual-region" in models["measurements"]["data_age"]
    uploaded = [b.name for b in _client().list_blobs("triage-gcp-audit", prefix="drgen-drills/")]
    assert len(uploaded) == 2
    for name in uploaded:
        stored = _client().bucket("triage-gcp-audit").get_blob(name)
        local = tmp_path / "out" / f"triage-gcp-{Path(name).name}"
        assert stored.metadata["sha256"] == hashlib.sha256(local.read_bytes()).hexdigest()
        assert stored.download_as_bytes() == local.read_bytes()


def test_gcp_tier1_pgvector_through_the_same_drill(
    gcs: str, workload: Path, pg_tools: Any, pg_source: Any, run_cli: Any, tmp_path: Path
) -> None:
    import psycopg

    source = pg_source.get_uri()
    with psycopg.connect(source, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        conn.execute("CREATE TABLE IF NOT EXISTS guidelines (id int PRIMARY KEY, v vector(3))")
        conn.execute("INSERT INTO guidelines VALUES (1, '[1,0,0]') ON CONFLICT DO NOTHING")
    _deploy()
    result = run_cli(
        "drill",
        str(workload),
        "--component",
        "vector_store",
        "--evidence",
        "out",
        "--source-dsn",
        source,
        "--scratch-dsn",
        pg_tools.get_uri(),
    )
    vectors = _component(_report(tmp_path / "out"), "vector_store")
    assert vectors["outcome"] == "pass", (vectors["failures"], result.output)
    assert vectors["integrity"]["row_counts"]["public.guidelines"] == 1


def test_a_corrupted_model_fails_the_drill(
    gcs: str, workload: Path, run_cli: Any, tmp_path: Path
) -> None:
    _deploy()
    blob = _client().bucket("triage-gcp-models").blob("clinical/v8/weights.safetensors")
    blob.metadata = {"sha256": hashlib.sha256(b"what was trained").hexdigest()}
    blob.upload_from_string(b"what is stored now")
    result = run_cli("drill", str(workload), "--component", "models", "--evidence", "out")
    assert result.exit_code == 1 and "Traceback" not in result.output
    models = _component(_report(tmp_path / "out"), "models")
    assert models["outcome"] == "fail"
    assert models["integrity"]["mismatched"] == ["clinical/v8/weights.safetensors"]


def test_an_accepted_delete_of_a_locked_record_is_a_loud_failure(
    gcs: str, workload: Path, run_cli: Any, tmp_path: Path
) -> None:
    _deploy()
    result = run_cli("drill", str(workload), "--component", "audit_log", "--evidence", "out")
    assert result.exit_code == 1
    audit = _component(_report(tmp_path / "out"), "audit_log")
    assert audit["outcome"] == "fail"
    assert audit["integrity"]["lock"]["mode"] == "LOCKED"
    assert audit["failures"][0].startswith("DELETED decisions/0001.json")


def test_an_unlocked_audit_bucket_is_never_probed(
    gcs: str, workload: Path, run_cli: Any, tmp_path: Path
) -> None:
    _deploy(lock_audit=False)
    run_cli("drill", str(workload), "--component", "audit_log", "--evidence", "out")
    audit = _component(_report(tmp_path / "out"), "audit_log")
    assert audit["outcome"] == "fail"
    assert "the delete was not attempted" in audit["failures"][0]
    assert [b.name for b in _client().list_blobs("triage-gcp-audit", prefix="decisions/")] == [
        "decisions/0001.json"
    ]


def test_dry_run_names_the_gcp_calls_and_makes_none(
    gcs: str, workload: Path, run_cli: Any, tmp_path: Path
) -> None:
    result = run_cli("drill", str(workload), "--dry-run", "--scratch-dsn", "host=scratch")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert "  storage objects.list triage-gcp-models [read]" in lines
    assert "  storage objects.delete triage-gcp-audit/<newest record> [refusal-probe]" in lines
    # The Firestore restore is drilled against its API's contract in test_drill_firestore.py.
    assert any(
        line.startswith("  firestore RestoreDatabase databases/drgen-drill-features-")
        and line.endswith("[scratch]")
        for line in lines
    )
    assert not (tmp_path / "drills").exists()
    assert list(_client().list_buckets()) == []
