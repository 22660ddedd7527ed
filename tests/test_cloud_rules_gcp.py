"""Rules of Google Cloud that the mock runtime cannot see, one test each, with its source.

Each rule is checked on what the generated stacks declare under mocks (the golden projects, or a
tiny inline workload where no example reaches the branch), or on the pure function that decides.
"""

from __future__ import annotations

import datetime
import http.server
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from drgen.clouds import KMS_MULTI_REGIONS, gcp_dual_region
from drgen.diff import mock_run
from drgen.errors import DrgenError
from drgen.loader import SourcedWorkload
from drgen.plan import DrPlan, StackPlan, resolve
from drgen.render import cron_every, render
from drgen.vendors.watch import watch
from drgen.write import write_project
from tests.conftest import make_workload
from tests.stacks import (
    not_the_vendor_watcher,
    of_type,
    plan_of,
    projects_of,
    records_of_type,
    run,
    stacks_of,
    takes_snapshots,
    uses_pgvector,
)

GCP_STACKS = stacks_of("gcp")
ALERT = "gcp:monitoring/alertPolicy:AlertPolicy"
BUCKET = "gcp:storage/bucket:Bucket"
BUCKET_GRANT = "gcp:storage/bucketIAMMember:BucketIAMMember"
SQL = "gcp:sql/databaseInstance:DatabaseInstance"
TRANSFER = "gcp:storage/transferJob:TransferJob"

ACTIVE_WEAVIATE = make_workload(0, "gcp", components={"vector_store": {"engine": "weaviate"}})
COLD_PGVECTOR = make_workload(2, "gcp", components={"vector_store": {"engine": "pgvector"}})
WARM_PGVECTOR = make_workload(1, "gcp", components={"vector_store": {"engine": "pgvector"}})


def routes(plan: DrPlan) -> bool:
    return plan.routing is not None


def copies(plan: DrPlan) -> bool:
    return plan.pattern == "cold-restore" and plan.secondary is not None


def rendered(tmp_path: Path, sourced: SourcedWorkload) -> tuple[DrPlan, Path]:
    plan = resolve(sourced)
    write_project(render(plan), tmp_path / plan.workload)
    return plan, tmp_path / plan.workload


def with_input(stack: StackPlan, key: str, value: str) -> StackPlan:
    """`stack` with the stand-in of input `key` replaced by `value`."""
    inputs = tuple(
        i.model_copy(update={"example": value}) if i.key == key else i for i in stack.inputs
    )
    assert inputs != stack.inputs, key
    return stack.model_copy(update={"inputs": inputs})


def sdk_doc(module: str, name: str) -> str:
    """The words of one pulumi_gcp source file, whose docstrings hold the rules quoted below."""
    import pulumi_gcp  # the tests may import the SDK; the render path never does

    return " ".join((Path(pulumi_gcp.__file__).parent / module / f"{name}.py").read_text().split())


# 1. pulumi-gcp compute.HealthCheck, `source_regions`: "If this list is non-empty, then there
#    are restrictions on what other health check fields are supported and what other resources
#    can use this health check: ... The checkIntervalSec field must be at least 30."
@projects_of("gcp", routes)
def test_a_health_check_probing_from_source_regions_checks_at_most_every_30_seconds(
    project: Path,
) -> None:
    assert "The checkIntervalSec field must be at least 30." in sdk_doc("compute", "health_check")
    (check,) = of_type(
        run(project, plan_of(project).primary.name), "gcp:compute/healthCheck:HealthCheck"
    )

    assert check["sourceRegions"]
    assert check["checkIntervalSec"] >= 30


# 2. Cloud KMS multi-regions are `us`, `europe` and `asia`; there is no `eu`
#    (https://cloud.google.com/kms/docs/locations). pulumi-gcp firestore.Database, cmek_config:
#    "For Firestore's nam5 multi-region, this corresponds to Cloud KMS multi-region us. For
#    Firestore's eur3 multi-region, this corresponds to Cloud KMS multi-region europe." A second
#    key ring of the same name in the same location is a 409.
@GCP_STACKS
def test_keys_live_in_real_kms_locations_one_ring_per_location(
    project_stack: tuple[Path, str],
) -> None:
    doc = sdk_doc("firestore", "_inputs")
    assert "eur3 multi-region, this corresponds to Cloud KMS multi-region europe" in doc
    result = run(*project_stack)
    rings = [r["location"] for r in of_type(result, "gcp:kms/keyRing:KeyRing")]
    kms_locations = set(KMS_MULTI_REGIONS.values())

    assert len(rings) == len(set(rings))
    assert all(
        location in kms_locations or re.fullmatch(r"[a-z]+-[a-z]+\d+", location)
        for location in rings
    )
    for bucket in of_type(result, BUCKET):
        key_location = bucket["encryption"]["defaultKmsKeyName"].split("/")[3]
        assert key_location == KMS_MULTI_REGIONS.get(bucket["location"], bucket["location"].lower())
    for database in of_type(result, "gcp:firestore/database:Database"):
        key_location = database["cmekConfig"]["kmsKeyName"].split("/")[3]
        expected = {"nam5": "us", "eur3": "europe"}.get(
            database["locationId"], database["locationId"]
        )
        assert key_location == expected


# 3. A bucket must exist before anyone is granted on it: the secondary deploys first, and on
#    active-active its engine writes into the dual-region bucket the primary's stack creates.
def test_a_secondary_first_deployment_grants_only_on_buckets_it_creates(tmp_path: Path) -> None:
    plan, project = rendered(tmp_path, ACTIVE_WEAVIATE)
    secondary = plan.secondary
    assert secondary is not None and plan.secondary_needs_primary
    config = project / f"Pulumi.{secondary.name}.yaml"
    # What the deploy sequence's first step sets (`pulumi config set peer_deployed false`).
    config.write_text(config.read_text() + f'  {plan.workload}:peer_deployed: "false"\n')

    first = mock_run(project, secondary)
    owned = {b["name"] for b in of_type(first, BUCKET)}

    assert {g["bucket"] for g in of_type(first, BUCKET_GRANT)} <= owned
    assert of_type(first, "gcp:cloudrunv2/job:Job")  # the rest of the stack still deploys


# 4. pulumi-gcp storage.TransferJob, `schedule_start_date`: "If schedule_start_date is in the
#    past, the transfer will run for the first time on the following day"; `overwrite_when`:
#    "If not set, overwrite behavior is determined by overwrite_objects_already_existing_in_sink"
#    (whose false still overwrites objects that differ). Locked records must never be replaced.
@projects_of("gcp", copies)
def test_copies_start_today_overwrite_as_declared_and_take_the_sink_key(project: Path) -> None:
    assert "the transfer will run for the first time on the following day" in sdk_doc(
        "storage", "_inputs"
    )
    result = run(project, plan_of(project).primary.name)
    locked = {
        b["name"] for b in of_type(result, BUCKET) if b.get("retentionPolicy", {}).get("isLocked")
    }
    today = datetime.datetime.now(datetime.UTC).date()

    for job in of_type(result, TRANSFER):
        start = job["schedule"]["scheduleStartDate"]
        assert datetime.date(start["year"], start["month"], start["day"]) >= today
        options = job["transferSpec"]["transferOptions"]
        source = job["transferSpec"]["gcsDataSource"]["bucketName"]
        assert options["overwriteWhen"] == ("NEVER" if source in locked else "DIFFERENT")
        assert "overwriteObjectsAlreadyExistingInSink" not in options
        # MetadataOptions.KmsKey: KMS_KEY_PRESERVE keeps "the object's original Cloud KMS
        # customer-managed encryption key"; the copies must not need the lost region's key
        # (https://cloud.google.com/storage-transfer/docs/reference/rest/v1/TransferSpec#KmsKey).
        assert options["metadataOptions"]["kmsKey"] == "KMS_KEY_DESTINATION_BUCKET_DEFAULT"


