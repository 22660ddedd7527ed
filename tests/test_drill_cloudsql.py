"""The pgvector drill restored by Cloud SQL: a backup run restored into a scratch instance.

Only Google can restore Cloud SQL, so its calls are checked against the contract: the official
client (google-api-python-client, built from its bundled Cloud SQL Admin v1 discovery document,
which rejects unknown or missing parameters) talks to an HTTP stand-in that requires each
request to be the next documented call (method and path template of the discovery document,
https://cloud.google.com/sql/docs/postgres/admin-api/rest/v1/instances/restoreBackup and its
siblings), with exactly the expected body, and checks every body and response field against the
document's schemas. The restored instance's private IP is a real PostgreSQL 18 with pgvector,
where the checks run for real.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from drgen.drill import cloudsql, runner
from drgen.drill.base import Context, Result
from drgen.loader import load_workload
from drgen.plan import ComponentPlan, resolve
from tests.drill_servers import pg_server_fixture  # noqa: F401 (fixture)
from tests.pgvector_data import ROWS, WORKLOAD_TAIL, eval_lines, restored_database

PROJECT = "drgen-test"
REGION = "us-west1"
RUN = "20261129t183000z9f8e"
SCRATCH = f"drgen-drill-vectors-{RUN}"
SOURCE = "lab-drill-vectors-us-west1"
NETWORK = f"projects/{PROJECT}/global/networks/research"
PRIMARY_KEY = f"projects/{PROJECT}/locations/{REGION}/keyRings/drgen-lab-drill/cryptoKeys/data"
WORKLOAD = f"""\
name: lab-drill
tier: 3
cloud: gcp
regions:
  primary: {REGION}
{WORKLOAD_TAIL}"""


def _discovery() -> dict[str, Any]:
    import googleapiclient

    path = Path(googleapiclient.__file__).parent / "discovery_cache/documents/sqladmin.v1.json"
    return dict(json.loads(path.read_text()))


DISCOVERY = _discovery()


def _method(method_id: str) -> dict[str, Any]:
    resource, name = method_id.split(".")
    return dict(DISCOVERY["resources"][resource]["methods"][name])


def _conforms(value: Any, schema: dict[str, Any], where: str) -> None:
    """Every field of `value` is one the discovery document defines, of its type."""
    if "$ref" in schema:
        schema = DISCOVERY["schemas"][schema["$ref"]]
    kind = schema.get("type")
    if kind == "object" and "properties" in schema:
        assert isinstance(value, dict), where
        for key, item in value.items():
            assert key in schema["properties"], f"{where}.{key} is not in the API"
            _conforms(item, schema["properties"][key], f"{where}.{key}")
    elif kind == "array":
        assert isinstance(value, list), where
        for n, item in enumerate(value):
            _conforms(item, schema["items"], f"{where}[{n}]")
    elif kind == "string":
        assert isinstance(value, str), f"{where}: int64 and dates travel as strings"
    elif kind == "boolean":
        assert isinstance(value, bool), where


class ContractHttp:
    """httplib2.Http's `request`, answering a script of the documented calls in order."""

    def __init__(self) -> None:
        self.script: list[tuple[str, dict[str, str], Any, dict[str, Any], int]] = []

    def expect(
        self,
        method_id: str,
        params: dict[str, str],
        body: Any,
        response: dict[str, Any],
        status: int = 200,
    ) -> None:
        self.script.append((method_id, params, body, response, status))

    def request(self, uri: str, method: str = "GET", body: Any = None, **_: Any) -> Any:
        import httplib2

        assert self.script, f"unexpected call {method} {uri}"
        method_id, params, want, response, status = self.script.pop(0)
        spec = _method(method_id)
        url = urlparse(uri)
        template = re.sub(r"\{[^}]+\}", "([^/]+)", spec["path"])
        match = re.fullmatch("/" + template, url.path)
        assert method == spec["httpMethod"] and match, f"{method} {url.path} is not {method_id}"
        names = re.findall(r"\{([^}]+)\}", spec["path"])
        sent_params = dict(zip(names, match.groups(), strict=True))
        sent_params |= {k: v[0] for k, v in parse_qs(url.query).items() if k != "alt"}
        assert sent_params == params, method_id
        sent = json.loads(body) if body else None
        if callable(want):
            assert want(sent), (method_id, sent)
        else:
            assert sent == want, method_id
        if sent is not None:
            _conforms(sent, spec["request"], method_id)
        if status == 200:
            _conforms(response, spec["response"], f"{method_id} response")
        headers = httplib2.Response({"status": status, "content-type": "application/json"})
        return headers, json.dumps(response).encode()

    def done(self) -> None:
        assert not self.script, f"calls never made: {[s[0] for s in self.script]}"


