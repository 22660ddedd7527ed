"""The pgvector drill in the recovery region of a GCP cold-restore plan: the newest export imported.

Cloud SQL's calls go to the sqladmin contract stand-in of test_drill_cloudsql (the official client
built from its discovery document; each request the next documented call, body and response
checked against the schemas), extended with instances.import, users.insert and databases.insert
as https://cloud.google.com/sql/docs/postgres/admin-api/rest/v1/instances/import and its
siblings describe them: a request answers an Operation, followed with operations.get to DONE.
Cloud Storage is gcp-storage-emulator. The export is a real plain `pg_dump`, gzipped, as Cloud
SQL's SQL export writes it; the stand-in's import replays the copy the drill made in its scratch
bucket into a real PostgreSQL 18 with pgvector, where the shared checks run.
"""

from __future__ import annotations

import gzip
import subprocess
import time
from typing import Any

import pytest

from drgen.drill import cloudsql, cloudsql_export
from drgen.drill.base import Call, Context, Result
from drgen.loader import load_workload
from drgen.plan import ComponentPlan, resolve
from tests.drill_servers import (  # noqa: F401 (fixtures)
    gcs_endpoint_fixture,
    gcs_fixture,
    pg_server_fixture,
    pg_tools_fixture,
)
from tests.pgvector_data import ROWS, eval_lines, restored_database
from tests.test_drill_cloudsql import (  # noqa: F401 (fixture)
    NETWORK,
    PROJECT,
    RUN,
    SCRATCH,
    SOURCE,
    ContractHttp,
    _operation,
    http_fixture,
)

PRIMARY, RECOVERY = "us-west1", "us-east4"
DATABASE = "vectors"
OWNER = "vectors_app"
NEWEST = f"{SOURCE}/{DATABASE}-20261129T030000Z.sql.gz"
OLDER = f"{SOURCE}/{DATABASE}-20261128T030000Z.sql.gz"
COPY = f"drgen-drill-export-{RUN}"
AGENT = "p123-abcd@gcp-sa-cloud-sql.iam.gserviceaccount.com"
RECOVERY_KEY = f"projects/{PROJECT}/locations/{RECOVERY}/keyRings/drgen-lab-drill/cryptoKeys/data"
FLAGS = [{"name": "log_statement", "value": "ddl"}, {"name": "pgaudit.log", "value": "ddl,role"}]
WORKLOAD = f"""\
name: lab-drill
tier: 3
cloud: gcp
regions:
  primary: {PRIMARY}
  secondary: {RECOVERY}
components:
  vector_store:
    engine: pgvector
    database: {DATABASE}
    eval: evals/retrieval.jsonl
"""


def _ctx(workload_file: Any, seconds: float = 120) -> tuple[Context, ComponentPlan]:
    workload_file(eval_lines(), "evals/retrieval.jsonl")
    path = workload_file(WORKLOAD)
    sourced = load_workload(path)
    plan = resolve(sourced)
    ctx = Context(plan, sourced.workload, path.parent, RECOVERY, RUN, time.monotonic() + seconds)
    component = plan.component("vector_store")
    assert component is not None and component.names[PRIMARY] == SOURCE
    assert cloudsql_export.exported(ctx, component)
    return ctx, component


def _exports(component: ComponentPlan, dump: bytes | None) -> str:
    """The secondary's export bucket, holding an older export and (unless None) the newest."""
    from google.cloud import storage

    name = str(component.params["export_bucket"])
    client = storage.Client()
    bucket = client.create_bucket(name)
    bucket.blob(OLDER).upload_from_string(b"not gzip: never read, it is not the newest")
    bucket.blob(f"other-instance/{DATABASE}-20261130T000000Z.sql.gz").upload_from_string(b"x")
    if dump is not None:
        bucket.blob(NEWEST).upload_from_string(gzip.compress(dump))
    return name


def _dump(pg_server: Any) -> bytes:
    """A plain pg_dump of the source database, its table owned by an application role."""
    import psycopg

    restored_database(pg_server, "vectors_source")
    admin = pg_server.get_uri()
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (OWNER,)).fetchone():
            conn.execute(f"CREATE ROLE {OWNER}")
    source = psycopg.conninfo.make_conninfo(admin, dbname="vectors_source")
    with psycopg.connect(source, autocommit=True) as conn:
        conn.execute(f"ALTER TABLE passages OWNER TO {OWNER}")
    return subprocess.run(["pg_dump", "--dbname", source], check=True, capture_output=True).stdout


