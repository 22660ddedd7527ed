"""GCP invariants, asserted on what each golden GCP stack declares under the mock runtime."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from drgen.clouds import KMS_MULTI_REGIONS
from drgen.plan import DrPlan
from drgen.render import cron_every
from tests.stacks import (
    has_feature_store,
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
GCP_PROJECTS = projects_of("gcp")


def copies_on_schedule(plan: DrPlan) -> bool:
    """Cold restore across two regions: Storage Transfer jobs copy the buckets."""
    return plan.pattern == "cold-restore" and plan.secondary is not None


def export_buckets(plan: DrPlan) -> set[str]:
    """The secondary's bucket of pgvector exports, where the plan keeps one."""
    vectors = plan.component("vector_store")
    if vectors is None or "export_every_seconds" not in vectors.params or not plan.secondary:
        return set()
    return {str(vectors.params["export_bucket"])}


BUCKET = "gcp:storage/bucket:Bucket"
PROJECT_GRANT = "gcp:projects/iAMMember:IAMMember"
FIRESTORE_KEY_LOCATIONS = {"nam5": "us", "eur3": "europe"}


def key_location(key_id: str) -> str:
    """The location in `projects/p/locations/<location>/keyRings/...`."""
    return key_id.split("/locations/")[1].split("/")[0]