@pytest.fixture(name="http")
def http_fixture(monkeypatch: pytest.MonkeyPatch) -> ContractHttp:
    from googleapiclient import discovery

    http = ContractHttp()
    sql = discovery.build("sqladmin", "v1", http=http, static_discovery=True)
    monkeypatch.setattr(cloudsql, "_service", lambda: (sql, PROJECT))
    monkeypatch.setattr(cloudsql, "POLL_SECONDS", 0)
    return http


def _ctx(workload_file: Any, keep: bool = False) -> tuple[Context, ComponentPlan]:
    workload_file(eval_lines(), "evals/retrieval.jsonl")
    path = workload_file(WORKLOAD)
    sourced = load_workload(path)
    plan = resolve(sourced)
    ctx = Context(
        plan, sourced.workload, path.parent, REGION, RUN, time.monotonic() + 120, keep=keep
    )
    component = plan.component("vector_store")
    assert component is not None and component.names[REGION] == SOURCE
    return ctx, component


def _source(http: ContractHttp, runs: list[dict[str, Any]]) -> None:
    http.expect(
        "instances.get",
        {"project": PROJECT, "instance": SOURCE},
        None,
        {
            "name": SOURCE,
            "settings": {"dataDiskSizeGb": "20", "ipConfiguration": {"privateNetwork": NETWORK}},
        },
    )
    http.expect("backupRuns.list", {"project": PROJECT, "instance": SOURCE}, None, {"items": runs})