def _source(http: ContractHttp) -> None:
    http.expect(
        "instances.get",
        {"project": PROJECT, "instance": SOURCE},
        None,
        {
            "name": SOURCE,
            "serviceAccountEmailAddress": AGENT,
            "settings": {
                "dataDiskSizeGb": "20",
                "databaseFlags": FLAGS,
                "ipConfiguration": {"privateNetwork": NETWORK},
            },
        },
    )


INSERT = {
    "name": SCRATCH,
    "region": RECOVERY,
    "databaseVersion": "POSTGRES_18",
    "diskEncryptionConfiguration": {"kmsKeyName": RECOVERY_KEY},
    "settings": {
        "tier": "db-custom-4-16384",
        "edition": "ENTERPRISE",
        "availabilityType": "ZONAL",
        "dataDiskType": "PD_SSD",
        "dataDiskSizeGb": "20",
        "storageAutoResize": True,
        "databaseFlags": FLAGS,
        "ipConfiguration": {
            "ipv4Enabled": False,
            "privateNetwork": NETWORK,
            "sslMode": "ENCRYPTED_ONLY",
        },
        "backupConfiguration": {"enabled": False},
        "deletionProtectionEnabled": False,
        "userLabels": {"drgen-workload": "lab-drill", "drgen-drill": RUN, "drgen-scratch": "true"},
    },
}


def _get(http: ContractHttp, name: str, status: str = "DONE", error: str | None = None) -> None:
    http.expect(
        "operations.get",
        {"project": PROJECT, "operation": name},
        None,
        _operation(name, status, error),
    )


def _imported(
    http: ContractHttp,
    pg_server: Any,
    import_error: str | None = None,
    on_import: Any = None,
) -> None:
    """The scratch instance, the dump's owner, the database, then the import, which replays the
    drill's copy of the export into the real server (what Cloud SQL's import runs)."""
    import psycopg

    scratch = {"project": PROJECT, "instance": SCRATCH}
    admin = pg_server.get_uri()
    http.expect("instances.insert", {"project": PROJECT}, INSERT, _operation("op-1", "PENDING"))
    _get(http, "op-1")
    http.expect(
        "instances.get", scratch, None, {"name": SCRATCH, "serviceAccountEmailAddress": AGENT}
    )

    def owner(body: Any) -> bool:
        return bool(
            body["name"] == OWNER and body["type"] == "BUILT_IN" and len(body["password"]) >= 32
        )

    http.expect("users.insert", scratch, owner, _operation("op-2", "DONE"))

    def database(body: Any) -> bool:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{DATABASE}"')
        return bool(body == {"name": DATABASE})

    http.expect("databases.insert", scratch, database, _operation("op-3", "DONE"))

    def replay(body: Any) -> bool:
        from google.cloud import storage

        want = {
            "importContext": {
                "fileType": "SQL",
                "uri": f"gs://{COPY}/{NEWEST}",
                "database": DATABASE,
                "importUser": "postgres",
            }
        }
        if on_import is not None:
            on_import()
        if body != want or import_error or on_import is not None:
            return body == want
        sql = gzip.decompress(storage.Client().bucket(COPY).blob(NEWEST).download_as_bytes())
        target = psycopg.conninfo.make_conninfo(admin, dbname=DATABASE)
        subprocess.run(
            ["psql", "-v", "ON_ERROR_STOP=1", "-q", "-d", target],
            input=sql,
            check=True,
            capture_output=True,
        )
        return True

    http.expect("instances.import", scratch, replay, _operation("op-4", "PENDING"))
    if on_import is not None:
        return
    _get(http, "op-4", error=import_error)
    if import_error:
        return
    http.expect(
        "users.update",
        {**scratch, "name": "postgres"},
        lambda body: len(body["password"]) >= 32,
        _operation("op-5", "DONE"),
    )
    parts = psycopg.conninfo.conninfo_to_dict(admin)
    http.expect(
        "instances.get",
        scratch,
        None,
        {"name": SCRATCH, "ipAddresses": [{"type": "PRIVATE", "ipAddress": str(parts["host"])}]},
    )