def buckets_by_component(result: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for bucket in of_type(result, BUCKET):
        found.setdefault(bucket["labels"]["drgen-component"], []).append(bucket)
    return found


@GCP_STACKS
def test_every_bucket_is_private_encrypted_in_place_and_protected(
    project_stack: tuple[Path, str],
) -> None:
    result = run(*project_stack)

    for bucket in of_type(result, BUCKET):
        assert bucket["uniformBucketLevelAccess"] is True
        assert bucket["publicAccessPrevention"] == "enforced"
        assert bucket["forceDestroy"] is False
        assert bucket["softDeletePolicy"]["retentionDurationSeconds"] >= 7 * 86400
        location = KMS_MULTI_REGIONS.get(bucket["location"], bucket["location"].lower())
        assert key_location(bucket["encryption"]["defaultKmsKeyName"]) == location
        locked = bucket.get("retentionPolicy", {}).get("isLocked") is True
        assert bucket["versioning"] == {"enabled": not locked}, bucket["name"]
        actions = {rule["action"]["type"] for rule in bucket["lifecycleRules"]}
        assert "AbortIncompleteMultipartUpload" in actions


@GCP_PROJECTS
def test_buckets_sit_where_the_pattern_puts_them(project: Path) -> None:
    plan = plan_of(project)
    regions = [s.region for s in plan.stacks]
    by_role = {s.role: run(project, s.name) for s in plan.stacks}

    for component in plan.components:
        if component.module not in ("model_store", "audit_vault", "vector_snapshots"):
            continue
        label = component.component.replace("_", "-")
        primary = buckets_by_component(by_role["primary"]).get(label, [])
        secondary = buckets_by_component(by_role.get("secondary", {"resources": []})).get(label, [])
        if component.replication == "dual-region":
            (bucket,) = primary
            placement = bucket["customPlacementConfig"]["dataLocations"]
            assert sorted(placement) == sorted(r.upper() for r in regions)
            assert bucket["rpo"] == "ASYNC_TURBO"
            assert secondary == []
        else:
            assert [b["location"] for b in primary] == [regions[0].upper()]
            assert [b["location"] for b in secondary] == [r.upper() for r in regions[1:]]
            assert all("rpo" not in b for b in primary + secondary)


@projects_of("gcp", copies_on_schedule)
def test_cold_copies_reach_a_bucket_the_secondary_stack_owns_within_the_rpo(
    project: Path,
) -> None:
    plan = plan_of(project)
    primary, secondary = (run(project, s.name) for s in plan.stacks)
    # Each region keeps its own vendor switch (vendor_watcher.py), and Cloud SQL, not Storage
    # Transfer, fills the pgvector export bucket (see below): neither is copied.
    secondary_buckets = {
        b["name"] for b in of_type(secondary, BUCKET) if b["labels"]["drgen-component"] != "vendors"
    } - export_buckets(plan)
    writers = {
        grant["bucket"]
        for grant in of_type(secondary, "gcp:storage/bucketIAMMember:BucketIAMMember")
        if grant["role"] == "roles/storage.legacyBucketWriter"
        and "storage-transfer-service" in grant["member"]
    }

    jobs = of_type(primary, "gcp:storage/transferJob:TransferJob")
    assert len(jobs) == len(secondary_buckets)
    for job in jobs:
        sink = job["transferSpec"]["gcsDataSink"]["bucketName"]
        assert sink in secondary_buckets and sink in writers
        options = job["transferSpec"]["transferOptions"]
        assert options["deleteObjectsUniqueInSink"] is False
        assert options["overwriteWhen"] in {"NEVER", "DIFFERENT"}
        interval = int(job["schedule"]["repeatInterval"].removesuffix("s"))
        assert interval <= max(plan.objectives.rpo_seconds, 3600)


@projects_of("gcp", uses_pgvector)
def test_cloud_sql_is_private_tls_only_encrypted_and_replicated_as_planned(
    project: Path,
) -> None:
    plan = plan_of(project)
    vectors = plan.component("vector_store")
    assert vectors is not None
    instances = {
        s.role: of_type(run(project, s.name), "gcp:sql/databaseInstance:DatabaseInstance")
        for s in plan.stacks
    }

    (primary,) = instances["primary"]
    for instance in instances["primary"] + instances.get("secondary", []):
        settings = instance["settings"]
        assert instance["deletionProtection"] is True
        assert settings["deletionProtectionEnabled"] is True
        assert settings["ipConfiguration"]["ipv4Enabled"] is False
        assert settings["ipConfiguration"]["sslMode"] == "ENCRYPTED_ONLY"
        assert settings["availabilityType"] == "REGIONAL"
        assert key_location(instance["encryptionKeyName"]) == instance["region"]
    assert primary["settings"]["backupConfiguration"]["pointInTimeRecoveryEnabled"] is True
    if vectors.block == "cloudsql-cross-region-replica":
        (replica,) = instances["secondary"]
        assert replica["masterInstanceName"] == primary["name"]
        assert replica["region"] == plan.stacks[1].region
    elif len(plan.stacks) > 1:
        assert instances["secondary"] == []
        location = primary["settings"]["backupConfiguration"]["location"]
        assert location == plan.stacks[1].region


@projects_of("gcp", has_feature_store)
def test_feature_stores_are_protected_and_span_regions_when_live(project: Path) -> None:
    plan = plan_of(project)
    features = plan.component("feature_store")
    assert features is not None
    primary = run(project, plan.stacks[0].name)
    regions = [s.region for s in plan.stacks]

    if features.engine == "bigtable":
        (instance,) = of_type(primary, "gcp:bigtable/instance:Instance")
        (table,) = of_type(primary, "gcp:bigtable/table:Table")
        assert instance["deletionProtection"] is True
        assert table["deletionProtection"] == "PROTECTED"
        zones = [c["zone"].rsplit("-", 1)[0] for c in instance["clusters"]]
        keys = [key_location(c["kmsKeyName"]) for c in instance["clusters"]]
        assert keys == zones
        if features.replication == "bidirectional":
            assert zones == regions
            (profile,) = of_type(primary, "gcp:bigtable/appProfile:AppProfile")
            assert profile["multiClusterRoutingUseAny"] is True
        else:
            assert zones == regions[:1]
            assert table["automatedBackupPolicy"]["frequency"] == "86400s"
    else:
        (database,) = of_type(primary, "gcp:firestore/database:Database")
        assert database["pointInTimeRecoveryEnablement"] == "POINT_IN_TIME_RECOVERY_ENABLED"
        assert database["deleteProtectionState"] == "DELETE_PROTECTION_ENABLED"
        expected_key = FIRESTORE_KEY_LOCATIONS.get(database["locationId"], database["locationId"])
        assert key_location(database["cmekConfig"]["kmsKeyName"]) == expected_key
        if features.replication == "multi-region":
            assert database["locationId"] in FIRESTORE_KEY_LOCATIONS
        else:
            assert database["locationId"] == regions[0]
        assert of_type(primary, "gcp:firestore/backupSchedule:BackupSchedule")
    for stack in plan.stacks[1:]:
        secondary = run(project, stack.name)
        # A cold-restore Bigtable's secondary holds only the DR instance its backups are
        # copied into (test_cloud_rules_gcp.py, rule 17); everything else is the primary's.
        held = [i["name"] for i in of_type(secondary, "gcp:bigtable/instance:Instance")]
        assert held == ([f"{plan.workload[:24]}-dr"] if features.block == "bigtable-backup" else [])
        assert of_type(secondary, "gcp:firestore/database:Database") == []


@projects_of("gcp", takes_snapshots)
def test_snapshots_run_on_schedule_with_separate_least_privilege_accounts(
    project: Path,
) -> None:
    plan = plan_of(project)
    vectors = plan.component("vector_store")
    assert vectors is not None

    for region in vectors.serving:  # stacks are named after their region
        result = run(project, region)
        (schedule,) = not_the_vendor_watcher(of_type(result, "gcp:cloudscheduler/job:Job"))
        (job,) = not_the_vendor_watcher(of_type(result, "gcp:cloudrunv2/job:Job"))
        (invoker,) = [
            i
            for i in records_of_type(result, "gcp:cloudrunv2/jobIamMember:JobIamMember")
            if not i["name"].startswith("vendor-")
        ]
        invoker = invoker["inputs"]
        accounts = {
            a["inputs"]["accountId"]: a["email"]
            for a in records_of_type(result, "gcp:serviceaccount/account:Account")
            if not a["name"].startswith("vendor-")
        }
        runner = job["template"]["template"]["serviceAccount"]
        starter = schedule["httpTarget"]["oauthToken"]["serviceAccountEmail"]
        assert schedule["schedule"] == cron_every(int(vectors.params["snapshot_every_seconds"]))
        assert schedule["httpTarget"]["uri"].endswith(f"/jobs/{job['name']}:run")
        assert {runner, starter} == set(accounts.values()) and runner != starter
        assert invoker == {
            "project": job["project"],
            "location": region,
            "name": job["name"],
            "role": "roles/run.invoker",
            "member": f"serviceAccount:{starter}",
        }
        assert job["template"]["template"]["vpcAccess"]["egress"] == "PRIVATE_RANGES_ONLY"
        assert all(len(account) <= 30 for account in accounts)


@GCP_STACKS
def test_no_grant_reaches_beyond_one_resource(project_stack: tuple[Path, str]) -> None:
    result = run(*project_stack)

    # One project-level grant is allowed, and only with a condition naming one Cloud SQL
    # instance: Cloud SQL checks cloudsql.instances.export on the project, and instances take
    # no IAM policy of their own (https://cloud.google.com/sql/docs/postgres/iam-conditions).
    project_grants = of_type(result, PROJECT_GRANT)
    for grant in project_grants:
        expression = grant["condition"]["expression"]
        assert re.fullmatch(
            r"resource\.type == 'sqladmin\.googleapis\.com/Instance'"
            r" && resource\.name == 'projects/[a-z0-9-]+/instances/[a-z0-9-]+'",
            expression,
        ), expression
        (role,) = of_type(result, "gcp:projects/iAMCustomRole:IAMCustomRole")
        assert grant["role"] == f"projects/{grant['project']}/roles/{role['roleId']}"
        assert role["permissions"] == ["cloudsql.instances.export", "cloudsql.instances.get"]
    assert len(project_grants) <= 1
    tokens = {r["type"] for r in result["resources"]}
    others = {t for t in tokens if t.startswith("gcp:projects/iAM")}
    assert others <= {PROJECT_GRANT, "gcp:projects/iAMCustomRole:IAMCustomRole"}, tokens
    for grant in of_type(result, "gcp:storage/bucketIAMMember:BucketIAMMember"):
        switch = f"projects/_/buckets/{grant['bucket']}/objects/vendor-route.json"
        if grant.get("condition", {}).get("expression") == f'resource.name == "{switch}"':
            # The vendor watcher replaces its switch object, which needs delete too: only that
            # one object (vendor_watcher.py).
            continue
        # objectUser may delete: only under one prefix (Cloud SQL's export needs delete,
        # tests/test_cloud_rules_gcp.py), never bucket-wide.
        if grant["role"] == "roles/storage.objectUser":
            # Listing is checked on the bucket itself (the export job keeps the newest exports).
            expression = grant["condition"]["expression"].removeprefix(
                "resource.type == 'storage.googleapis.com/Bucket' || "
            )
            assert re.fullmatch(
                r"resource\.name\.startsWith\('projects/_/buckets/[a-z0-9-]+/objects/[a-z0-9-]+/'\)",
                expression,
            ), grant
            assert f"/buckets/{grant['bucket']}/" in expression or "bucket" not in grant
            continue
        assert grant["role"] in {
            "roles/storage.objectViewer",
            "roles/storage.objectCreator",
            "roles/storage.legacyBucketReader",
            "roles/storage.legacyBucketWriter",
        }
    for grant in of_type(result, "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember"):
        assert grant["role"] == "roles/cloudkms.cryptoKeyEncrypterDecrypter"
        assert grant["member"].startswith("serviceAccount:service-")  # Google service agents


@projects_of("gcp", lambda plan: bool(export_buckets(plan)))
def test_the_secondary_exports_pgvector_under_its_own_key_with_the_primary_key_lost(
    project: Path,
) -> None:
    """Cold restore of Cloud SQL needs nothing of the primary's region: a backup is encrypted
    with the primary instance's key (https://cloud.google.com/sql/docs/postgres/cmek), so the
    secondary holds logical exports under its own key, written by the primary's instance."""
    plan = plan_of(project)
    vectors = plan.component("vector_store")
    assert vectors is not None and plan.secondary is not None
    primary, secondary = (run(project, s.name) for s in plan.stacks)
    (bucket_name,) = export_buckets(plan)
    source = vectors.names[plan.stacks[0].region]

    (bucket,) = [b for b in of_type(secondary, BUCKET) if b["name"] == bucket_name]
    assert key_location(bucket["encryption"]["defaultKmsKeyName"]) == plan.secondary.region
    assert bucket["location"] == plan.secondary.region.upper()
    (instance,) = of_type(primary, "gcp:sql/databaseInstance:DatabaseInstance")
    (writer,) = [
        g
        for g in of_type(primary, "gcp:storage/bucketIAMMember:BucketIAMMember")
        if g["bucket"] == bucket_name
    ]
    assert writer["role"] == "roles/storage.objectUser"
    assert writer["member"] == (
        "serviceAccount:p123456789-abcdef@gcp-sa-cloud-sql.iam.gserviceaccount.com"
    )
    assert f"/objects/{source}/')" in writer["condition"]["expression"]
    assert instance["name"] == source

    (job,) = of_type(secondary, "gcp:cloudrunv2/job:Job")
    (schedule,) = of_type(secondary, "gcp:cloudscheduler/job:Job")
    envs = {e["name"]: e["value"] for e in job["template"]["template"]["containers"][0]["envs"]}
    assert envs["INSTANCE"] == source and envs["BUCKET"] == bucket_name
    assert envs["DATABASE"] == vectors.params["database"]
    every = int(vectors.params["export_every_seconds"])
    assert schedule["schedule"] == cron_every(every)
    timeout = int(job["template"]["template"]["timeout"].removesuffix("s"))
    assert int(envs["EXPORT_BUDGET_SECONDS"]) < timeout <= every
    (grant,) = of_type(secondary, PROJECT_GRANT)
    assert grant["condition"]["expression"].endswith(f"/instances/{source}'")
    assert grant["member"] == f"serviceAccount:{job['template']['template']['serviceAccount']}"
    (alert,) = of_type(secondary, "gcp:monitoring/alertPolicy:AlertPolicy")
    kinds = {next(k for k in c if k.startswith("condition")) for c in alert["conditions"]}
    assert kinds == {"condition_absent", "condition_threshold"} or kinds == {
        "conditionAbsent",
        "conditionThreshold",
    }