RUNS = [
    {"id": "1800", "status": "FAILED", "startTime": "2026-11-29T03:00:00Z"},
    {
        "id": "1700",
        "status": "SUCCESSFUL",
        "startTime": "2026-11-28T03:00:00Z",
        "endTime": "2026-11-28T03:04:00Z",
        "maxChargeableBytes": "50000000",
        # The instance's version when the backup was taken, which the scratch must match.
        "databaseVersion": "POSTGRES_16",
        "location": "us",
        "diskEncryptionConfiguration": {"kmsKeyName": PRIMARY_KEY},
    },
    {
        "id": "1600",
        "status": "SUCCESSFUL",
        "startTime": "2026-11-27T03:00:00Z",
        "endTime": "2026-11-27T03:04:00Z",
    },
]
INSERT = {
    "name": SCRATCH,
    "region": REGION,
    "databaseVersion": "POSTGRES_16",
    "diskEncryptionConfiguration": {
        "kmsKeyName": f"projects/{PROJECT}/locations/{REGION}/keyRings/drgen-lab-drill"
        "/cryptoKeys/data"
    },
    "settings": {
        "tier": "db-custom-4-16384",
        "edition": "ENTERPRISE",
        "availabilityType": "ZONAL",
        "dataDiskType": "PD_SSD",
        "dataDiskSizeGb": "20",
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


def _operation(name: str, status: str, error: str | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"name": name, "status": status, "targetId": SCRATCH}
    if error:
        found["error"] = {"errors": [{"code": "INTERNAL", "message": error}]}
    return found


def _restored(
    http: ContractHttp, host: str, restore_error: str | None = None, insert: Any = INSERT
) -> None:
    scratch = {"project": PROJECT, "instance": SCRATCH}
    http.expect("instances.insert", {"project": PROJECT}, insert, _operation("op-1", "PENDING"))
    http.expect(
        "operations.get",
        {"project": PROJECT, "operation": "op-1"},
        None,
        _operation("op-1", "DONE"),
    )
    http.expect(
        "instances.restoreBackup",
        scratch,
        {"restoreBackupContext": {"backupRunId": "1700", "instanceId": SOURCE, "project": PROJECT}},
        _operation("op-2", "RUNNING"),
    )
    http.expect(
        "operations.get",
        {"project": PROJECT, "operation": "op-2"},
        None,
        _operation("op-2", "DONE", restore_error),
    )
    if restore_error:
        return

    def strong(body: Any) -> bool:
        return bool(body["name"] == "postgres" and len(body["password"]) >= 32)

    http.expect("users.update", {**scratch, "name": "postgres"}, strong, _operation("op-3", "DONE"))
    http.expect(
        "instances.get",
        scratch,
        None,
        {"name": SCRATCH, "ipAddresses": [{"type": "PRIVATE", "ipAddress": host}]},
    )


def _deleted(http: ContractHttp, error: str | None = None) -> None:
    """instances.delete, and its operation followed to DONE."""
    http.expect(
        "instances.delete",
        {"project": PROJECT, "instance": SCRATCH},
        None,
        _operation("op-9", "PENDING"),
    )
    http.expect(
        "operations.get",
        {"project": PROJECT, "operation": "op-9"},
        None,
        _operation("op-9", "DONE", error),
    )


def _drill(ctx: Context, component: ComponentPlan) -> Result:
    return runner._run_one(ctx, component)


def test_backup_restored_into_a_scratch_instance_then_the_real_checks(
    http: ContractHttp, pg_server: Any, workload_file: Any
) -> None:
    endpoint = restored_database(pg_server, "vectors")
    ctx, component = _ctx(workload_file)
    _source(http, RUNS)
    _restored(http, endpoint["host"])
    _deleted(http)
    result = _drill(ctx, component)
    http.done()
    assert result.outcome == "pass", result.failures
    assert result.integrity["row_counts"] == {"public.passages": ROWS}
    assert result.integrity["recall_at_k"] >= 0.9
    assert result.measurements["hnsw_build_seconds"]["public.passages_hnsw"] > 0
    assert result.measurements["backup_run"] == "1700"
    # Recorded; a single-region workload restores in its primary, so its key is no finding.
    assert result.measurements["backup_location"] == "us"
    assert result.measurements["backup_kms_key"] == PRIMARY_KEY
    assert result.measurements["restore_point"] == "2026-11-28T03:00:00+00:00"
    assert result.restore_seconds is not None and result.bytes == 50_000_000
    assert result.cleanup == [f"deleted cloud sql instance {SCRATCH}"]
    assert set(ctx.calls) <= set(cloudsql.calls(ctx, component)), "--dry-run lists them all"


def test_a_backup_under_the_primary_regions_key_is_a_finding_in_the_recovery_region(
    http: ContractHttp, pg_server: Any, workload_file: Any
) -> None:
    """Cloud SQL encrypts an instance's backups with the instance's own regional key
    (https://cloud.google.com/sql/docs/postgres/cmek): restoring the primary's backup in the
    recovery region still reads the primary's KMS, so the drill cannot pass as a regional
    recovery."""
    endpoint = restored_database(pg_server, "vectors")
    recovery = "us-east4"
    workload_file(eval_lines(), "evals/retrieval.jsonl")
    # Tier 1: a replica plan, which keeps no exports, so the recovery region restores a backup
    # (tiers 2-3 import their export there: test_drill_cloudsql_export.py).
    path = workload_file(
        WORKLOAD.replace("tier: 3", "tier: 1").replace(
            f"  primary: {REGION}\n", f"  primary: {REGION}\n  secondary: {recovery}\n"
        )
        + "endpoint:\n  domain: lab.example.org\n  zone: example.org\n  targets:\n"
        f"    {REGION}: 203.0.113.21\n    {recovery}: 203.0.113.22\n"
    )
    sourced = load_workload(path)
    plan = resolve(sourced)
    ctx = Context(plan, sourced.workload, path.parent, recovery, RUN, time.monotonic() + 120)
    component = plan.component("vector_store")
    assert component is not None and plan.secondary is not None
    _source(http, RUNS)

    def in_recovery(body: Any) -> bool:
        return bool(
            body["region"] == recovery
            and body["databaseVersion"] == "POSTGRES_16"
            and f"/locations/{recovery}/" in body["diskEncryptionConfiguration"]["kmsKeyName"]
        )

    _restored(http, endpoint["host"], insert=in_recovery)
    _deleted(http)
    result = _drill(ctx, component)
    http.done()
    assert result.outcome == "fail"
    assert result.failures == [
        f"backup run 1700 is encrypted with {PRIMARY_KEY}, a key in the primary region {REGION}:"
        f" this restore depends on the primary's KMS and does not prove a recovery in {recovery}"
        f" with {REGION} down"
    ]
    assert result.integrity["recall_at_k"] >= 0.9  # the data itself was verified


def test_no_successful_backup(http: ContractHttp, workload_file: Any) -> None:
    ctx, component = _ctx(workload_file)
    _source(http, RUNS[:1])
    result = _drill(ctx, component)
    http.done()
    assert result.outcome == "error"
    assert result.failures == [
        f"no successful backup of {SOURCE}: nothing to restore (are its backups running?)"
    ]
    assert result.scratch == [] and result.cleanup == []


def test_stack_not_deployed(http: ContractHttp, workload_file: Any) -> None:
    ctx, component = _ctx(workload_file)
    http.expect(
        "instances.get",
        {"project": PROJECT, "instance": SOURCE},
        None,
        {"error": {"code": 404, "message": "The Cloud SQL instance does not exist."}},
        status=404,
    )
    result = _drill(ctx, component)
    http.done()
    assert result.outcome == "error"
    assert result.failures == [
        f"Cloud SQL instance {SOURCE} not found in project {PROJECT} (is the stack deployed?)"
    ]


def test_failed_restore_still_deletes_the_scratch(http: ContractHttp, workload_file: Any) -> None:
    ctx, component = _ctx(workload_file)
    _source(http, RUNS)
    _restored(http, "unused", restore_error="backup is not restorable")
    _deleted(http)
    result = _drill(ctx, component)
    http.done()
    assert result.outcome == "error"
    assert "failed: backup is not restorable" in result.failures[0]
    assert result.cleanup == [f"deleted cloud sql instance {SCRATCH}"]


def _timed_out_in_the_insert(
    http: ContractHttp, workload_file: Any, monkeypatch: pytest.MonkeyPatch
) -> tuple[Context, ComponentPlan]:
    ctx, component = _ctx(workload_file)
    monkeypatch.setattr(cloudsql, "POLL_SECONDS", 1)
    _source(http, RUNS)
    http.expect("instances.insert", {"project": PROJECT}, INSERT, _operation("op-1", "PENDING"))
    http.expect(
        "operations.get",
        {"project": PROJECT, "operation": "op-1"},
        None,
        _operation("op-1", "RUNNING"),
    )
    ctx.deadline = time.monotonic() + 1.5  # one poll fits, the instance is still being made
    return ctx, component


def _cancelled(http: ContractHttp, looks: int = 1) -> None:
    """operations.cancel (empty body, empty answer:
    https://cloud.google.com/sql/docs/postgres/admin-api/rest/v1/operations/cancel), then the
    operation followed until DONE."""
    http.expect("operations.cancel", {"project": PROJECT, "operation": "op-1"}, None, {})
    for status in ["RUNNING"] * (looks - 1) + ["DONE"]:
        http.expect(
            "operations.get",
            {"project": PROJECT, "operation": "op-1"},
            None,
            _operation("op-1", status),
        )


def test_timeout_cancels_the_running_operation_then_deletes_and_waits_for_it(
    http: ContractHttp, workload_file: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An instance with an operation running refuses instances.delete: the cleanup cancels the
    operation, waits for DONE (its own budget, past --timeout), deletes, and follows the
    deletion's operation to DONE before calling the scratch deleted."""
    ctx, component = _timed_out_in_the_insert(http, workload_file, monkeypatch)
    _cancelled(http, looks=2)
    _deleted(http)
    result = _drill(ctx, component)
    http.done()
    assert result.outcome == "error"
    assert result.failures == ["timed out (--timeout); the step was abandoned"]
    assert result.cleanup == [f"deleted cloud sql instance {SCRATCH}"]
    assert set(ctx.calls) <= set(cloudsql.calls(ctx, component)), "--dry-run lists them all"


def test_an_operation_that_outlasts_the_cleanup_budget_is_not_deleted_under(
    http: ContractHttp, workload_file: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx, component = _timed_out_in_the_insert(http, workload_file, monkeypatch)
    monkeypatch.setattr(cloudsql, "CLEANUP_SECONDS", 0.5)
    http.expect("operations.cancel", {"project": PROJECT, "operation": "op-1"}, None, {})
    for _ in range(2):  # a look, the budget's wait, a last look
        http.expect(
            "operations.get",
            {"project": PROJECT, "operation": "op-1"},
            None,
            _operation("op-1", "RUNNING"),
        )
    result = _drill(ctx, component)
    http.done()  # no instances.delete under the running operation
    assert result.cleanup == [
        f"could not delete scratch instance {SCRATCH}: operation op-1 on {SCRATCH} was still"
        " running when the cleanup's 0 s ran out; delete it by hand (gcloud sql instances"
        f" delete {SCRATCH} --project {PROJECT})"
    ]
    assert result.failures[-1] == result.cleanup[0]


def test_a_failed_deletion_is_not_reported_as_deleted(
    http: ContractHttp, workload_file: Any
) -> None:
    ctx, component = _ctx(workload_file)
    _source(http, RUNS)
    _restored(http, "unused", restore_error="backup is not restorable")
    _deleted(http, error="instance is busy")
    result = _drill(ctx, component)
    http.done()
    assert result.cleanup == [
        f"could not delete scratch instance {SCRATCH}: instances.delete on {SCRATCH} failed:"
        f" instance is busy; delete it by hand (gcloud sql instances delete {SCRATCH}"
        f" --project {PROJECT})"
    ]


def test_an_instance_never_created_is_no_cleanup_error(
    http: ContractHttp, workload_file: Any
) -> None:
    ctx, component = _ctx(workload_file)
    _source(http, RUNS)
    http.expect(
        "instances.insert",
        {"project": PROJECT},
        INSERT,
        {"error": {"code": 403, "message": "quota exceeded"}},
        status=403,
    )
    http.expect(
        "instances.delete",
        {"project": PROJECT, "instance": SCRATCH},
        None,
        {"error": {"code": 404, "message": "The Cloud SQL instance does not exist."}},
        status=404,
    )
    result = _drill(ctx, component)
    http.done()
    assert len(result.failures) == 1 and "quota exceeded" in result.failures[0]
    assert result.cleanup == [f"cloud sql instance {SCRATCH} was never created"]


def test_unreachable_private_ip_is_measured_then_explained(
    http: ContractHttp, workload_file: Any, tmp_path: Path
) -> None:
    ctx, component = _ctx(workload_file)
    _source(http, RUNS)
    _restored(http, str(tmp_path))  # nothing listens there
    _deleted(http)
    result = _drill(ctx, component)
    http.done()
    assert result.outcome == "error" and result.restore_seconds is not None
    assert f"Run the drill from inside the VPC network {NETWORK}" in result.failures[0]


def test_keep(http: ContractHttp, pg_server: Any, workload_file: Any) -> None:
    endpoint = restored_database(pg_server, "vectors")
    ctx, component = _ctx(workload_file, keep=True)
    _source(http, RUNS)
    _restored(http, endpoint["host"])
    result = _drill(ctx, component)
    http.done()  # no delete was made
    assert result.outcome == "pass", result.failures
    assert result.cleanup == [f"kept cloud sql instance {SCRATCH} (--keep)"]


def test_a_production_instance_is_never_written(
    http: ContractHttp, workload_file: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx, component = _ctx(workload_file)
    monkeypatch.setattr(cloudsql, "scratch_name", lambda ctx: SOURCE)
    _source(http, RUNS)
    result = _drill(ctx, component)
    http.done()  # instances.insert was refused before it was sent
    assert result.failures == [
        f"refused sqladmin instances.insert on {SOURCE}: not a scratch resource of this run"
    ]
    assert result.scratch == [] and result.cleanup == []


def test_missing_credentials(
    workload_file: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    monkeypatch.setenv("NO_GCE_CHECK", "True")  # no metadata server here
    ctx, component = _ctx(workload_file)
    result = _drill(ctx, component)
    assert result.outcome == "error"
    assert result.failures[0].startswith("no Google credentials found")
    assert os.environ["NO_GCE_CHECK"] == "True"


def test_dry_run_lists_the_restore_for_the_gcp_examples(run_cli: Any) -> None:
    from tests.conftest import ROOT

    # patient-triage (tier 1) restores a backup; lab-notebooks (tier 2, a secondary) imports the
    # newest export in its recovery region, as its RUNBOOK does.
    for example, first, restore in (
        (
            "patient-triage",
            "sqladmin backupRuns.list patient-triage-vectors-europe-west1 [read]",
            "instances.restoreBackup",
        ),
        (
            "lab-notebooks",
            "storage objects.list lab-notebooks-vectors-us-east1-197c1b/"
            "lab-notebooks-vectors-us-west1/notebooks- [read]",
            "instances.import",
        ),
    ):
        path = ROOT / "examples" / example / "workload.yaml"
        result = run_cli("drill", str(path), "--component", "vector_store", "--dry-run")
        assert result.exit_code == 0, result.output
        lines = result.output.splitlines()
        assert f"  {first}" in lines, result.output
        assert any(line.startswith(f"  sqladmin {restore} drgen-drill-") for line in lines)
        assert any(line.startswith("  sqladmin instances.delete drgen-drill-") for line in lines)


@pytest.mark.parametrize("example", ["patient-triage", "lab-notebooks"])
def test_the_drill_names_what_the_rendered_stacks_create(example: str) -> None:
    """The instance, version and key the drill uses are the generated programs' own."""
    from tests.conftest import ROOT

    path = ROOT / "examples" / example / "workload.yaml"
    sourced = load_workload(path)
    plan = resolve(sourced)
    component = plan.component("vector_store")
    assert component is not None
    region = (plan.secondary or plan.primary).region
    ctx = Context(plan, sourced.workload, path.parent, region, RUN, 0.0)
    stacks = ROOT / "stacks" / example
    program = (stacks / "vector_database.py").read_text()
    assert f'"{plan.primary.region}": "{component.names[plan.primary.region]}"' in program
    assert f'DATABASE_VERSION = "{component.params["database_version"]}"' in program
    assert f'MACHINE_TIER = "{component.params["tier"]}"' in program
    settings = (stacks / "settings.py").read_text()
    ring = cloudsql.key_name(ctx, "p").split("/keyRings/")[1].split("/")[0]
    assert f'KEY_RING = "{ring}"' in settings
    assert "keyRings/{KEY_RING}/cryptoKeys/data" in settings