def _deleted(http: ContractHttp) -> None:
    http.expect(
        "instances.delete",
        {"project": PROJECT, "instance": SCRATCH},
        None,
        _operation("op-9", "PENDING"),
    )
    _get(http, "op-9")


def _listed(ctx: Context, component: ComponentPlan) -> None:
    """Every call made is one --dry-run lists (an object's listed target is its prefix)."""
    listed = cloudsql.calls(ctx, component)
    for made in ctx.calls:
        assert any(
            (c.service, c.operation, c.effect) == (made.service, made.operation, made.effect)
            and made.target.startswith(c.target)
            for c in listed
        ), made


def _bucket_gone() -> bool:
    from google.cloud import storage

    return storage.Client().lookup_bucket(COPY) is None


def test_the_newest_export_is_imported_into_a_scratch_instance_under_the_recovery_key(
    http: ContractHttp, gcs: str, pg_tools: Any, workload_file: Any, monkeypatch: Any
) -> None:
    from google.cloud import storage

    ctx, component = _ctx(workload_file)
    created: dict[str, Any] = {}
    real_create = storage.Client.create_bucket

    def create(self: Any, bucket: Any, *args: Any, **kwargs: Any) -> Any:
        if not isinstance(bucket, str):  # the drill's (the test's own export bucket: a name)
            created[bucket.name] = (dict(bucket._properties), kwargs)  # the emulator drops them
        return real_create(self, bucket, *args, **kwargs)

    monkeypatch.setattr(storage.Client, "create_bucket", create)
    exports = _exports(component, _dump(pg_tools))
    _source(http)
    _imported(http, pg_tools)
    _deleted(http)
    result: Result = cloudsql_export_run(ctx, component)
    http.done()
    assert result.outcome == "pass", result.failures
    assert result.integrity["row_counts"] == {"public.passages": ROWS}
    assert result.integrity["recall_at_k"] >= 0.9
    assert result.measurements["export_object"].startswith(f"gs://{exports}/{NEWEST}#")
    assert result.measurements["export_owners"] == [OWNER]
    # The job's start in the name dates the data (the emulator's own object times are now).
    assert result.measurements["restore_point"] == "2026-11-29T03:00:00+00:00"
    assert result.data_age_seconds is not None and result.data_age_seconds > 0
    assert result.restore_seconds is not None and result.bytes > 0
    assert "backup_kms_key" not in result.measurements  # no backup, no primary key involved
    assert result.cleanup == [
        f"deleted cloud sql instance {SCRATCH}",
        f"deleted storage bucket {COPY}",
    ]
    assert _bucket_gone()
    properties, where = created[COPY]
    assert where == {"project": PROJECT, "location": RECOVERY}
    assert properties["encryption"] == {"defaultKmsKeyName": RECOVERY_KEY}
    assert properties["iamConfiguration"] == {
        "uniformBucketLevelAccess": {"enabled": True},
        "publicAccessPrevention": "enforced",
    }
    assert properties["softDeletePolicy"]["retentionDurationSeconds"] == 0
    assert properties["labels"]["drgen-drill"] == RUN
    # Production is only read: every write is to this run's scratch, the grant on its bucket.
    writes = [c for c in ctx.calls if c.effect != "read"]
    assert all(RUN in c.target for c in writes), writes
    assert Call("storage", "buckets.setIamPolicy", COPY, "scratch") in ctx.calls
    assert not any(c.target.startswith(exports) and c.effect != "read" for c in ctx.calls)
    _listed(ctx, component)


def cloudsql_export_run(ctx: Context, component: ComponentPlan) -> Result:
    from drgen.drill import runner

    return runner._run_one(ctx, component)


