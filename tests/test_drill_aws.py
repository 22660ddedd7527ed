"""`drgen drill` on AWS against moto's S3 and DynamoDB server on loopback (a real HTTP API).

The AWS tier-0 example (fraud-scoring) is drilled end to end: models streamed and verified,
the audit record read and its delete attempted (moto refuses it without naming the lock, so
the lock's own refusal is tested with a botocore Stubber), DynamoDB restored to a point in
time into a scratch table and sampled, the evidence uploaded into the locked audit bucket.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from drgen.drill.base import Context, ProductionWriteError
from tests.conftest import ROOT
from tests.drill_servers import aws_fixture, moto_endpoint_fixture  # noqa: F401 (fixtures)

FRAUD = ROOT / "examples/fraud-scoring/workload.yaml"
PRIMARY, RECOVERY = "us-east-1", "us-west-2"
MODELS = {r: f"fraud-scoring-models-{r}-fs01" for r in (PRIMARY, RECOVERY)}
AUDIT = {r: f"fraud-scoring-audit-{r}-fs01" for r in (PRIMARY, RECOVERY)}
TABLE = "fraud-scoring-features-fs01"


def _s3(region: str) -> Any:
    return boto3.client("s3", region_name=region)


def _bucket(region: str, name: str, locked: bool = False) -> None:
    s3 = _s3(region)
    location = {} if region == "us-east-1" else {"LocationConstraint": region}
    s3.create_bucket(
        Bucket=name, ObjectLockEnabledForBucket=locked, CreateBucketConfiguration=location
    ) if location else s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=locked)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    if locked:
        s3.put_object_lock_configuration(
            Bucket=name,
            ObjectLockConfiguration={
                "ObjectLockEnabled": "Enabled",
                "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 1}},
            },
        )


def _put(region: str, bucket: str, key: str, data: bytes, checksum: bool = True) -> None:
    if checksum:
        _s3(region).put_object(Bucket=bucket, Key=key, Body=data, ChecksumAlgorithm="SHA256")
        return
    # As an older SDK or a plain HTTP client uploads: no checksum at all (current SDKs add CRC32).
    from botocore.config import Config

    bare = boto3.client(
        "s3", region_name=region, config=Config(request_checksum_calculation="when_required")
    )
    bare.put_object(Bucket=bucket, Key=key, Body=data)


def _deploy(models: bool = True, audit: bool = True, table: bool = True) -> None:
    """What the fraud-scoring stacks leave in the cloud, with some data in it."""
    for region in (PRIMARY, RECOVERY):
        if models:
            _bucket(region, MODELS[region])
        if audit:
            _bucket(region, AUDIT[region], locked=True)
    if models:
        for region in (PRIMARY, RECOVERY):
            _put(region, MODELS[region], "ranker/v3/model.bin", b"weights" * 300_000)
            _put(region, MODELS[region], "ranker/v3/config.json", b'{"layers": 12}')
    if audit:
        for region in (PRIMARY, RECOVERY):
            _put(region, AUDIT[region], "decisions/2026/11/29/0001.json", b'{"score": 0.91}')
    if table:
        db = boto3.client("dynamodb", region_name=RECOVERY)
        db.create_table(
            TableName=TABLE,
            KeySchema=[
                {"AttributeName": "entity_key", "KeyType": "HASH"},
                {"AttributeName": "feature_view", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "entity_key", "AttributeType": "S"},
                {"AttributeName": "feature_view", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        db.update_continuous_backups(
            TableName=TABLE,
            PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
        )
        for n in range(30):
            db.put_item(
                TableName=TABLE,
                Item={
                    "entity_key": {"S": f"card#{n}"},
                    "feature_view": {"S": "velocity"},
                    "count_1h": {"N": str(n)},
                },
            )


def _report(folder: Path) -> dict[str, Any]:
    [path] = [p for p in folder.glob("*.json") if not p.name.endswith(".receipt.json")]
    return dict(json.loads(path.read_text()))


def _component(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in report["components"] if c["component"] == name)


def test_fraud_scoring_drill_end_to_end(aws: str, tmp_path: Path, run_cli: Any) -> None:
    _deploy()
    evidence = tmp_path / "evidence"
    result = run_cli(
        "drill",
        str(FRAUD),
        "--evidence",
        str(evidence),
        "--component",
        "models",
        "--component",
        "audit_log",
        "--component",
        "feature_store",
    )
    # moto refuses the locked version's delete with a bare "Access Denied" (its
    # AccessDeniedByLock), the same answer IAM gives, so the drill cannot count it as the lock's
    # refusal: the audit log is an error here, and the lock's own answer is tested with a
    # Stubber below.
    assert result.exit_code != 0, result.output + result.stderr
    assert "Traceback" not in result.output + result.stderr
    report = _report(evidence)
    assert report["verdict"] != "pass" and report["region"] == RECOVERY

    models = _component(report, "models")
    assert models["outcome"] == "pass"
    assert models["integrity"]["verified"] == 2 and models["integrity"]["mismatched"] == []
    assert models["bytes"] == len(b"weights" * 300_000) + len(b'{"layers": 12}')
    assert models["throughput_mb_s"] > 0 and models["data_age_seconds"] is not None

    audit = _component(report, "audit_log")
    assert audit["outcome"] == "error"
    assert audit["integrity"]["lock"]["mode"] == "COMPLIANCE"
    assert "delete_refused" not in audit["integrity"]
    assert "not by object lock (AccessDenied: Access Denied)" in audit["failures"][0]
    versions = _s3(RECOVERY).list_object_versions(Bucket=AUDIT[RECOVERY], Prefix="decisions/")
    assert len(versions["Versions"]) == 1 and "DeleteMarkers" not in versions

    features = _component(report, "feature_store")
    assert features["outcome"] == "pass", features["failures"]
    assert features["integrity"]["sampled"] == 25
    assert features["integrity"]["identical"] == 25
    assert features["cleanup"] == [f"deleted dynamodb table {features['scratch'][0].split()[2]}"]
    tables = boto3.client("dynamodb", region_name=RECOVERY).list_tables()["TableNames"]
    assert tables == [TABLE], "the scratch table must be gone"

    # The evidence: SHA-256 recorded beside each file, both uploaded under the audit lock.
    for path in evidence.glob("*.json"):
        if path.name.endswith("receipt.json"):
            continue
        recorded = path.with_name(path.name + ".sha256").read_text().split()[0]
        assert recorded == hashlib.sha256(path.read_bytes()).hexdigest()
    receipts = json.loads(next(evidence.glob("*.receipt.json")).read_text())
    assert [r["lock"]["mode"] for r in receipts] == ["COMPLIANCE", "COMPLIANCE"]
    key = receipts[0]["url"].removeprefix(f"s3://{AUDIT[RECOVERY]}/")
    head = _s3(RECOVERY).head_object(Bucket=AUDIT[RECOVERY], Key=key, ChecksumMode="ENABLED")
    assert base64.b64decode(head["ChecksumSHA256"]).hex() == receipts[0]["sha256"]
    markdown = next(evidence.glob("*.md")).read_text()
    assert "NIST SP 800-34" in markdown and "| models | pass |" in markdown

    # drgen check reads the real report: the drilled components are fresh, pgvector never was.
    checked = run_cli("check", str(FRAUD), "--evidence", str(evidence), "--json")
    findings = {f["subject"]: f for f in json.loads(checked.output)[0]["findings"]}
    assert "never drilled" in findings["vector_store (pgvector)"]["basis"]
    for drilled in ("models", "feature_store (dynamodb)"):
        assert "drill" not in findings[drilled]["basis"], findings[drilled]["basis"]
    assert "the last drill" in findings["audit_log"]["basis"]
    assert "could not complete" in findings["audit_log"]["basis"]


def test_an_object_without_a_stored_checksum_fails_the_drill(
    aws: str, tmp_path: Path, run_cli: Any
) -> None:
    _deploy(audit=True, table=False)
    _put(RECOVERY, MODELS[RECOVERY], "ranker/v4/model.bin", b"no checksum", checksum=False)
    result = run_cli("drill", str(FRAUD), "--evidence", str(tmp_path), "--component", "models")
    assert result.exit_code == 1
    assert "Traceback" not in result.output + result.stderr
    models = _component(_report(tmp_path), "models")
    assert models["outcome"] == "fail"
    assert models["integrity"]["unverified"] == ["ranker/v4/model.bin (no stored checksum)"]


def test_stack_not_deployed_is_reported_not_raised(aws: str, tmp_path: Path, run_cli: Any) -> None:
    result = run_cli(
        "drill",
        str(FRAUD),
        "--evidence",
        str(tmp_path),
        "--component",
        "models",
        "--component",
        "feature_store",
    )
    assert result.exit_code == 1
    assert "Traceback" not in result.output + result.stderr
    report = _report(tmp_path)
    models = _component(report, "models")
    assert models["outcome"] == "error"
    assert "NoSuchBucket" in models["failures"][0] and "deployed" in models["failures"][0]
    features = _component(report, "feature_store")
    assert features["outcome"] == "error" and "deployed" in features["failures"][0]
    receipts = json.loads(next(tmp_path.glob("*.receipt.json")).read_text())
    assert "error" in receipts[0]


def test_missing_credentials_are_a_message(
    moto_endpoint: str, tmp_path: Path, run_cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    result = run_cli(
        "drill", str(FRAUD), "--evidence", str(tmp_path / "e"), "--component", "models"
    )
    assert result.exit_code == 1
    models = _component(_report(tmp_path / "e"), "models")
    assert models["failures"] == [
        "no AWS credentials found (environment, ~/.aws, or an instance or task role)"
    ]


def test_keep_leaves_the_scratch_table(aws: str, tmp_path: Path, run_cli: Any) -> None:
    _deploy(models=False, audit=False)
    result = run_cli(
        "drill", str(FRAUD), "--evidence", str(tmp_path), "--component", "feature_store", "--keep"
    )
    features = _component(_report(tmp_path), "feature_store")
    assert features["outcome"] == "pass", result.output
    assert features["cleanup"][0].startswith("kept dynamodb table drgen-drill-features-")
    db = boto3.client("dynamodb", region_name=RECOVERY)
    scratch = [t for t in db.list_tables()["TableNames"] if t != TABLE]
    assert len(scratch) == 1
    arn = db.describe_table(TableName=scratch[0])["Table"]["TableArn"]
    tags = {t["Key"]: t["Value"] for t in db.list_tags_of_resource(ResourceArn=arn)["Tags"]}
    assert tags["drgen:scratch"] == "true" and tags["drgen:workload"] == "fraud-scoring"


def test_dry_run_lists_every_call_the_real_run_makes(
    aws: str, tmp_path: Path, run_cli: Any
) -> None:
    _deploy()
    dry = run_cli("drill", str(FRAUD), "--dry-run", "--evidence", str(tmp_path / "dry"))
    assert dry.exit_code == 0
    assert not (tmp_path / "dry").exists(), "a dry run writes nothing"
    listed = {tuple(line.split()[:2]) for line in dry.output.splitlines() if line.startswith("  ")}
    # Nothing was created by the dry run.
    assert boto3.client("dynamodb", region_name=RECOVERY).list_tables()["TableNames"] == [TABLE]
    run_cli("drill", str(FRAUD), "--evidence", str(tmp_path / "real"))
    made = _report(tmp_path / "real")["calls"]
    for call in made:
        service, operation = call.split()[:2]
        assert (service, operation) in listed, f"{call} was made but --dry-run did not list it"


def test_guard_refuses_writes_outside_the_run(tmp_path: Path) -> None:
    from drgen.loader import load_workload
    from drgen.plan import resolve

    sourced = load_workload(FRAUD)
    ctx = Context(resolve(sourced), sourced.workload, FRAUD.parent, RECOVERY, "r1", 0.0)
    ctx.record("dynamodb", "DeleteTable", ctx.scratch_name("features"), "scratch")
    with pytest.raises(ProductionWriteError):
        ctx.record("dynamodb", "DeleteTable", TABLE, "scratch")
    with pytest.raises(ProductionWriteError):
        ctx.record("s3", "PutObject", f"{MODELS[RECOVERY]}/x", "evidence")
    assert datetime.datetime.now(datetime.UTC) > ctx.now() - datetime.timedelta(seconds=5)


def _multipart(region: str, bucket: str, key: str, parts: list[bytes]) -> None:
    s3 = _s3(region)
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key, ChecksumAlgorithm="SHA256")
    done = []
    for number, data in enumerate(parts, start=1):
        part = s3.upload_part(
            Bucket=bucket,
            Key=key,
            UploadId=upload["UploadId"],
            PartNumber=number,
            Body=data,
            ChecksumAlgorithm="SHA256",
        )
        done.append(
            {"PartNumber": number, "ETag": part["ETag"], "ChecksumSHA256": part["ChecksumSHA256"]}
        )
    s3.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload["UploadId"], MultipartUpload={"Parts": done}
    )


def test_multipart_artefacts_are_verified_part_by_part(
    aws: str, tmp_path: Path, run_cli: Any
) -> None:
    # Artefacts over 5 GB can only be multipart uploads, whose SHA-256 S3 keeps as the digest
    # of the parts' digests: the drill hashes each part while streaming and combines them.
    _deploy(audit=False, table=False)
    _multipart(RECOVERY, MODELS[RECOVERY], "llm/v1/shard-0.bin", [b"a" * 5 * 2**20, b"b" * 999])
    result = run_cli("drill", str(FRAUD), "--evidence", str(tmp_path), "--component", "models")
    models = _component(_report(tmp_path), "models")
    assert models["outcome"] == "pass", (models["failures"], result.output)
    assert models["integrity"]["verified"] == 3


def test_composite_digest_splits_the_stream_at_part_boundaries() -> None:
    from drgen.drill.store import stream_hash

    parts = [b"x" * 10, b"y" * 7, b"z" * 3]
    expected = hashlib.sha256(b"".join(hashlib.sha256(p).digest() for p in parts)).hexdigest()
    stream = b"".join(parts)
    for size in (1, 4, 10, 11, 64):
        chunks = iter([stream[i : i + size] for i in range(0, len(stream), size)])
        assert stream_hash(chunks, "sha256", None, (10, 7, 3)).hex == expected
    wrong = iter([stream + b"!"])
    assert stream_hash(wrong, "sha256", None, (10, 7, 3)).hex != expected


VERIFY_IN_A_CHILD = """
import sys
from drgen.drill.aws import S3Store
from drgen.drill.models import verify
from drgen.drill.store import StoredObject