# 5a. Storage Transfer logs failed actions as ERROR when `logging_config` asks for them
#     (https://cloud.google.com/storage-transfer/docs/reference/rest/v1/LoggingConfig); a
#     log-match alert must set a notification rate limit (pulumi-gcp AlertPolicy).
@projects_of("gcp", copies)
def test_a_failed_copy_alerts(project: Path) -> None:
    result = run(project, plan_of(project).primary.name)
    alerts = [
        c["conditionMatchedLog"]["filter"]
        for a in of_type(result, ALERT)
        for c in a["conditions"]
        if "conditionMatchedLog" in c
    ]

    jobs = of_type(result, TRANSFER)
    assert jobs
    for job in jobs:
        assert job["loggingConfig"]["logActionStates"] == ["FAILED"]
    assert len([f for f in alerts if 'resource.type="storage_transfer_job"' in f]) == len(jobs)
    for alert in of_type(result, ALERT):
        assert alert["notificationChannels"]
        if any("conditionMatchedLog" in c for c in alert["conditions"]):
            assert alert["alertStrategy"]["notificationRateLimit"]["period"]


# 5b. Cloud SQL writes a system-event audit log `cloudsql.instances.automatedBackup` per backup
#     window, with `windowStatus` STATUS_SUCCEEDED when it worked
#     (https://cloud.google.com/sql/docs/postgres/backup-recovery/view-audit-logs-for-automated-backups).
@projects_of("gcp", uses_pgvector)
def test_a_failed_cloud_sql_backup_alerts(project: Path) -> None:
    plan = plan_of(project)
    result = run(project, plan.primary.name)
    (instance,) = of_type(result, SQL)
    filters = [
        c["conditionMatchedLog"]["filter"]
        for a in of_type(result, ALERT)
        for c in a["conditions"]
        if "conditionMatchedLog" in c
    ]

    (backup_alert,) = [f for f in filters if "cloudsql.instances.automatedBackup" in f]
    assert f'database_id="{instance["project"]}:{instance["name"]}"' in backup_alert
    assert 'NOT protoPayload.metadata.windowStatus="STATUS_SUCCEEDED"' in backup_alert


# 5c. A metric-absence condition fires when a series has no data for `duration`: at least 120 s,
#     a whole number of minutes, at most 23.5 hours
#     (https://cloud.google.com/monitoring/alerts/metric-absence). It watches Cloud Run's
#     built-in `run.googleapis.com/job/completed_execution_count` (label `result`,
#     https://cloud.google.com/monitoring/api/metrics_gcp_p_z#gcp-run), not a log-based metric:
#     an alert on a log-based metric created in the same deployment fails with "Error 404:
#     Cannot find metric(s) ... it could take up to 10 minutes to become available"
#     (hashicorp/terraform-provider-google#11102). Absence needs one data point first, so failed
#     executions alert too.
@projects_of("gcp", takes_snapshots)
def test_a_stale_or_failed_snapshot_alerts_within_the_rpo(project: Path) -> None:
    plan = plan_of(project)
    vectors = plan.component("vector_store")
    assert vectors is not None
    every = int(vectors.params["snapshot_every_seconds"])
    executions = 'metric.type="run.googleapis.com/job/completed_execution_count"'

    for region in vectors.serving:
        result = run(project, region)
        (job,) = not_the_vendor_watcher(of_type(result, "gcp:cloudrunv2/job:Job"))
        conditions = [
            c
            for a in of_type(result, ALERT)
            if "vendor" not in a["displayName"]
            for c in a["conditions"]
        ]
        (absent,) = [c["conditionAbsent"] for c in conditions if "conditionAbsent" in c]
        (failed,) = [
            c["conditionThreshold"]
            for c in conditions
            if 'result="failed"' in c.get("conditionThreshold", {}).get("filter", "")
        ]
        duration = int(absent["duration"].removesuffix("s"))

        assert of_type(result, "gcp:logging/metric:Metric") == []
        assert "logging.googleapis.com/user/" not in str(conditions)
        for condition in (absent, failed):
            assert executions in condition["filter"]
            assert f'resource.labels.job_name="{job["name"]}"' in condition["filter"]
        assert 'metric.labels.result="succeeded"' in absent["filter"]
        assert (failed["comparison"], failed["thresholdValue"]) == ("COMPARISON_GT", 0)
        assert 120 <= duration <= 84600 and duration % 60 == 0
        assert duration <= max(plan.objectives.rpo_seconds, every + 900)