def test_the_grant_reads_the_copy_only(
    http: ContractHttp, gcs: str, pg_tools: Any, workload_file: Any, monkeypatch: Any
) -> None:
    """The scratch bucket's policy as the import found it: Cloud SQL's service account may read
    objects there (roles/storage.objectViewer), and nothing is granted on the export bucket."""
    from google.cloud import storage

    ctx, component = _ctx(workload_file)
    exports = _exports(component, _dump(pg_tools))
    seen: dict[str, Any] = {}
    real = cloudsql._call

    def spy(ctx: Context, request: Any, operation: str | None, *rest: Any) -> None:
        if operation == "instances.import":
            client = storage.Client()
            seen["copy"] = client.bucket(COPY).get_iam_policy(requested_policy_version=3).bindings
            seen["exports"] = client.bucket(exports).get_iam_policy().bindings
        real(ctx, request, operation, *rest)

    monkeypatch.setattr(cloudsql, "_call", spy)
    _source(http)
    _imported(http, pg_tools, import_error="no matter")
    _deleted(http)
    cloudsql_export_run(ctx, component)
    http.done()
    assert {"role": "roles/storage.objectViewer", "members": {f"serviceAccount:{AGENT}"}} in [
        {"role": b["role"], "members": set(b["members"])} for b in seen["copy"]
    ]
    assert not any(f"serviceAccount:{AGENT}" in b["members"] for b in seen["exports"])


def test_no_export_in_the_bucket(http: ContractHttp, gcs: str, workload_file: Any) -> None:
    ctx, component = _ctx(workload_file)
    exports = _exports(component, None)
    from google.cloud import storage

    storage.Client().bucket(exports).blob(OLDER).delete()
    _source(http)
    result = cloudsql_export_run(ctx, component)
    http.done()  # nothing created
    assert result.outcome == "error"
    assert result.failures == [
        f"no export of {SOURCE} in gs://{exports}/{SOURCE}/{DATABASE}-*: nothing to restore"
        " (is the export job running? its alert names the failure)"
    ]
    assert result.scratch == [] and result.cleanup == []


def test_a_failed_import_removes_the_instance_and_the_bucket(
    http: ContractHttp, gcs: str, pg_tools: Any, workload_file: Any
) -> None:
    ctx, component = _ctx(workload_file)
    _exports(component, _dump(pg_tools))
    _source(http)
    _imported(http, pg_tools, import_error='ERROR: role "vectors_app" does not exist')
    _deleted(http)
    result = cloudsql_export_run(ctx, component)
    http.done()
    assert result.outcome == "error"
    assert result.failures == [
        f'instances.import on {SCRATCH} failed: ERROR: role "vectors_app" does not exist'
    ]
    assert result.cleanup == [
        f"deleted cloud sql instance {SCRATCH}",
        f"deleted storage bucket {COPY}",
    ]
    assert _bucket_gone()


def test_an_import_past_the_timeout_is_cancelled_then_everything_removed(
    http: ContractHttp, gcs: str, pg_tools: Any, workload_file: Any, monkeypatch: Any
) -> None:
    """The import is asked for, then --timeout passes while it runs: the cleanup cancels it
    (an instance with an operation running refuses deletion), waits for DONE, deletes the
    instance, then the bucket."""
    ctx, component = _ctx(workload_file)
    _exports(component, _dump(pg_tools))
    monkeypatch.setattr(cloudsql, "POLL_SECONDS", 1)

    def run_out() -> None:
        ctx.deadline = time.monotonic() + 0.3

    _source(http)
    _imported(http, pg_tools, on_import=run_out)
    http.expect("operations.cancel", {"project": PROJECT, "operation": "op-4"}, None, {})
    _get(http, "op-4")
    _deleted(http)
    result = cloudsql_export_run(ctx, component)
    http.done()
    assert result.outcome == "error"
    assert result.failures == ["timed out (--timeout); the step was abandoned"]
    assert result.cleanup == [
        f"deleted cloud sql instance {SCRATCH}",
        f"deleted storage bucket {COPY}",
    ]
    assert _bucket_gone()
    _listed(ctx, component)


def test_a_production_bucket_is_never_written(
    http: ContractHttp, gcs: str, workload_file: Any, monkeypatch: Any
) -> None:
    ctx, component = _ctx(workload_file)
    exports = _exports(component, gzip.decompress(gzip.compress(b"SELECT 1;\n")))
    monkeypatch.setattr(cloudsql_export, "bucket_name", lambda ctx: exports)
    _source(http)
    result = cloudsql_export_run(ctx, component)
    http.done()  # no instance was created
    assert result.failures == [
        f"refused storage buckets.insert on {exports}: not a scratch resource of this run"
    ]
    assert result.scratch == [] and result.cleanup == []