class Calls:
    def record(self, *call):
        pass

store = S3Store(Calls(), sys.argv[1])
[obj] = [o for o in store.newest(sys.argv[2]) if o.key == sys.argv[3]]
size, outcome = verify(store, sys.argv[2], obj)
# VmHWM: this address space's peak (ru_maxrss would carry the forking parent's across exec).
with open("/proc/self/status") as status:
    peak = next(int(l.split()[1]) for l in status if l.startswith("VmHWM:"))
print(size, outcome, peak // 1024)
"""


def test_verifying_a_large_artefact_keeps_memory_flat(aws: str, tmp_path: Path) -> None:
    """The quality bar: a 5 GB artefact verified in under 100 MB RSS. Here 120 MB, more than
    that bound, streamed through a fresh interpreter whose peak RSS is read back."""
    import subprocess
    import sys

    _bucket(RECOVERY, MODELS[RECOVERY])
    chunk = b"0123456789abcdef" * (2**20 // 16)
    _multipart(RECOVERY, MODELS[RECOVERY], "big.bin", [chunk * 30] * 4)
    done = subprocess.run(
        [sys.executable, "-c", VERIFY_IN_A_CHILD, RECOVERY, MODELS[RECOVERY], "big.bin"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    size, outcome, peak_mb = done.stdout.split()
    assert (int(size), outcome) == (120 * 2**20, "ok")
    assert int(peak_mb) < 100, f"peak RSS {peak_mb} MB while verifying 120 MB"


def test_bad_region_and_component_are_messages(run_cli: Any) -> None:
    region = run_cli("drill", str(FRAUD), "--region", "eu-west-1", "--dry-run")
    assert region.exit_code == 1
    assert "--region eu-west-1: not a region of fraud-scoring (us-east-1, us-west-2)" in (
        region.stderr
    )
    component = run_cli("drill", str(FRAUD), "--component", "prompts", "--dry-run")
    assert component.exit_code == 2 and "prompts" in component.stderr


def test_crc32_checksums_are_verified_too(aws: str, tmp_path: Path, run_cli: Any) -> None:
    _deploy(audit=False, table=False)
    _s3(RECOVERY).put_object(
        Bucket=MODELS[RECOVERY],
        Key="llm/v2/adapter.bin",
        Body=b"lora" * 1000,
        ChecksumAlgorithm="CRC32",
    )
    run_cli("drill", str(FRAUD), "--evidence", str(tmp_path), "--component", "models")
    models = _component(_report(tmp_path), "models")
    assert models["outcome"] == "pass", models["failures"]
    assert models["integrity"]["verified"] == 3


CLAIMS = ROOT / "examples/claims-triage/workload.yaml"


def test_snapshot_engine_newest_snapshot_age_and_integrity(
    aws: str, tmp_path: Path, run_cli: Any
) -> None:
    # claims-triage: weaviate snapshots every 45m into eu-west-1's bucket, RPO 2h.
    name = "claims-triage-vectors-eu-west-1"
    _bucket("eu-west-1", name)
    _put("eu-west-1", name, "backups/b1/node1/chunk-1", b"c" * 5000)
    _put("eu-west-1", name, "backups/b1/backup_config.json", b"{}")
    run_cli("drill", str(CLAIMS), "--evidence", str(tmp_path), "--component", "vector_store")
    vectors = _component(_report(tmp_path), "vector_store")
    assert vectors["outcome"] == "pass", vectors["failures"]
    assert vectors["integrity"]["verified"] == 2
    assert vectors["data_age_seconds"] < 600
    assert "no --scratch-url" in vectors["measurements"]["restore"]


def test_snapshot_engine_without_snapshots_is_an_error(
    aws: str, tmp_path: Path, run_cli: Any
) -> None:
    _bucket("eu-west-1", "claims-triage-vectors-eu-west-1")
    result = run_cli(
        "drill", str(CLAIMS), "--evidence", str(tmp_path), "--component", "vector_store"
    )
    assert result.exit_code == 1
    vectors = _component(_report(tmp_path), "vector_store")
    assert vectors["outcome"] == "error" and "missing recovery point" in vectors["failures"][0]


def test_a_snapshot_older_than_the_rpo_fails(aws: str) -> None:
    import time

    from drgen.drill import snapshots
    from drgen.drill.base import Result
    from drgen.loader import load_workload
    from drgen.plan import resolve

    name = "claims-triage-vectors-eu-west-1"
    _bucket("eu-west-1", name)
    _put("eu-west-1", name, "backups/b1/backup_config.json", b"{}")
    sourced = load_workload(CLAIMS)
    plan = resolve(sourced)
    three_hours_on = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=3)
    ctx = Context(
        plan,
        sourced.workload,
        CLAIMS.parent,
        "eu-west-1",
        "r1",
        time.monotonic() + 60,
        clock=lambda: three_hours_on,
    )
    component = plan.component("vector_store")
    assert component is not None
    result = Result("vector_store", "weaviate", "eu-west-1")
    snapshots.run(ctx, component, result)
    assert result.outcome == "fail"
    assert "older than the RPO of 2h" in result.failures[0]


# A cold-restore tier: the table's AWS Backup copies in the secondary's vault, restored by an
# AWS Backup restore job. No local server runs AWS Backup, so the clients are botocore Stubbers:
# each request is checked against the service model and the expected parameters, each
# response against its documented shape
# (https://docs.aws.amazon.com/aws-backup/latest/devguide/API_ListRecoveryPointsByBackupVault.html,
# https://docs.aws.amazon.com/aws-backup/latest/devguide/API_StartRestoreJob.html,
# https://docs.aws.amazon.com/aws-backup/latest/devguide/API_DescribeRestoreJob.html).

CLAIMS = ROOT / "examples/claims-triage/workload.yaml"
CLAIMS_TABLE = "claims-triage-features"
CLAIMS_PRIMARY, CLAIMS_RECOVERY = "eu-west-2", "eu-west-1"
ACCOUNT = "123456789012"
KEY_ARN = f"arn:aws:kms:{CLAIMS_RECOVERY}:{ACCOUNT}:key/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/features-backups-role-1a2b3c"
VAULT_ARN = f"arn:aws:backup:{CLAIMS_RECOVERY}:{ACCOUNT}:backup-vault:{CLAIMS_TABLE}"
SOURCE_VAULT_ARN = f"arn:aws:backup:{CLAIMS_PRIMARY}:{ACCOUNT}:backup-vault:{CLAIMS_TABLE}"
SOURCE_POINT = f"arn:aws:backup:{CLAIMS_PRIMARY}:{ACCOUNT}:recovery-point:src-2"


def _point(n: int, hours: int, status: str = "COMPLETED") -> dict[str, Any]:
    now = datetime.datetime.now(datetime.UTC).replace(second=0, microsecond=0)
    return {
        "RecoveryPointArn": f"arn:aws:backup:{CLAIMS_RECOVERY}:{ACCOUNT}:recovery-point:rp-{n}",
        "BackupVaultName": CLAIMS_TABLE,
        "BackupVaultArn": VAULT_ARN,
        "ResourceType": "DynamoDB",
        "Status": status,
        "IamRoleArn": ROLE,
        "CreationDate": now - datetime.timedelta(hours=hours),
        "InitiationDate": now - datetime.timedelta(hours=hours, minutes=10),
        "BackupSizeInBytes": 5_000_000 + n,
    }


class Stubbed:
    """boto3 clients for the claims-triage restore, each behind a Stubber, and what was sent."""

    def __init__(self) -> None:
        from botocore.stub import Stubber

        self.clients = {
            (name, region): boto3.client(
                name,
                region_name=region,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            )
            for name, region in (
                ("backup", CLAIMS_RECOVERY),
                ("backup", CLAIMS_PRIMARY),
                ("kms", CLAIMS_RECOVERY),
                ("dynamodb", CLAIMS_RECOVERY),
                ("dynamodb", CLAIMS_PRIMARY),
            )
        }
        self.stubs = {key: Stubber(c) for key, c in self.clients.items()}
        self.sent: list[tuple[str, dict[str, Any]]] = []
        for client in self.clients.values():
            client.meta.events.register("provide-client-params.*.*", self._keep)

    def _keep(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.sent.append((model.name, dict(params)))

    def stub(self, name: str, region: str = CLAIMS_RECOVERY) -> Any:
        return self.stubs[(name, region)]

    def client(self, name: str, region: str) -> Any:
        return self.clients[(name, region)]

    def params(self, operation: str) -> list[dict[str, Any]]:
        return [params for name, params in self.sent if name == operation]


def _copied_from(stubbed: Stubbed, copy: str, hours: float | None) -> None:
    """The primary's copy jobs into the recovery vault (one for another copy) and, when `hours`
    is given, the job that made `copy` from a recovery point created `hours` ago."""
    now = datetime.datetime.now(datetime.UTC)
    jobs = [
        {
            "CopyJobId": "copy-older",
            "SourceBackupVaultArn": SOURCE_VAULT_ARN,
            "SourceRecoveryPointArn": SOURCE_POINT.replace("src-2", "src-1"),
            "DestinationBackupVaultArn": VAULT_ARN,
            "DestinationRecoveryPointArn": copy.replace("rp-2", "rp-1"),
            "State": "COMPLETED",
        }
    ]
    if hours is not None:
        jobs.append({**jobs[0], "CopyJobId": "copy-2", "SourceRecoveryPointArn": SOURCE_POINT})
        jobs[-1]["DestinationRecoveryPointArn"] = copy
    primary = stubbed.stub("backup", CLAIMS_PRIMARY)
    primary.add_response(
        "list_copy_jobs",
        {"CopyJobs": jobs},
        {"ByDestinationVaultArn": VAULT_ARN, "ByResourceType": "DynamoDB"},
    )
    if hours is not None:
        primary.add_response(
            "describe_recovery_point",
            {
                "RecoveryPointArn": SOURCE_POINT,
                "CreationDate": now - datetime.timedelta(hours=hours),
            },
            {"BackupVaultName": CLAIMS_TABLE, "RecoveryPointArn": SOURCE_POINT},
        )


def _restore_until(
    stubbed: Stubbed, status: str = "COMPLETED", polls: int = 1, source_hours: float | None = 3.5
) -> None:
    from botocore.stub import ANY

    backup = stubbed.stub("backup")
    backup.add_response(
        "list_recovery_points_by_backup_vault",
        {"RecoveryPoints": [_point(1, 30), _point(2, 3), _point(3, 0, "CREATING")]},
        {"BackupVaultName": CLAIMS_TABLE, "ByResourceType": "DynamoDB"},
    )
    newest = _point(2, 3)["RecoveryPointArn"]
    _copied_from(stubbed, newest, source_hours)
    backup.add_response(
        "get_recovery_point_restore_metadata",
        {"RestoreMetadata": {"originalTableName": CLAIMS_TABLE}, "ResourceType": "DynamoDB"},
        {"BackupVaultName": CLAIMS_TABLE, "RecoveryPointArn": newest},
    )
    stubbed.stub("kms").add_response(
        "describe_key",
        {"KeyMetadata": {"KeyId": KEY_ARN.rsplit("/", 1)[1], "Arn": KEY_ARN}},
        {"KeyId": "alias/drgen/claims-triage"},
    )
    backup.add_response(
        "start_restore_job",
        {"RestoreJobId": "job-1"},
        {
            "RecoveryPointArn": newest,
            "Metadata": ANY,
            "IamRoleArn": ROLE,
            "ResourceType": "DynamoDB",
        },
    )
    for _ in range(polls - 1):
        backup.add_response(
            "describe_restore_job",
            {"RestoreJobId": "job-1", "Status": "RUNNING"},
            {"RestoreJobId": "job-1"},
        )
    backup.add_response(
        "describe_restore_job",
        {"RestoreJobId": "job-1", "Status": status, "BackupSizeInBytes": 5_000_002},
        {"RestoreJobId": "job-1"},
    )


def _scratch_table(stubbed: Stubbed, key_arn: str = KEY_ARN, protected: bool = False) -> None:
    from botocore.stub import ANY

    db, source = stubbed.stub("dynamodb"), stubbed.stub("dynamodb", CLAIMS_PRIMARY)
    db.add_response(
        "describe_table",
        {
            "Table": {
                "TableStatus": "ACTIVE",
                "TableArn": f"arn:aws:dynamodb:{CLAIMS_RECOVERY}:{ACCOUNT}:table/scratch",
                "KeySchema": [
                    {"AttributeName": "entity_key", "KeyType": "HASH"},
                    {"AttributeName": "feature_view", "KeyType": "RANGE"},
                ],
                "SSEDescription": {
                    "Status": "ENABLED",
                    "SSEType": "KMS",
                    "KMSMasterKeyArn": key_arn,
                },
            }
        },
        {"TableName": ANY},
    )
    db.add_response("tag_resource", {}, {"ResourceArn": ANY, "Tags": ANY})
    item = {"entity_key": {"S": "claim#1"}, "feature_view": {"S": "history"}, "n": {"N": "3"}}
    db.add_response("scan", {"Items": [item]}, {"TableName": ANY, "Limit": 25})
    source.add_response(
        "get_item",
        {"Item": item},
        {
            "TableName": CLAIMS_TABLE,
            "Key": {"entity_key": {"S": "claim#1"}, "feature_view": {"S": "history"}},
            "ConsistentRead": False,
        },
    )
    _deletion(stubbed, protected)


def _deletion(stubbed: Stubbed, protected: bool = False) -> None:
    """DescribeTable, then (a protected table) UpdateTable and DescribeTable until ACTIVE, then
    DeleteTable, which refuses a table whose deletion protection is on
    (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_DeleteTable.html)."""
    from botocore.stub import ANY

    db = stubbed.stub("dynamodb")
    table = {"TableStatus": "ACTIVE", "DeletionProtectionEnabled": protected}
    db.add_response("describe_table", {"Table": table}, {"TableName": ANY})
    if protected:
        db.add_response(
            "update_table",
            {"TableDescription": {"TableStatus": "UPDATING", "DeletionProtectionEnabled": False}},
            {"TableName": ANY, "DeletionProtectionEnabled": False},
        )
        db.add_response(
            "describe_table", {"Table": {"TableStatus": "UPDATING"}}, {"TableName": ANY}
        )
        db.add_response("describe_table", {"Table": {"TableStatus": "ACTIVE"}}, {"TableName": ANY})
    db.add_response("delete_table", {}, {"TableName": ANY})


@pytest.fixture(name="stubbed")
def stubbed_fixture(aws: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    from drgen.drill import dynamodb

    stubbed = Stubbed()
    monkeypatch.setattr(dynamodb, "client", stubbed.client)
    monkeypatch.setattr(dynamodb, "POLL_SECONDS", 0.05)
    for stub in stubbed.stubs.values():
        stub.activate()
    return stubbed


def _claims(run_cli: Any, folder: Path, *extra: str) -> dict[str, Any]:
    run_cli("drill", str(CLAIMS), "--component", "feature_store", "--evidence", str(folder), *extra)
    return _component(_report(folder), "feature_store")


def test_cold_tier_restores_the_newest_copy_with_an_aws_backup_restore_job(
    stubbed: Stubbed, run_cli: Any, tmp_path: Path
) -> None:
    _restore_until(stubbed, polls=2)
    _scratch_table(stubbed)
    features = _claims(run_cli, tmp_path)
    assert features["outcome"] == "pass", features["failures"]
    for stub in stubbed.stubs.values():
        stub.assert_no_pending_responses()
    [started] = stubbed.params("StartRestoreJob")
    scratch = started["Metadata"]["targetTableName"]
    assert scratch.startswith("drgen-drill-features-")
    assert started["Metadata"]["encryptionType"] == "KMS"
    assert started["Metadata"]["kmsMasterKeyArn"] == KEY_ARN
    assert started["Metadata"]["originalTableName"] == CLAIMS_TABLE
    assert started["Metadata"]["deletionProtection"] == "false"
    # Everything after the restore is on the scratch table, but the read of production.
    assert {p["TableName"] for p in stubbed.params("DescribeTable")} == {scratch}
    assert [p["TableName"] for p in stubbed.params("DeleteTable")] == [scratch]
    tags = {t["Key"]: t["Value"] for t in stubbed.params("TagResource")[0]["Tags"]}
    assert tags["drgen:scratch"] == "true"
    # Data age from the primary's recovery point the copy was made from (3h30m ago), not from
    # the copy's own dates (3h and 3h10m).
    assert 3.5 * 3600 <= features["data_age_seconds"] < 3.5 * 3600 + 300
    assert features["measurements"]["source_recovery_point"] == SOURCE_POINT
    assert features["region"] == CLAIMS_RECOVERY and features["bytes"] == 5_000_002
    assert features["integrity"]["identical"] == 1 and features["integrity"]["kms_key"] == KEY_ARN


def test_a_copy_whose_source_is_not_found_has_no_data_age(
    stubbed: Stubbed, run_cli: Any, tmp_path: Path
) -> None:
    """No copy job names the copy (ListCopyJobs lists recent jobs only): its age is unknown
    rather than taken from the copy's own dates, which would understate it."""
    _restore_until(stubbed, source_hours=None)
    _scratch_table(stubbed)
    features = _claims(run_cli, tmp_path)
    assert features["outcome"] == "pass", features["failures"]
    assert features["data_age_seconds"] is None
    assert "data age is unknown" in features["measurements"]["source_recovery_point"]


def test_cold_tier_without_a_copy_is_an_error(
    stubbed: Stubbed, run_cli: Any, tmp_path: Path
) -> None:
    stubbed.stub("backup").add_response(
        "list_recovery_points_by_backup_vault",
        {"RecoveryPoints": [_point(1, 1, "CREATING")]},
        {"BackupVaultName": CLAIMS_TABLE, "ByResourceType": "DynamoDB"},
    )
    features = _claims(run_cli, tmp_path)
    assert features["outcome"] == "error"
    assert (
        "no completed recovery point in the claims-triage-features vault" in features["failures"][0]
    )
    assert stubbed.params("StartRestoreJob") == [] and features["cleanup"] == []


def test_a_failed_restore_job_is_an_error_and_its_table_removed(
    stubbed: Stubbed, run_cli: Any, tmp_path: Path
) -> None:

    _restore_until(stubbed, status="FAILED")
    _deletion(stubbed)
    features = _claims(run_cli, tmp_path)
    assert features["outcome"] == "error" and "restore job job-1 FAILED" in features["failures"][0]
    assert len(stubbed.params("DeleteTable")) == 1


def test_a_restore_job_that_created_no_table_leaves_nothing_to_delete(
    stubbed: Stubbed, run_cli: Any, tmp_path: Path
) -> None:
    """A job that failed before creating its table: DescribeTable answers
    ResourceNotFoundException (API_DescribeTable.html), and cleanup says there was nothing to
    delete rather than reporting a failed deletion."""
    _restore_until(stubbed, status="FAILED")
    stubbed.stub("dynamodb").add_client_error(
        "describe_table",
        service_error_code="ResourceNotFoundException",
        service_message="Requested resource not found",
        http_status_code=400,
    )
    features = _claims(run_cli, tmp_path)
    assert features["failures"] == ["restore job job-1 FAILED: "]
    assert stubbed.params("DeleteTable") == []
    [scratch] = [p["TableName"] for p in stubbed.params("DescribeTable")]
    assert features["cleanup"] == [f"dynamodb table {scratch} was never created: nothing to delete"]


def test_a_restored_table_under_deletion_protection_is_unprotected_then_deleted(
    stubbed: Stubbed, run_cli: Any, tmp_path: Path
) -> None:
    """claims-triage's table is deletion-protected; should its protection reach the scratch
    table all the same, cleanup turns it off and waits before DeleteTable, which refuses a
    protected table."""
    _restore_until(stubbed)
    _scratch_table(stubbed, protected=True)
    features = _claims(run_cli, tmp_path)
    assert features["outcome"] == "pass", features["failures"]
    for stub in stubbed.stubs.values():
        stub.assert_no_pending_responses()
    [update] = stubbed.params("UpdateTable")
    assert update["DeletionProtectionEnabled"] is False
    assert update["TableName"] == stubbed.params("DeleteTable")[0]["TableName"]
    assert features["cleanup"] == [f"deleted dynamodb table {update['TableName']}"]


def test_a_restore_job_past_the_timeout_is_named_for_removal(
    stubbed: Stubbed, run_cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from drgen.drill import dynamodb

    _restore_until(stubbed, polls=10**3)
    monkeypatch.setattr(dynamodb, "POLL_SECONDS", 0.3)
    features = _claims(run_cli, tmp_path, "--timeout", "1")
    assert features["outcome"] == "error"
    assert any("timed out" in f for f in features["failures"])
    # AWS Backup cannot stop a restore job: the report says what to delete, and nothing was
    # deleted before the table exists.
    assert "restore job job-1 was still running" in features["cleanup"][0]
    assert "delete table drgen-drill-features-" in features["cleanup"][0]
    assert stubbed.params("DeleteTable") == []


def test_a_copy_restored_under_another_key_fails(
    stubbed: Stubbed, run_cli: Any, tmp_path: Path
) -> None:
    _restore_until(stubbed)
    _scratch_table(stubbed, key_arn=KEY_ARN.replace("0b1c", "ffff"))
    features = _claims(run_cli, tmp_path)
    assert features["outcome"] == "fail"
    assert "not under the region's key" in features["failures"][0]


def test_cold_tier_dry_run_lists_the_restore_job(aws: str, run_cli: Any) -> None:
    dry = run_cli("drill", str(CLAIMS), "--component", "feature_store", "--dry-run")
    assert "  backup StartRestoreJob drgen-drill-features-" in dry.output
    assert "RestoreTableToPointInTime" not in dry.output
    primary = run_cli(
        "drill", str(CLAIMS), "--component", "feature_store", "--dry-run", "--region", "eu-west-2"
    )
    assert "RestoreTableToPointInTime" in primary.output


def test_the_guard_refuses_a_restore_job_onto_production(
    stubbed: Stubbed, run_cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A drill whose scratch name came out as the production table's sends no restore job."""
    _restore_until(stubbed)
    monkeypatch.setattr(Context, "scratch_name", lambda self, kind="": CLAIMS_TABLE)
    features = _claims(run_cli, tmp_path)
    assert features["outcome"] == "error"
    assert "refused backup StartRestoreJob on claims-triage-features" in features["failures"][0]
    assert stubbed.params("StartRestoreJob") == [] and stubbed.params("DeleteTable") == []


def _stubbed_probe(code: str, message: str) -> Any:
    """S3Store.try_delete against a Stubber answering DeleteObject with `code`/`message`."""
    import types

    from botocore.stub import Stubber

    from drgen.drill.aws import S3Store
    from drgen.drill.store import StoredObject

    store = S3Store(types.SimpleNamespace(record=lambda *call: None), RECOVERY)  # type: ignore[arg-type]
    stub = Stubber(store.s3)
    stub.add_client_error(
        "delete_object", service_error_code=code, service_message=message, http_status_code=403
    )
    obj = StoredObject("decisions/1.json", "v1", 1, datetime.datetime.now(datetime.UTC))
    with stub:
        return store.try_delete(AUDIT[RECOVERY], obj)


def test_a_delete_refused_by_object_lock_is_the_evidence(aws: str) -> None:
    # Real S3 names the lock in its AccessDenied: "Access Denied because object protected by
    # object lock." (quoted in https://github.com/versity/versitygw/issues/1330 and #1565).
    refusal = _stubbed_probe(
        "AccessDenied", "Access Denied because object protected by object lock."
    )
    assert refusal == "AccessDenied: Access Denied because object protected by object lock."


def test_a_bare_access_denied_is_not_the_locks_refusal(aws: str) -> None:
    from drgen.drill.base import DrillError

    with pytest.raises(DrillError, match="not by object lock"):
        _stubbed_probe("AccessDenied", "Access Denied")