class _Refusing(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.send_response(500)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def refusing_engine() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


# 5d. Cloud Run retries a task and marks the execution failed only when the container exits
#     non-zero (https://cloud.google.com/run/docs/create-jobs): an engine that refuses the
#     snapshot must fail the job and print no success line.
@projects_of("gcp", takes_snapshots)
def test_the_snapshot_job_fails_when_the_engine_refuses(
    project: Path, refusing_engine: str
) -> None:
    completed = subprocess.run(
        [sys.executable, str(project / "snapshot_trigger.py")],
        env={
            **os.environ,
            "VECTOR_STORE_URL": refusing_engine,
            "API_KEY": "test-key",
            "SUCCESS_EVENT": "drgen.snapshot.succeeded",
            "SNAPSHOT_PREFIX": "drgen-test-",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert completed.returncode != 0
    assert "drgen.snapshot.succeeded" not in completed.stdout


# 6. A promoted Cloud SQL replica keeps `backups={"enabled": False}` until the program changes
#    it; replicas take no backups, so the program turns them on once the stack says promoted.
def test_a_promoted_replica_takes_backups_with_point_in_time_recovery(tmp_path: Path) -> None:
    plan, project = rendered(tmp_path, WARM_PGVECTOR)
    secondary = plan.secondary
    assert secondary is not None

    replica = of_type(mock_run(project, secondary), SQL)[0]["settings"]["backupConfiguration"]
    promoted = mock_run(project, with_input(secondary, "vector_store_promoted", "true"))
    (instance,) = of_type(promoted, SQL)

    assert replica == {"enabled": False}
    assert instance["settings"]["backupConfiguration"]["enabled"] is True
    assert instance["settings"]["backupConfiguration"]["pointInTimeRecoveryEnabled"] is True
    assert any("automatedBackup" in str(a["conditions"]) for a in of_type(promoted, ALERT))


# 7. "When you create a backup of a Cloud SQL for PostgreSQL instance, the backup is encrypted
#    with the primary instance's customer-managed key" (https://cloud.google.com/sql/docs/postgres/cmek);
#    the instance a cold restore creates in the secondary is encrypted with that region's key,
#    which Cloud SQL's service agent must be allowed to use before the disaster.
def test_the_secondary_lets_cloud_sql_use_its_own_key_for_a_restore(tmp_path: Path) -> None:
    plan, project = rendered(tmp_path, COLD_PGVECTOR)
    secondary = plan.secondary
    assert secondary is not None

    result = mock_run(project, secondary)
    grants = of_type(result, "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember")

    assert of_type(result, SQL) == []
    assert any(
        "sqladmin" in g["member"] and f"/locations/{secondary.region}/" in g["cryptoKeyId"]
        for g in grants
    )


# 8. Configurable dual-regions pair only the regions of one location code's row of the table in
#    https://cloud.google.com/storage/docs/locations ("The EUROPE-NORTH1 and EUROPE-WEST4
#    dual-region pairing is only available as a predefined dual-region"); London, Zürich,
#    Tokyo and Montréal are in no row drgen can key (US, EU, ASIA).
@pytest.mark.parametrize(
    ("primary", "secondary", "expected"),
    [
        ("europe-west1", "europe-west4", "EU"),
        ("us-central1", "us-east1", "US"),
        ("asia-east1", "asia-southeast1", "ASIA"),
        ("europe-west1", "europe-west2", None),
        ("europe-west3", "europe-west6", None),
        ("europe-north1", "europe-west4", None),
        ("asia-northeast1", "asia-southeast1", None),
        ("northamerica-northeast1", "us-east1", None),
        ("us-east1", "us-east1", None),
    ],
)
def test_dual_regions_come_from_the_cloud_storage_table(
    primary: str, secondary: str, expected: str | None
) -> None:
    assert gcp_dual_region(primary, secondary) == expected


def test_a_live_pattern_over_an_unpairable_region_is_refused() -> None:
    london = {"primary": "europe-west1", "secondary": "europe-west2"}
    targets = {"europe-west1": "203.0.113.1", "europe-west2": "203.0.113.2"}
    endpoint = {"domain": "demo.example.com", "zone": "example.com", "targets": targets}

    with pytest.raises(ValidationError, match="dual-region"):
        make_workload(1, "gcp", regions=london, endpoint=endpoint)


# 9. pulumi-gcp sql.DatabaseInstance, replica_configuration.failover_target: "Not supported for
#    Postgres database."
@projects_of("gcp", uses_pgvector)
def test_no_postgres_replica_names_a_failover_target(project: Path) -> None:
    assert "Not supported for Postgres database" in sdk_doc("sql", "_inputs")
    for stack in plan_of(project).stacks:
        for instance in of_type(run(project, stack.name), SQL):
            # The SDK marks the whole block secret (it holds a password), so the mocks see only
            # whether it is there: drgen's replicas need none of its settings.
            assert "replicaConfiguration" not in instance


# 11. roles/storage.objectUser includes storage.objects.delete
#     (https://cloud.google.com/storage/docs/access-control/iam-roles): an engine that writes
#     each snapshot once and never prunes gets create and read only. Weaviate rewrites its
#     backup's metadata object, and replacing an object needs delete.
@projects_of("gcp", takes_snapshots)
def test_the_engine_may_create_and_read_snapshots_but_not_delete_them(project: Path) -> None:
    plan = plan_of(project)
    vectors = plan.component("vector_store")
    assert vectors is not None

    for region in vectors.serving:
        roles = {
            g["role"]
            for g in of_type(run(project, region), BUCKET_GRANT)
            if g["member"].startswith("serviceAccount:vectors@")
        }
        if vectors.engine == "weaviate":
            assert roles == {"roles/storage.objectUser"}
        else:
            assert roles == {"roles/storage.objectCreator", "roles/storage.objectViewer"}


# 12. CIS Google Cloud Platform Foundation Benchmark, section 6.2 (Cloud SQL for PostgreSQL
#     database flags) and https://cloud.google.com/sql/docs/postgres/pg-audit; the newest major
#     version the installed pulumi-gcp lists for `database_version`.
CIS_FLAGS = {
    "log_checkpoints": "on",
    "log_connections": "on",
    "log_disconnections": "on",
    "log_lock_waits": "on",
    "log_min_messages": "warning",
    "log_min_error_statement": "error",
    "log_min_duration_statement": "-1",
    # Checkov CKV_GCP_56 / tfsec google-sql-enable-pg-temp-file-logging: every temporary file.
    "log_temp_files": "0",
    # Checkov CKV_GCP_111 (and CIS 6.2): log_statement one of ddl, mod, all.
    "log_statement": "ddl",
    "cloudsql.enable_pgaudit": "on",
    "cloudsql.iam_authentication": "on",
}


@projects_of("gcp", uses_pgvector)
def test_cloud_sql_sets_the_cis_flags_pgaudit_and_the_newest_postgres(project: Path) -> None:
    versions = re.findall(r"POSTGRES_(\d+)", sdk_doc("sql", "database_instance"))
    newest = f"POSTGRES_{max(int(v) for v in versions)}"
    (instance,) = of_type(run(project, plan_of(project).primary.name), SQL)
    flags: dict[str, Any] = {f["name"]: f["value"] for f in instance["settings"]["databaseFlags"]}

    assert instance["databaseVersion"] == newest
    assert CIS_FLAGS.items() <= flags.items()
    assert flags["pgaudit.log"]


# 13. A Bigtable instance's display name has 4-30 characters: the Bigtable team's limits,
#     "MinDisplayNameLength = 4; MaxDisplayNameLength = 30" (googleapis/google-cloud-cpp#480);
#     workload names may have 40.
@pytest.mark.parametrize("tier", [1, 2])
def test_a_long_workload_name_still_fits_the_bigtable_display_name(
    tmp_path: Path, tier: int
) -> None:
    name = "storefront-recommendations-ranker"
    features = {"feature_store": {"engine": "bigtable"}}
    plan, project = rendered(tmp_path, make_workload(tier, "gcp", name=name, components=features))

    (instance,) = of_type(mock_run(project, plan.primary), "gcp:bigtable/instance:Instance")

    assert len(name) > 30
    assert 4 <= len(instance["displayName"]) <= 30


# 14. Weaviate's backup `id` "must be URL-safe and work as a filesystem path" and names the
#     backup's path in the bucket (Weaviate REST API, BackupCreateRequest /
#     BackupCreateResponse.path; "only lowercase, numbers, underscore, minus"). On active-active
#     both regions' engines snapshot into the one dual-region bucket on the same schedule, so
#     the names the two jobs give must differ, or one region's snapshot is refused as a
#     duplicate every time.
def test_both_regions_snapshot_into_one_bucket_under_different_names(tmp_path: Path) -> None:
    plan, project = rendered(tmp_path, ACTIVE_WEAVIATE)
    vectors = plan.component("vector_store")
    assert vectors is not None and len(vectors.serving) == 2

    prefixes = []
    for stack in plan.stacks:
        (job,) = of_type(mock_run(project, stack), "gcp:cloudrunv2/job:Job")
        envs = {
            e["name"]: e.get("value") for e in job["template"]["template"]["containers"][0]["envs"]
        }
        prefixes.append(envs["SNAPSHOT_PREFIX"])

    assert len(set(prefixes)) == 2
    for prefix in prefixes:
        assert re.fullmatch(r"[a-z0-9_-]+", prefix)
        assert f'"id": "{prefix}' in _first_request_body(project, prefix)


def _first_request_body(project: Path, prefix: str) -> str:
    """The body of the first request the generated trigger sends, run with SNAPSHOT_PREFIX."""
    bodies: list[str] = []

    class Recording(_Refusing):
        def do_POST(self) -> None:
            bodies.append(self.rfile.read(int(self.headers["Content-Length"] or 0)).decode())
            super().do_POST()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recording)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        subprocess.run(
            [sys.executable, str(project / "snapshot_trigger.py")],
            env={
                **os.environ,
                "VECTOR_STORE_URL": f"http://127.0.0.1:{server.server_address[1]}",
                "API_KEY": "test-key",
                "SUCCESS_EVENT": "drgen.snapshot.succeeded",
                "SNAPSHOT_PREFIX": prefix,
            },
            capture_output=True,
            timeout=60,
        )
    finally:
        server.shutdown()
        server.server_close()
    return bodies[0]


# 15. Without a `location`, Cloud SQL stores backups "in the closest multi-region location to
#     you by default" (https://cloud.google.com/sdk/gcloud/reference/sql/backups/create): a
#     one-region workload's module says so rather than promising a secondary it does not have.
def test_a_one_region_cloud_sql_module_names_where_its_backups_are(tmp_path: Path) -> None:
    one_region = make_workload(
        3,
        "gcp",
        regions={"primary": "us-west1"},
        endpoint=None,
        components={"vector_store": {"engine": "pgvector"}},
    )
    plan, project = rendered(tmp_path, one_region)
    module = (project / "vector_database.py").read_text()
    (instance,) = of_type(mock_run(project, plan.primary), SQL)

    assert plan.secondary is None
    assert "location" not in instance["settings"]["backupConfiguration"]
    assert "in the secondary" not in module and "stored in the secondary" not in module
    assert "multi-region nearest the instance" in module


# 16. An alert policy without notification channels opens incidents that notify no one
#     (pulumi-gcp monitoring.AlertPolicy, `notification_channels`: "Identifies the notification
#     channels to which notifications should be sent when incidents are opened or closed"): an
#     empty list is refused before anything deploys.
def test_a_stack_without_notification_channels_is_refused(tmp_path: Path) -> None:
    plan, project = rendered(tmp_path, COLD_PGVECTOR)

    with pytest.raises(DrgenError, match="alert_notification_channels must list"):
        mock_run(project, with_input(plan.primary, "alert_notification_channels", "[]"))


def copies_bigtable_backups(plan: DrPlan) -> bool:
    features = plan.component("feature_store")
    return features is not None and features.block == "bigtable-backup" and len(plan.stacks) > 1


# 17. Bigtable backups can leave their region only by backups:copy into a cluster of another
#     instance (https://cloud.google.com/bigtable/docs/reference/admin/rest/v2/
#     projects.instances.clusters.backups/copy: the parent "must already exist" and needs
#     bigtable.backups.create; the source needs bigtable.backups.read; expireTime "at least 6
#     hours and at most 30 days from the time the request is received"). Only Bigtable Editor
#     and Administrator hold bigtable.backups.read among Bigtable's predefined roles
#     (https://cloud.google.com/iam/docs/roles-permissions/bigtable), so the job gets Editor, on
#     the two instances only. The DR cluster's key must be regional and in the cluster's
#     region, usable by Bigtable's service agent (pulumi-gcp bigtable InstanceClusterArgs,
#     `kms_key_name`). The job and its schedule follow the snapshot job's rules (5c, 5d).
@projects_of("gcp", copies_bigtable_backups)
def test_the_secondary_copies_bigtable_backups_into_its_own_dr_instance(project: Path) -> None:
    plan = plan_of(project)
    features = plan.component("feature_store")
    assert features is not None and plan.secondary is not None
    primary, secondary = run(project, plan.primary.name), run(project, plan.secondary.name)
    region = plan.secondary.region
    instance, grant = (
        "gcp:bigtable/instance:Instance",
        "gcp:bigtable/instanceIamMember:InstanceIamMember",
    )

    (source,) = of_type(primary, instance)
    (dr,) = of_type(secondary, instance)
    (cluster,) = dr["clusters"]
    (job,) = not_the_vendor_watcher(of_type(secondary, "gcp:cloudrunv2/job:Job"))
    (schedule,) = not_the_vendor_watcher(of_type(secondary, "gcp:cloudscheduler/job:Job"))
    accounts = {
        a["accountId"]
        for a in of_type(secondary, "gcp:serviceaccount/account:Account")
        if "-vwatch-" not in a["accountId"] and "-vsched-" not in a["accountId"]
    }
    env = {e["name"]: e["value"] for e in job["template"]["template"]["containers"][0]["envs"]}
    runner = job["template"]["template"]["serviceAccount"]
    (reads,) = of_type(primary, grant)
    (creates,) = of_type(secondary, grant)
    retention = int(env["RETENTION_SECONDS"])

    assert (cluster["zone"].rsplit("-", 1)[0], cluster["numNodes"]) == (region, 1)
    assert cluster["kmsKeyName"].split("/locations/")[1].startswith(f"{region}/")
    assert "autoscalingConfig" not in cluster and cluster["storageType"] in ("SSD", "HDD")
    assert dr["deletionProtection"] is True and dr["labels"]["drgen-component"] == "feature-store"
    assert dr["name"] != source["name"]
    assert env["SOURCE_INSTANCE"].endswith(f"/instances/{source['name']}")
    assert env["DESTINATION_CLUSTER"].endswith(
        f"/instances/{dr['name']}/clusters/{cluster['clusterId']}"
    )
    assert 6 * 3600 <= retention <= 30 * 86400
    assert retention == features.params["backup_retention_days"] * 86400
    assert int(env["COPY_BUDGET_SECONDS"]) < int(job["template"]["template"]["timeout"][:-1])
    assert (reads["instance"], creates["instance"]) == (source["name"], dr["name"])
    assert {reads["role"], creates["role"]} == {"roles/bigtable.editor"}
    assert reads["member"] == creates["member"] == f"serviceAccount:{runner}"
    assert runner.split("@")[0] in accounts
    assert of_type(secondary, "gcp:projects/iAMMember:IAMMember") == []
    assert schedule["httpTarget"]["oauthToken"]["serviceAccountEmail"] != runner
    assert schedule["httpTarget"]["uri"].endswith(f"/locations/{region}/jobs/{job['name']}:run")
    (alert,) = [a for a in of_type(secondary, ALERT) if "Bigtable backup copy" in a["displayName"]]
    (condition,) = alert["conditions"]
    failed = condition["conditionThreshold"]
    assert 'metric.type="run.googleapis.com/job/completed_execution_count"' in failed["filter"]
    assert f'resource.labels.job_name="{job["name"]}"' in failed["filter"]
    assert 'metric.labels.result="failed"' in failed["filter"]
    assert (failed["comparison"], failed["thresholdValue"]) == ("COMPARISON_GT", 0)
    assert alert["notificationChannels"]


# 18. A one-region cold restore has nowhere to copy Bigtable backups to: no DR instance, no job.
def test_a_one_region_bigtable_has_no_copy_job(tmp_path: Path) -> None:
    one_region = make_workload(
        3,
        "gcp",
        regions={"primary": "us-west1"},
        endpoint=None,
        components={"feature_store": {"engine": "bigtable"}},
    )
    plan, project = rendered(tmp_path, one_region)
    result = mock_run(project, plan.primary)

    assert plan.secondary is None and not (project / "bigtable_copy.py").exists()
    assert len(of_type(result, "gcp:bigtable/instance:Instance")) == 1
    assert of_type(result, "gcp:bigtable/instanceIamMember:InstanceIamMember") == []


@projects_of("gcp", takes_snapshots)
def test_the_snapshot_job_gives_up_before_cloud_run_kills_it(project: Path) -> None:
    # Cloud Run's task `timeout` kills the container ("the system will actively try to mark it
    # failed and kill associated containers", pulumi_gcp cloudrunv2 JobTemplateTemplate
    # `timeout`); the trigger's own bound must end first so the engine's state is logged.
    vectors = plan_of(project).component("vector_store")
    assert vectors is not None
    for region in vectors.serving:
        (job,) = not_the_vendor_watcher(of_type(run(project, region), "gcp:cloudrunv2/job:Job"))
        task = job["template"]["template"]
        timeout = int(task["timeout"].removesuffix("s"))
        (container,) = task["containers"]
        env = {e["name"]: e.get("value") for e in container["envs"]}
        assert int(env["SNAPSHOT_BUDGET_SECONDS"]) < timeout


def watches(plan: DrPlan) -> bool:
    return watch(plan) is not None


def _watcher(result: dict[str, Any], token: str) -> dict[str, Any]:
    (found,) = [r for r in of_type(result, token) if str(r["name"]).endswith("-vendor-watch")]
    return found


# 19. The vendor watcher polls at most once a minute and two polls never overlap. Cloud
#     Scheduler's unix-cron fires at most every minute
#     (https://cloud.google.com/scheduler/docs/configuring/cron-job-schedules); pulumi-gcp
#     cloudscheduler.Job `attempt_deadline`: "For HTTP targets, between 15 seconds and 30
#     minutes"; cloudrunv2 JobTemplateTemplate `max_retries`: "Defaults to 3" (a retried poll
#     would count one outage twice), `timeout` kills the task, and `parallelism` "Must be <=
#     taskCount".
@projects_of("gcp", watches)
def test_the_vendor_watcher_runs_one_task_per_interval_never_retried(project: Path) -> None:
    assert "between 15 seconds and 30 minutes" in sdk_doc("cloudscheduler", "job")
    inputs = sdk_doc("cloudrunv2", "_inputs")
    assert (
        "Number of retries allowed per Task, before marking this Task failed. Defaults to 3."
        in (inputs)
    )
    vendor_watch = watch(plan_of(project))
    assert vendor_watch is not None
    assert vendor_watch.interval % 60 == 0 and vendor_watch.interval >= 60

    for stack in plan_of(project).stacks:
        result = run(project, stack.name)
        job = _watcher(result, "gcp:cloudrunv2/job:Job")
        schedule = _watcher(result, "gcp:cloudscheduler/job:Job")
        task = job["template"]["template"]
        assert (job["template"]["taskCount"], job["template"]["parallelism"]) == (1, 1)
        assert task["maxRetries"] == 0
        assert int(task["timeout"].removesuffix("s")) < vendor_watch.interval
        assert schedule["schedule"] == cron_every(vendor_watch.interval)
        assert 15 <= int(schedule["attemptDeadline"].removesuffix("s")) <= 1800
        assert schedule["retryConfig"]["retryCount"] == 0
        assert schedule["httpTarget"]["uri"].endswith(f"/jobs/{job['name']}:run")
        # The image the other jobs run (test 27).
        assert task["containers"][0]["image"] == settings_constant(project, "PYTHON_IMAGE")


# 20. A topic encrypted with a customer-managed key needs the project's Pub/Sub service agent
#     to hold the key: pulumi-gcp pubsub.Topic `kms_key_name`: "Your project's PubSub service
#     account (service-{{PROJECT_NUMBER}}@gcp-sa-pubsub.iam.gserviceaccount.com) must have
#     roles/cloudkms.cryptoKeyEncrypterDecrypter to use this feature." Messages stay in the
#     key's region (https://cloud.google.com/pubsub/docs/resource-location-restriction).
@projects_of("gcp", watches)
def test_the_switch_topic_is_encrypted_with_the_regions_key_its_agent_may_use(
    project: Path,
) -> None:
    assert "must have `roles/cloudkms.cryptoKeyEncrypterDecrypter`" in sdk_doc("pubsub", "topic")
    for stack in plan_of(project).stacks:
        result = run(project, stack.name)
        (topic,) = of_type(result, "gcp:pubsub/topic:Topic")
        (key,) = records_of_type(result, "gcp:kms/cryptoKey:CryptoKey")
        (agent,) = [
            s
            for s in of_type(result, "gcp:projects/serviceIdentity:ServiceIdentity")
            if s["service"] == "pubsub.googleapis.com"
        ]
        grants = [
            g
            for g in records_of_type(result, "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember")
            if g["name"].endswith("-pubsub-agent")
        ]

        assert agent and len(grants) == 1
        assert grants[0]["inputs"]["cryptoKeyId"] == key["id"] == topic["kmsKeyName"]
        assert grants[0]["inputs"]["role"] == "roles/cloudkms.cryptoKeyEncrypterDecrypter"
        assert topic["messageStoragePolicy"]["allowedPersistenceRegions"] == [stack.region]


# 21. The watcher's account may touch one object, add records under one prefix and publish on
#     one topic, nothing project-wide. Replacing an object needs storage.objects.delete as well
#     as create (https://cloud.google.com/storage/docs/access-control/iam-permissions), so
#     objectUser, narrowed by an IAM condition on resource.name
#     (https://cloud.google.com/storage/docs/access-control/iam#conditions; resource names
#     projects/_/buckets/BUCKET/objects/OBJECT).
@projects_of("gcp", watches)
def test_the_watcher_may_write_only_its_switch_its_records_and_its_topic(project: Path) -> None:
    plan = plan_of(project)
    vendor_watch = watch(plan)
    assert vendor_watch is not None
    for stack in plan.stacks:
        result = run(project, stack.name)
        job = _watcher(result, "gcp:cloudrunv2/job:Job")
        runner = job["template"]["template"]["serviceAccount"]
        env = {e["name"]: e["value"] for e in job["template"]["template"]["containers"][0]["envs"]}
        grants = [
            g
            for token in (
                "gcp:storage/bucketIAMMember:BucketIAMMember",
                "gcp:pubsub/topicIAMMember:TopicIAMMember",
            )
            for g in of_type(result, token)
            if g["member"] == f"serviceAccount:{runner}"
        ]
        bucket = vendor_watch.switch_buckets[stack.region]
        switch_object = f"projects/_/buckets/{bucket}/objects/{vendor_watch.switch_object}"
        records = f"projects/_/buckets/{env['AUDIT_BUCKET']}/objects/vendor-switch/"

        assert sorted((g.get("bucket", g.get("topic")), g["role"]) for g in grants) == sorted(
            [
                (bucket, "roles/storage.objectUser"),
                (env["AUDIT_BUCKET"], "roles/storage.objectCreator"),
                (vendor_watch.switch_topics[stack.region], "roles/pubsub.publisher"),
            ]
        )
        conditions = {g["role"]: g.get("condition", {}).get("expression") for g in grants}
        assert conditions["roles/storage.objectUser"] == f'resource.name == "{switch_object}"'
        assert conditions["roles/storage.objectCreator"] == (
            f'resource.name.startsWith("{records}")'
        )
        assert env["SWITCH_BUCKET"] == bucket and env["REGION"] == stack.region


# 22. Absence conditions take whole minutes (pulumi-gcp monitoring
#     AlertPolicyConditionConditionAbsent `duration`: "only values that are a multiple of a
#     minute--e.g. 60s, 120s, or 300s --are supported"); a failed poll and a schedule that
#     starts nothing both alert.
@projects_of("gcp", watches)
def test_a_failing_or_silent_vendor_watcher_alerts(project: Path) -> None:
    assert "only values that are a multiple of a minute" in sdk_doc("monitoring", "_inputs")
    for stack in plan_of(project).stacks:
        result = run(project, stack.name)
        (policy,) = [
            a for a in of_type(result, ALERT) if "vendor watcher failing" in a["displayName"]
        ]
        threshold = next(
            c["conditionThreshold"] for c in policy["conditions"] if "conditionThreshold" in c
        )
        absent = next(c["conditionAbsent"] for c in policy["conditions"] if "conditionAbsent" in c)

        assert 'metric.labels.result="failed"' in threshold["filter"]
        assert 'resource.labels.job_name="' in threshold["filter"]
        assert 'metric.labels.result="succeeded"' in absent["filter"]
        assert int(absent["duration"].removesuffix("s")) % 60 == 0
        assert policy["notificationChannels"]
        (switched,) = [
            a for a in of_type(result, ALERT) if "vendor route switched" in a["displayName"]
        ]
        assert (
            'jsonPayload.event="drgen.vendor.switch"'
            in switched["conditions"][0]["conditionMatchedLog"]["filter"]
        )


# 23. A live pattern's audit bucket is dual-region and the primary's stack creates it: the
#     secondary's first deployment must not grant on it yet (see 3).
def test_a_secondary_first_deployment_grants_no_records_on_the_primarys_audit_bucket(
    tmp_path: Path,
) -> None:
    workload = make_workload(
        1,
        "gcp",
        vendors=[
            {"name": "anthropic", "model": "claude-sonnet", "role": "primary"},
            {"name": "openai", "model": "gpt-4o", "role": "alternate"},
        ],
        degraded_mode="human",
    )
    plan, project = rendered(tmp_path, workload)
    secondary = plan.secondary
    audit = plan.component("audit_log")
    assert secondary is not None and audit is not None and audit.replication == "dual-region"
    config = project / f"Pulumi.{secondary.name}.yaml"
    config.write_text(config.read_text() + f'  {plan.workload}:peer_deployed: "false"\n')

    first = mock_run(project, secondary)

    assert first["problems"] == []
    grants = of_type(first, BUCKET_GRANT)
    assert [g for g in grants if g["bucket"] == audit.global_name] == []
    assert _watcher(first, "gcp:cloudrunv2/job:Job")  # the watcher itself is deployed


def _records_grant_waits_for_its_bucket(result: dict[str, Any]) -> None:
    """The watcher's grant on the audit bucket depends on the Bucket resource of that name."""
    job = _watcher(result, "gcp:cloudrunv2/job:Job")
    env = {e["name"]: e["value"] for e in job["template"]["template"]["containers"][0]["envs"]}
    (bucket,) = [
        b for b in records_of_type(result, BUCKET) if b["inputs"]["name"] == env["AUDIT_BUCKET"]
    ]
    waits_for = result["dependencies"][f"{BUCKET_GRANT} vendor-switch-records"]
    assert f"{BUCKET} {bucket['name']}" in waits_for, waits_for


# 25. A grant on a bucket that does not exist yet fails the deploy, and Pulumi orders creation
#     only by what it can see: "Pulumi automatically tracks dependencies between resources when
#     you supply an input argument that came from another resource's output properties"
#     (https://www.pulumi.com/docs/iac/concepts/resources/options/dependson/); a bucket named by
#     a plain string is created in parallel with its grant. The watcher's grant on this stack's
#     audit bucket takes the name from the bucket's resource.
@projects_of("gcp", watches)
def test_the_watchers_record_grant_waits_for_the_audit_bucket(project: Path) -> None:
    for stack in plan_of(project).stacks:
        _records_grant_waits_for_its_bucket(run(project, stack.name))


def test_the_primarys_record_grant_waits_for_its_dual_region_audit_bucket(
    tmp_path: Path,
) -> None:
    workload = make_workload(
        1,
        "gcp",
        vendors=[
            {"name": "anthropic", "model": "claude-sonnet", "role": "primary"},
            {"name": "openai", "model": "gpt-4o", "role": "alternate"},
        ],
        degraded_mode="human",
    )
    plan, project = rendered(tmp_path, workload)
    audit = plan.component("audit_log")
    assert audit is not None and audit.replication == "dual-region"

    _records_grant_waits_for_its_bucket(mock_run(project, plan.primary))


# 26. Log-based alerts notify at most "1 notification every 5 minutes" and 20 a day per policy
#     (https://cloud.google.com/logging/docs/alerting/log-based-incidents); the switch alert
#     uses that floor, not the hourly repeat of failure alerts, so a flapping switch reaches a
#     person. A schedule whose run request fails starts no execution, so the job's metrics show
#     nothing: Cloud Scheduler logs each failed attempt under resource.type
#     "cloud_scheduler_job" (labels job_id, location) at ERROR, which a log alert watches.
@projects_of("gcp", watches)
def test_every_switch_and_a_failing_schedule_reach_the_channels(project: Path) -> None:
    for stack in plan_of(project).stacks:
        result = run(project, stack.name)
        schedule = _watcher(result, "gcp:cloudscheduler/job:Job")
        alerts = {a["displayName"]: a for a in of_type(result, ALERT)}
        (switched,) = [a for name, a in alerts.items() if "vendor route switched" in name]
        (scheduler,) = [a for name, a in alerts.items() if "schedule failing" in name]
        failures = [
            a["alertStrategy"]["notificationRateLimit"]["period"]
            for a in alerts.values()
            if "conditionMatchedLog" in a["conditions"][0] and a is not switched
        ]

        assert switched["alertStrategy"]["notificationRateLimit"]["period"] == "300s"
        assert all(int(period.removesuffix("s")) >= 300 for period in failures)
        log_filter = scheduler["conditions"][0]["conditionMatchedLog"]["filter"]
        assert 'resource.type="cloud_scheduler_job"' in log_filter
        assert f'resource.labels.job_id="{schedule["name"]}"' in log_filter
        assert f'resource.labels.location="{stack.region}"' in log_filter
        assert "severity>=ERROR" in log_filter
        assert scheduler["notificationChannels"] and switched["notificationChannels"]


def settings_constant(project: Path, name: str) -> str:
    """A string constant of the project's generated storage.py, read without running it."""
    found = re.search(rf'^{name} = "([^"]+)"$', (project / "storage.py").read_text(), re.M)
    assert found is not None, name
    return found.group(1)


# 27. Every Cloud Run job runs the one image named in storage.py (PYTHON_IMAGE). It stays a tag:
#     no current digest of python:3.12-slim could be verified offline, and a digest must never
#     be invented; storage.py says why and the README says how to mirror and pin it (and says
#     nothing of it where no job runs). Each job runs one task at a time: cloudrunv2
#     JobTemplateArgs `parallelism` "Must be <= taskCount" and, "if this field is 0 or unset,
#     the maximum possible value will be used".
@projects_of("gcp")
def test_every_cloud_run_job_runs_the_one_python_image_the_readme_explains(
    project: Path,
) -> None:
    assert "Must be <= taskCount" in sdk_doc("cloudrunv2", "_inputs")
    jobs = [
        job
        for stack in plan_of(project).stacks
        for job in of_type(run(project, stack.name), "gcp:cloudrunv2/job:Job")
    ]
    images = {c["image"] for job in jobs for c in job["template"]["template"]["containers"]}
    image = settings_constant(project, "PYTHON_IMAGE")
    readme = " ".join((project / "README.md").read_text().split())
    if not jobs:
        assert "`PYTHON_IMAGE` in storage.py" not in readme
        return

    assert all((j["template"]["taskCount"], j["template"]["parallelism"]) == (1, 1) for j in jobs)
    assert images == {image}
    assert image == "python:3.12-slim" or "@sha256:" in image
    assert "`PYTHON_IMAGE` in storage.py" in readme
    assert "python@sha256:DIGEST" in readme


# 29. Every Bigtable table keeps daily automated backups, the replicated one too: replication
#     copies a bad write to every cluster, and a table without backups has nothing to restore it
#     from. Automated backups run every 24 hours (the only frequency) and are kept 3 to 90 days
#     (https://cloud.google.com/bigtable/docs/reference/admin/rest/v2/projects.instances.tables
#     #automatedbackuppolicy); without `locations` they are taken in every cluster, so the
#     recovery region holds its own (pulumi-gcp bigtable.Table `automated_backup_policy`).
@projects_of(
    "gcp",
    lambda plan: (c := plan.component("feature_store")) is not None and c.engine == "bigtable",
)
def test_every_bigtable_table_keeps_daily_backups_in_every_cluster(project: Path) -> None:
    plan = plan_of(project)
    (table,) = of_type(run(project, plan.primary.name), "gcp:bigtable/table:Table")
    policy = table["automatedBackupPolicy"]
    assert policy["frequency"] == "86400s"
    retention = int(policy["retentionPeriod"].removesuffix("s"))
    assert 3 * 86400 <= retention <= 90 * 86400
    assert "locations" not in policy


# 30. "When you create a backup of a Cloud SQL for PostgreSQL instance, the backup is encrypted
#     with the primary instance's customer-managed key" (https://cloud.google.com/sql/docs/postgres/cmek),
#     and that key "must be in the same region as the SQL instance" (pulumi-gcp
#     sql.DatabaseInstance, `encryption_key_name`): backups stored in the secondary still need
#     the primary region's key. What the secondary restores from must be encrypted with a key in
#     the secondary, and nothing in the secondary's stack may name the primary's key.
def test_the_cold_restore_of_cloud_sql_needs_no_key_of_the_primary_region(tmp_path: Path) -> None:
    assert "must be in the same region as the SQL instance" in sdk_doc("sql", "database_instance")
    plan, project = rendered(tmp_path, COLD_PGVECTOR)
    secondary = plan.secondary
    vectors = plan.component("vector_store")
    assert secondary is not None and vectors is not None

    result = mock_run(project, secondary)
    (exports,) = [
        b for b in of_type(result, BUCKET) if b["name"] == vectors.params["export_bucket"]
    ]

    assert f"/locations/{secondary.region}/" in exports["encryption"]["defaultKmsKeyName"]
    assert f"/locations/{plan.primary.region}/" not in str(result["resources"])
    assert (project / "cloudsql_export.py").exists()


# 31. Cloud SQL checks cloudsql.instances.export on the project (instances take no IAM policy);
#     an IAM condition can limit a project grant to one instance by `resource.type ==
#     'sqladmin.googleapis.com/Instance' && resource.name == 'projects/<project id>/instances/
#     <instance>'` (https://cloud.google.com/sql/docs/postgres/iam-conditions; Google's sample
#     terraform-docs-samples cloud_sql/instance_iam_condition/main.tf). A custom role ID
#     "Cannot contain `-` characters" (pulumi-gcp projects.IAMCustomRole, `role_id`).
def test_the_export_job_may_export_the_primarys_instance_and_nothing_else(tmp_path: Path) -> None:
    assert "Cannot contain `-` characters" in sdk_doc("projects", "iam_custom_role")
    plan, project = rendered(tmp_path, COLD_PGVECTOR)
    secondary = plan.secondary
    vectors = plan.component("vector_store")
    assert secondary is not None and vectors is not None

    result = mock_run(project, secondary)
    (role,) = of_type(result, "gcp:projects/iAMCustomRole:IAMCustomRole")
    (grant,) = of_type(result, "gcp:projects/iAMMember:IAMMember")
    (job,) = of_type(result, "gcp:cloudrunv2/job:Job")

    assert "-" not in role["roleId"]
    assert role["permissions"] == ["cloudsql.instances.export", "cloudsql.instances.get"]
    assert grant["role"] == f"projects/my-project/roles/{role['roleId']}"
    assert grant["member"] == f"serviceAccount:{job['template']['template']['serviceAccount']}"
    assert grant["condition"]["expression"] == (
        "resource.type == 'sqladmin.googleapis.com/Instance'"
        f" && resource.name == 'projects/my-project/instances/{vectors.names[plan.primary.region]}'"
    )


# 32. To export into Cloud Storage, "the service account for the Cloud SQL instance must have"
#     storage.objectAdmin or a custom role with storage.objects.create
#     (https://cloud.google.com/sql/docs/postgres/import-export/import-export-sql); since 2024
#     exports with objectCreator alone fail: "permissions missing are: [storage.objects.delete]"
#     (terraform-google-modules/terraform-google-sql-db issue 599; PR 656 quotes Google
#     support: grant storage.objects.delete on the bucket). roles/storage.objectUser holds
#     create and delete without objectAdmin's IAM permissions
#     (https://cloud.google.com/iam/docs/roles-permissions/storage); IAM Conditions on a bucket
#     need uniform bucket-level access, and an object's resource.name is
#     projects/_/buckets/<bucket>/objects/<object>
#     (https://cloud.google.com/storage/docs/access-control/iam#conditions). The primary's
#     instance writes into the secondary's bucket, which the secondary's stack owns and deploys
#     first.
def test_the_primarys_instance_may_write_and_delete_only_its_own_exports(
    tmp_path: Path,
) -> None:
    plan, project = rendered(tmp_path, COLD_PGVECTOR)
    vectors = plan.component("vector_store")
    assert plan.secondary is not None and vectors is not None
    export_bucket = str(vectors.params["export_bucket"])
    instance_name = vectors.names[plan.primary.region]

    result = mock_run(project, plan.primary)
    grants = [g for g in of_type(result, BUCKET_GRANT) if g["bucket"] == export_bucket]
    (instance,) = of_type(result, SQL)
    (bucket,) = [
        b for b in of_type(mock_run(project, plan.secondary), BUCKET) if b["name"] == export_bucket
    ]

    assert [g["role"] for g in grants] == ["roles/storage.objectUser"]
    assert grants[0]["member"].endswith("@gcp-sa-cloud-sql.iam.gserviceaccount.com")
    assert grants[0]["condition"]["expression"] == (
        f"resource.name.startsWith('projects/_/buckets/{export_bucket}/objects/{instance_name}/')"
    )
    assert bucket["uniformBucketLevelAccess"] is True
    assert instance["name"] == instance_name
    assert plan.deploy.first[0].role == "secondary"
    # The job writes under the same prefix the condition allows.
    assert 'f"gs://{bucket}/{instance}/' in (project / "cloudsql_export.py").read_text()


# 33. Cloud SQL runs one operation at a time on an instance; an export started while another
#     runs is refused (HTTP 409) and "If the file already exists, the operation fails"
#     (https://cloud.google.com/sdk/gcloud/reference/sql/export/sql). A Cloud Run task's
#     `timeout` holds per attempt and `max_retries` adds attempts (pulumi-gcp cloudrunv2
#     JobTemplateTemplate: "Number of retries allowed per Task, before marking this Task
#     failed"), so an execution with retries can outlast the interval and overlap the next. The
#     job is never retried (it asks again itself on a 409: tests/test_cloudsql_export.py) and
#     its one attempt ends ten minutes before the next run; Cloud Scheduler fires it within the
#     RPO (three runs per RPO, hourly at least: plan.py).
@pytest.mark.parametrize(("rpo", "every"), [("4h", 3600), ("1d", 28800), ("3d", 86400)])
def test_exports_never_overlap_and_run_within_the_rpo(tmp_path: Path, rpo: str, every: int) -> None:
    assert "Number of retries allowed per Task" in sdk_doc("cloudrunv2", "_inputs")
    workload = make_workload(
        2, "gcp", components={"vector_store": {"engine": "pgvector"}}, objectives={"rpo": rpo}
    )
    plan, project = rendered(tmp_path, workload)
    assert plan.secondary is not None

    result = mock_run(project, plan.secondary)
    (job,) = of_type(result, "gcp:cloudrunv2/job:Job")
    (schedule,) = of_type(result, "gcp:cloudscheduler/job:Job")
    task = job["template"]["template"]
    env = {e["name"]: e["value"] for e in task["containers"][0]["envs"]}
    timeout = int(task["timeout"].removesuffix("s"))

    assert schedule["schedule"] == cron_every(every)
    assert task["maxRetries"] == 0
    assert int(env["EXPORT_BUDGET_SECONDS"]) < timeout <= every - 600
    assert every <= plan.objectives.rpo_seconds / 3 or every == 3600


# 33b. GCS lifecycle conditions judge each object alone (age, isLive, numNewerVersions of the
#     same name: https://cloud.google.com/storage/docs/lifecycle#conditions), and every export is
#     a new object, so an age rule would delete the newest export too once exports have failed
#     for longer than it. The export bucket has no age rule; the job keeps the newest
#     EXPORTS_KEPT (tests/test_cloudsql_export.py), listing on the bucket ("storage.objects.list
#     ... is checked on the bucket": resource.type storage.googleapis.com/Bucket) and deleting
#     only under the primary's prefix.
def test_the_newest_export_is_never_expired(tmp_path: Path) -> None:
    plan, project = rendered(tmp_path, COLD_PGVECTOR)
    vectors = plan.component("vector_store")
    assert plan.secondary is not None and vectors is not None
    export_bucket = str(vectors.params["export_bucket"])
    primary = vectors.names[plan.primary.region]

    result = mock_run(project, plan.secondary)
    (bucket,) = [b for b in of_type(result, BUCKET) if b["name"] == export_bucket]
    (job,) = of_type(result, "gcp:cloudrunv2/job:Job")
    (prune,) = [g for g in of_type(result, BUCKET_GRANT) if g["role"] == "roles/storage.objectUser"]
    env = {e["name"]: e["value"] for e in job["template"]["template"]["containers"][0]["envs"]}

    assert not [
        r
        for r in bucket["lifecycleRules"]
        if "age" in r["condition"] and r["action"]["type"] == "Delete"
    ]
    every = int(vectors.params["export_every_seconds"])
    assert int(env["EXPORTS_KEPT"]) == vectors.params["backup_retention_days"] * 86400 // every
    assert prune["member"] == f"serviceAccount:{job['template']['template']['serviceAccount']}"
    assert prune["condition"]["expression"] == (
        "resource.type == 'storage.googleapis.com/Bucket' || resource.name.startsWith("
        f"'projects/_/buckets/{export_bucket}/objects/{primary}/')"
    )


# 34. "shared-core and custom machine types are valid only under the `ENTERPRISE` edition;
#     PostgreSQL 16+ instances default to `ENTERPRISE_PLUS` when `edition` is unset" (pulumi-gcp
#     sql DatabaseInstanceSettings `tier`), so the RUNBOOK's `gcloud sql instances create` of the
#     recovery instance names the edition the stack declares. A dump that replays `CREATE
#     EXTENSION pgaudit` fails where cloudsql.enable_pgaudit is off
#     (https://cloud.google.com/sql/docs/postgres/pg-audit): the recovery instance carries the
#     primary's flags, all of them, with ^:^ as delimiter since pgaudit.log's value holds a comma
#     (`gcloud topic escaping`); and it is as available and backed up as the primary.
def test_the_recovery_instance_is_created_as_the_stack_declares_the_primary(
    tmp_path: Path,
) -> None:
    assert "PostgreSQL 16+ instances default to `ENTERPRISE_PLUS`" in sdk_doc("sql", "_inputs")
    plan, project = rendered(tmp_path, COLD_PGVECTOR)
    (instance,) = of_type(mock_run(project, plan.primary), SQL)
    settings = instance["settings"]
    (create,) = [
        line.strip()
        for line in (project / "RUNBOOK.md").read_text().splitlines()
        if line.strip().startswith("gcloud sql instances create")
    ]
    flags = dict(re.findall(r"--([a-z-]+)(?:=('[^']*'|\S+))?", create))

    assert flags["edition"] == settings["edition"].lower().replace("_", "-")
    assert flags["availability-type"] == settings["availabilityType"].lower()
    assert flags["ssl-mode"] == settings["ipConfiguration"]["sslMode"]
    assert flags["tier"] == settings["tier"]
    delimited = flags["database-flags"].strip("'")
    assert delimited.startswith("^:^")
    assert [f.split("=", 1) for f in delimited[3:].split(":")] == [
        [f["name"], f["value"]] for f in settings["databaseFlags"]
    ]
    backups = settings["backupConfiguration"]
    assert flags["backup-start-time"] == backups["startTime"]
    assert "enable-point-in-time-recovery" in flags and "deletion-protection" in flags
    assert flags["retained-backups-count"] == str(
        backups["backupRetentionSettings"]["retainedBackups"]
    )
    assert flags["retained-transaction-log-days"] == str(backups["transactionLogRetentionDays"])


# 35. A PostgreSQL dump replays `ALTER ... OWNER TO <role>`, which fails for a role the new
#     instance lacks ("create the users ... before importing":
#     https://cloud.google.com/sql/docs/postgres/import-export/import-export-sql); Cloud SQL IAM
#     service-account users are named without `.gserviceaccount.com`
#     (https://cloud.google.com/sql/docs/postgres/add-manage-iam-users). The RUNBOOK creates
#     every owner named in the dump before importing as postgres.
def test_the_dumps_owners_exist_before_the_import(tmp_path: Path) -> None:
    _, project = rendered(tmp_path, COLD_PGVECTOR)
    runbook = (project / "RUNBOOK.md").read_text()
    owners = runbook.index("grep -oE 'OWNER TO [^;]+'")
    created = runbook.index("gcloud sql users create $OWNER")
    # The first import restores into the secondary; the other is fail-back's.
    imported = re.findall(r"gcloud sql import sql .*", runbook)[0]

    assert owners < created < runbook.index(imported)
    assert "--type=cloud_iam_service_account" in runbook and "*.iam)" in runbook
    assert "--user=postgres" in imported


# 36. Fail-back copies back only what a stack copied out: pgvector's secondary bucket holds
#     Cloud SQL exports and the primary has no vectors bucket (no stack declares one), so a
#     Storage Transfer job into it would fail; the vectors go back by a Cloud SQL export from
#     the recovery instance imported into the primary's (gcloud sql export sql --clean
#     --if-exists: "include DROP <object> SQL statements ... before running the import",
#     https://cloud.google.com/sql/docs/postgres/admin-api/rest/v1/instances/export).
def test_pgvector_fails_back_through_cloud_sql_not_a_bucket_copy(tmp_path: Path) -> None:
    plan, project = rendered(tmp_path, COLD_PGVECTOR)
    vectors = plan.component("vector_store")
    assert plan.secondary is not None and vectors is not None
    primary, secondary = plan.primary.region, plan.secondary.region
    runbook = (project / "RUNBOOK.md").read_text()
    buckets = {b["name"] for b in of_type(mock_run(project, plan.primary), BUCKET)}

    assert vectors.names[primary] not in buckets
    assert f"gs://{vectors.names[primary]}" not in runbook
    assert "copy_every_seconds" not in vectors.params
    (export,) = re.findall(r"gcloud sql export sql .*", runbook)
    assert export.startswith(f"gcloud sql export sql {vectors.names[secondary]} $FAILBACK ")
    assert "--clean --if-exists" in export
    assert f"gcloud sql import sql {vectors.names[primary]} $FAILBACK " in runbook


# 37. Every resource type is served by one Google API, which must be enabled before `pulumi up`
#     creates it ("Before you begin: enable the Cloud Run Admin API and the Cloud Scheduler
#     API", https://cloud.google.com/run/docs/execute/jobs-on-schedule; service accounts and
#     custom roles: iam.googleapis.com; project IAM policies: cloudresourcemanager.googleapis.com,
#     https://cloud.google.com/resource-manager/reference/rest/v1/projects/setIamPolicy). The
#     README's `gcloud services enable` names the API of every type the stacks declare.
API_OF_TYPE = {
    "gcp:bigtable/": "bigtableadmin.googleapis.com",
    "gcp:cloudrunv2/": "run.googleapis.com",
    "gcp:cloudscheduler/": "cloudscheduler.googleapis.com",
    "gcp:compute/": "compute.googleapis.com",
    "gcp:dns/": "dns.googleapis.com",
    "gcp:firestore/": "firestore.googleapis.com",
    "gcp:kms/": "cloudkms.googleapis.com",
    "gcp:logging/": "logging.googleapis.com",
    "gcp:monitoring/": "monitoring.googleapis.com",
    "gcp:pubsub/": "pubsub.googleapis.com",
    "gcp:projects/iAMCustomRole": "iam.googleapis.com",
    "gcp:projects/iAMMember": "cloudresourcemanager.googleapis.com",
    # services.generateServiceIdentity, the API `gcloud services enable` itself calls.
    "gcp:projects/serviceIdentity": "serviceusage.googleapis.com",
    "gcp:secretmanager/": "secretmanager.googleapis.com",
    "gcp:serviceaccount/": "iam.googleapis.com",
    "gcp:sql/": "sqladmin.googleapis.com",
    "gcp:storage/transferJob": "storagetransfer.googleapis.com",
    "gcp:storage/": "storage.googleapis.com",
}


@GCP_STACKS
def test_the_readme_enables_the_api_of_every_declared_resource(
    project_stack: tuple[Path, str],
) -> None:
    project, stack = project_stack
    (enable,) = re.findall(r"gcloud services enable ([^`]+)`", (project / "README.md").read_text())
    enabled = {*enable.split(), "serviceusage.googleapis.com"}
    for resource in run(project, stack)["resources"]:
        kind = resource["type"]
        if not kind.startswith("gcp:"):
            continue
        api = next((a for prefix, a in API_OF_TYPE.items() if kind.startswith(prefix)), None)
        assert api is not None, f"no API known for {kind}"
        assert api in enabled, f"{kind} needs {api}"


# 38. "After you delete a custom role ... its ID cannot be reused until the deletion completes"
#     7 to 37 days later (pulumi-gcp projects.IAMCustomRole; https://cloud.google.com/iam/docs/creating-custom-roles#deleting-custom-role):
#     a secondary destroyed and deployed again meets its own deleted role. The RUNBOOK undeletes
#     the role the stack declares and imports it under the stack's resource name.
def test_a_redeployed_secondary_adopts_its_deleted_custom_role(tmp_path: Path) -> None:
    assert "37 days" in sdk_doc("projects", "iam_custom_role")
    plan, project = rendered(tmp_path, COLD_PGVECTOR)
    assert plan.secondary is not None
    (role,) = of_type(mock_run(project, plan.secondary), "gcp:projects/iAMCustomRole:IAMCustomRole")
    runbook = (project / "RUNBOOK.md").read_text()
    code = (project / "vector_database.py").read_text()

    assert f"gcloud iam roles undelete {role['roleId']} --project=$PROJECT" in runbook
    (imported,) = re.findall(r"pulumi import (\S+) (\S+) (\S+)", runbook)
    assert imported == (
        "gcp:projects/iAMCustomRole:IAMCustomRole",
        "vectors-export",
        f"projects/$PROJECT/roles/{role['roleId']}",
    )
    assert 'gcp.projects.IAMCustomRole(\n        "vectors-export",' in code


# 39. Cloud Scheduler's first run request is refused (403) until the starter account's
#     run.invoker grant on the job exists, and Pulumi orders creation only by what it can see
#     (https://www.pulumi.com/docs/iac/concepts/resources/options/dependson/): every schedule
#     waits for its job's grant, so a first poll or copy does not fail and alert.
@GCP_STACKS
def test_every_schedule_waits_for_the_grant_that_lets_it_start_its_job(
    project_stack: tuple[Path, str],
) -> None:
    result = run(*project_stack)
    schedules = records_of_type(result, "gcp:cloudscheduler/job:Job")
    grant = "gcp:cloudrunv2/jobIamMember:JobIamMember"
    for schedule in schedules:
        waits_for = result["dependencies"][f"gcp:cloudscheduler/job:Job {schedule['name']}"]
        assert f"{grant} {schedule['name']}-scheduler-runs-job" in waits_for, waits_for


# 40. A Cloud Run job with Direct VPC egress joins a subnet through the Compute Engine API: the
#     Cloud Run service agent needs compute.subnetworks.use on it
#     (https://cloud.google.com/run/docs/configuring/vpc-direct-vpc), so the README enables
#     compute.googleapis.com wherever a job joins a VPC.
@projects_of("gcp")
def test_a_job_in_a_vpc_comes_with_the_compute_api(project: Path) -> None:
    in_vpc = [
        job
        for stack in plan_of(project).stacks
        for job in of_type(run(project, stack.name), "gcp:cloudrunv2/job:Job")
        if "vpcAccess" in job["template"]["template"]
    ]
    (enable,) = re.findall(r"gcloud services enable ([^`]+)`", (project / "README.md").read_text())
    assert not in_vpc or "compute.googleapis.com" in enable.split()