def test_the_primary_region_restores_its_backup(workload_file: Any) -> None:
    """In the primary the backup restores (its key is there): the export is for the recovery."""
    ctx, component = _ctx(workload_file)
    ctx.region = PRIMARY
    assert not cloudsql_export.exported(ctx, component)
    assert Call("sqladmin", "backupRuns.list", SOURCE) in cloudsql.calls(ctx, component)


def test_the_runbooks_restore_drill_says_the_export_is_imported(workload_file: Any) -> None:
    from drgen.drills import drill_calendar

    workload_file(eval_lines(), "evals/retrieval.jsonl")
    sourced = load_workload(workload_file(WORKLOAD.replace("tier: 3", "tier: 2")))
    plan = resolve(sourced)
    component = plan.component("vector_store")
    assert component is not None and "export_bucket" in component.params
    [drill] = [
        d
        for d in drill_calendar(plan)
        if d.command is not None and d.command.endswith("vector_store --evidence drills/")
    ]
    assert (
        f"In {RECOVERY} the drill imports the newest export of"
        f" `{component.params['export_bucket']}` into a scratch instance under that region's key"
    ) in drill.steps[0]


@pytest.mark.parametrize("region", [RECOVERY, PRIMARY])
def test_the_exports_key_goes_into_the_evidence(workload_file: Any, region: str) -> None:
    """The object's kmsKeyName (with its version, as Cloud Storage reports it:
    https://cloud.google.com/storage/docs/json_api/v1/objects) is recorded; only a key in the
    primary region would be a finding, as that restore would need the primary's KMS."""
    from types import SimpleNamespace

    ctx, _ = _ctx(workload_file)
    key = f"projects/{PROJECT}/locations/{region}/keyRings/drgen-lab-drill/cryptoKeys/data"
    export = SimpleNamespace(
        name=NEWEST, generation=7, crc32c="AAAAAA==", kms_key_name=f"{key}/cryptoKeyVersions/1"
    )
    result = Result("vector_store", "pgvector", RECOVERY)
    cloudsql_export._record_export(ctx, "exports", export, result)
    assert result.measurements["export_kms_key"] == key
    assert result.measurements["export_object"] == f"gs://exports/{NEWEST}#7"
    if region == RECOVERY:
        assert result.outcome == "pass" and result.failures == []
    else:
        assert result.outcome == "fail"
        assert "would not survive that region's loss" in result.failures[0]


def test_the_postgres_database_is_imported_into_without_creating_it(workload_file: Any) -> None:
    """Cloud SQL creates `postgres` with every instance (components.vector_store.database's
    default): databases.insert would be refused as a duplicate, so the drill imports into it."""
    workload_file(eval_lines(), "evals/retrieval.jsonl")
    path = workload_file(WORKLOAD.replace(f"    database: {DATABASE}\n", ""))
    sourced = load_workload(path)
    plan = resolve(sourced)
    component = plan.component("vector_store")
    assert component is not None
    ctx = Context(plan, sourced.workload, path.parent, RECOVERY, RUN, 0.0)
    listed = cloudsql.calls(ctx, component)
    assert not any(c.operation == "databases.insert" for c in listed)
    assert (
        Call("storage", "objects.list", f"{component.params['export_bucket']}/{SOURCE}/postgres-")
        in listed
    )
    assert Call("postgresql", "recall@k queries", f"{SCRATCH}/postgres") in listed


def test_a_bucket_that_cannot_be_deleted_is_reported_with_what_to_run(
    http: ContractHttp, gcs: str, pg_tools: Any, workload_file: Any, monkeypatch: Any
) -> None:
    from google.api_core.exceptions import Forbidden
    from google.cloud import storage

    ctx, component = _ctx(workload_file)
    _exports(component, _dump(pg_tools))
    _source(http)
    _imported(http, pg_tools, import_error="no matter")
    _deleted(http)

    def refuse(self: Any, *args: Any, **kwargs: Any) -> None:
        raise Forbidden("caller lacks storage.buckets.delete")

    monkeypatch.setattr(storage.Bucket, "delete", refuse)
    result = cloudsql_export_run(ctx, component)
    http.done()
    message = (
        f"could not delete scratch bucket {COPY}: Forbidden: caller lacks storage.buckets.delete;"
        f" delete it by hand (gcloud storage rm --recursive gs://{COPY})"
    )
    assert result.cleanup == [f"deleted cloud sql instance {SCRATCH}", message]
    assert result.failures[-1] == message and result.outcome == "error"
