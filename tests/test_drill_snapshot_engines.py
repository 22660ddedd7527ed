"""Snapshot engines restored into a scratch engine (`--scratch-url`).

The recovery bucket is moto's S3 API on loopback (real presigned URLs, real checksums). No engine
runs here, so each scratch engine is pytest-httpserver answering with the request and response
shapes of the engine's API reference, cited at each stand-in; failures included.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from drgen.drill.buckets import bucket
from drgen.loader import load_workload
from drgen.plan import resolve
from tests.conftest import ROOT
from tests.drill_servers import (  # noqa: F401 (fixtures)
    aws_fixture,
    gcs_endpoint_fixture,
    gcs_fixture,
    moto_endpoint_fixture,
)

VECTOR = [0.1, 0.2, 0.3]

# Weaviate's distributed backup descriptor (<path>/<id>/backup_config.json): the nodes and the
# classes each holds, as Weaviate's backup coordinator writes it (usecases/backup, the
# DistributedBackupDescriptor's `nodes: {name: {classes, status}}`).
DESCRIPTOR = json.dumps(
    {"id": "drgen-20260101-000000", "status": "SUCCESS", "version": "2.1",
     "nodes": {"node1": {"classes": ["Claim"], "status": "SUCCESS"}}}
).encode()  # fmt: skip


@pytest.fixture(autouse=True)
def _fast_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("drgen.drill.engines.http.POLL_SECONDS", 0.01)


def _setup(
    tmp_path: Path, example: str, table: str, *, expected: list[str], cloud: str = "aws"
) -> dict[str, Any]:
    """The example's workload with an evaluation set, its rendered project's stack configs (a
    production vector_store_url per region) and the recovery bucket, empty."""
    shutil.copytree(ROOT / "examples" / example, tmp_path, dirs_exist_ok=True)
    text = (tmp_path / "workload.yaml").read_text()
    text = re.sub(
        r"^(    engine: (qdrant|weaviate|milvus|opensearch).*)$",
        r"\1\n    eval: evals/retrieval.jsonl",
        text,
        count=1,
        flags=re.M,
    )
    workload = tmp_path / "workload.yaml"
    workload.write_text(text)
    (tmp_path / "evals").mkdir()
    line = {"table": table, "query": VECTOR, "expected": expected, "k": len(expected)}
    (tmp_path / "evals/retrieval.jsonl").write_text(json.dumps(line) + "\n")
    plan = resolve(load_workload(workload))
    project = tmp_path / "project"
    project.mkdir()
    for stack in plan.stacks:
        (project / f"Pulumi.{stack.name}.yaml").write_text(
            f"config:\n  {plan.workload}:vector_store_url: https://vectors.internal:6333/\n"
        )
    recovery = (plan.secondary or plan.primary).region
    component = plan.component("vector_store")
    assert component is not None
    name = bucket(component, recovery)
    found = {"workload": workload, "project": project, "bucket": name, "plan": plan}
    if cloud == "gcp":
        from google.cloud import storage

        storage.Client(project="drgen-test").create_bucket(name)
        return found
    s3 = boto3.client("s3", region_name=recovery)
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": recovery})
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return {**found, "s3": s3}


def _put(setup: dict[str, Any], key: str, data: bytes) -> None:
    setup["s3"].put_object(Bucket=setup["bucket"], Key=key, Body=data, ChecksumAlgorithm="SHA256")


def _drill(run_cli: Any, setup: dict[str, Any], url: str, tmp_path: Path, *extra: str) -> Any:
    evidence = tmp_path / "drills"
    result = run_cli(
        "drill",
        str(setup["workload"]),
        "--component",
        "vector_store",
        "--evidence",
        str(evidence),
        "--scratch-url",
        url,
        "--project",
        str(setup["project"]),
        "--timeout",
        "30",
        *extra,
    )
    return result, _vectors(evidence)


def _vectors(evidence: Path) -> dict[str, Any]:
    [path] = [p for p in evidence.glob("*.json") if not p.name.endswith(".receipt.json")]
    report = json.loads(path.read_text())
    return dict(next(c for c in report["components"] if c["component"] == "vector_store"))


# Qdrant: PUT /collections/{name}/snapshots/recover {"location", "checksum", "priority"} answers
# {"result": true, "status": "ok", "time": ...} once recovered (wait=true); GET /collections/{name}
# has result.status (green/yellow/red) and result.config.params.vectors; points/count
# {"exact": true} answers result.count; points/query answers result.points[].id; DELETE
# /collections/{name} answers result true.
# https://api.qdrant.tech/api-reference/snapshots/recover-from-snapshot,
# https://api.qdrant.tech/api-reference/points/count-points,
# https://api.qdrant.tech/api-reference/search/query-points


def _qdrant(
    httpserver: HTTPServer,
    fetched: dict[str, Any],
    fail: bool = False,
    collection: str = "passages",
) -> None:
    scratch = rf"/collections/drgen-drill-vectors-[a-z0-9]+-{collection}"

    def recover(request: Request) -> Response:
        body = json.loads(request.data)
        # The stand-in downloads the snapshot from the signed URL, as Qdrant does, and checks the
        # SHA-256 the drill passed.
        with urllib.request.urlopen(body["location"], timeout=10) as response:
            data = response.read()
        fetched["sha256_ok"] = hashlib.sha256(data).hexdigest() == body.get("checksum")
        fetched["bytes"] = len(data)
        fetched["query"] = request.args.to_dict()
        fetched["location"] = body["location"]
        if fail:
            error = {"status": {"error": "Wrong input: Snapshot is not valid"}, "time": 0.01}
            return Response(json.dumps(error), status=400, content_type="application/json")
        return Response(json.dumps({"result": True, "status": "ok", "time": 0.2}))

    httpserver.expect_request(
        re.compile(rf"^{scratch}/snapshots/recover$"), method="PUT"
    ).respond_with_handler(recover)
    info = {"status": "green", "config": {"params": {"vectors": {"size": 3, "distance": "Cosine"}}}}
    httpserver.expect_request(re.compile(rf"^{scratch}$"), method="GET").respond_with_json(
        {"result": info, "status": "ok", "time": 0.001}
    )
    httpserver.expect_request(
        re.compile(rf"^{scratch}/points/count$"),
        method="POST",
        json={"exact": True},
    ).respond_with_json({"result": {"count": 1200}, "status": "ok", "time": 0.001})
    points = [{"id": 17, "version": 3, "score": 0.99}, {"id": 4, "version": 1, "score": 0.97}]
    httpserver.expect_request(
        re.compile(rf"^{scratch}/points/query$"),
        method="POST",
    ).respond_with_json({"result": {"points": points}, "status": "ok", "time": 0.002})
    httpserver.expect_request(re.compile(rf"^{scratch}$"), method="DELETE").respond_with_json(
        {"result": True, "status": "ok", "time": 0.01}
    )


def _deleted(httpserver: HTTPServer) -> list[str]:
    return [r.path for r, _ in httpserver.log if r.method == "DELETE"]


def test_qdrant_snapshot_recovered_counted_queried_and_removed(
    aws: str, httpserver: HTTPServer, tmp_path: Path, run_cli: Any
) -> None:
    setup = _setup(tmp_path, "knowledge-assistant", "passages", expected=["17", "4"])
    _put(setup, "passages/passages-2025-12-31.snapshot", b"old" * 100)
    _put(setup, "passages/passages-2026-01-01.snapshot", b"s" * 50_000)
    fetched: dict[str, Any] = {}
    _qdrant(httpserver, fetched)
    result, vectors = _drill(run_cli, setup, httpserver.url_for("/"), tmp_path)
    assert result.exit_code == 0, vectors.get("failures")
    assert fetched["sha256_ok"] and fetched["bytes"] == 50_000
    assert fetched["query"] == {"wait": "true"}
    assert vectors["outcome"] == "pass"
    assert vectors["integrity"]["points"] == {"passages": 1200}
    assert vectors["integrity"]["recall_at_k"] == 1.0
    assert vectors["bytes"] == 50_000 and vectors["restore_seconds"] is not None
    assert vectors["measurements"]["restored_snapshot"] == "passages/passages-2026-01-01.snapshot"
    assert len(_deleted(httpserver)) == 1
    assert vectors["cleanup"] == [f"qdrant collection {_deleted(httpserver)[0][13:]} deleted"]


def _service_account() -> Any:
    """Credentials of a service account with a key of its own: they sign URLs locally."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from google.oauth2 import service_account

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return service_account.Credentials.from_service_account_info(
        {
            "type": "service_account",
            "project_id": "drgen-test",
            "private_key_id": "1",
            "private_key": pem,
            "client_email": "drill@drgen-test.iam.gserviceaccount.com",
            "client_id": "1",
            "token_uri": "https://oauth2.googleapis.com/token",
        }
    )


def test_gcp_qdrant_snapshot_recovered_from_a_v4_signed_url(
    gcs: str, httpserver: HTTPServer, tmp_path: Path, run_cli: Any, monkeypatch: Any
) -> None:
    from google.cloud import storage

    setup = _setup(tmp_path, "recommendations", "items", expected=["17", "4"], cloud="gcp")
    data = b"q" * 20_000
    blob = (
        storage.Client(project="drgen-test").bucket(setup["bucket"]).blob("items/items-1.snapshot")
    )
    blob.metadata = {"sha256": hashlib.sha256(data).hexdigest()}
    blob.upload_from_string(data)
    # The emulator serves anonymous clients only, which cannot sign: the URL is signed with a
    # service account key of the test's, as a key file in ADC would.
    signer = _service_account()
    sign = storage.Blob.generate_signed_url

    def with_key(self: Any, *args: Any, **kwargs: Any) -> Any:
        return sign(self, *args, credentials=signer, **kwargs)

    monkeypatch.setattr(storage.Blob, "generate_signed_url", with_key)
    fetched: dict[str, Any] = {}
    _qdrant(httpserver, fetched, collection="items")
    _, vectors = _drill(run_cli, setup, httpserver.url_for("/"), tmp_path)
    assert vectors["outcome"] == "pass", vectors["failures"]
    assert fetched["sha256_ok"] and fetched["bytes"] == 20_000
    assert "X-Goog-Signature=" in fetched["location"]
    assert vectors["integrity"]["points"] == {"items": 1200}


def test_gcp_credentials_that_cannot_sign_are_a_message(
    gcs: str, httpserver: HTTPServer, tmp_path: Path, run_cli: Any
) -> None:
    setup = _setup(tmp_path, "recommendations", "items", expected=["17"], cloud="gcp")
    from google.cloud import storage

    blob = storage.Client(project="drgen-test").bucket(setup["bucket"]).blob("items/i.snapshot")
    blob.metadata = {"sha256": hashlib.sha256(b"q").hexdigest()}
    blob.upload_from_string(b"q")
    _, vectors = _drill(run_cli, setup, httpserver.url_for("/"), tmp_path)
    assert vectors["outcome"] == "error"
    assert "cannot sign a URL" in vectors["failures"][0]
    # Only the identity question (a read) reached the scratch engine; nothing was restored.
    assert [(r.method, r.path) for r, _ in httpserver.log] == [("GET", "/cluster")]


def test_a_failing_qdrant_recovery_is_reported_and_cleaned_up(
    aws: str, httpserver: HTTPServer, tmp_path: Path, run_cli: Any
) -> None:
    setup = _setup(tmp_path, "knowledge-assistant", "passages", expected=["17", "4"])
    _put(setup, "passages/passages-2026-01-01.snapshot", b"s" * 1000)
    _qdrant(httpserver, {}, fail=True)
    result, vectors = _drill(run_cli, setup, httpserver.url_for("/"), tmp_path)
    assert result.exit_code == 1
    assert vectors["outcome"] == "fail"
    assert "HTTP 400 Wrong input: Snapshot is not valid" in vectors["failures"][0]
    assert len(_deleted(httpserver)) == 1  # the half-recovered collection is removed


def test_keep_leaves_the_restored_collection(
    aws: str, httpserver: HTTPServer, tmp_path: Path, run_cli: Any
) -> None:
    setup = _setup(tmp_path, "knowledge-assistant", "passages", expected=["17", "4"])
    _put(setup, "passages/passages-2026-01-01.snapshot", b"s" * 1000)
    _qdrant(httpserver, {})
    _, vectors = _drill(run_cli, setup, httpserver.url_for("/"), tmp_path, "--keep")
    assert vectors["outcome"] == "pass"
    assert not _deleted(httpserver)
    assert vectors["cleanup"][0].startswith("kept (--keep): qdrant drgen-drill-vectors-")


def test_an_unexpected_engine_answer_is_a_message_and_cleaned_up(
    aws: str, httpserver: HTTPServer, tmp_path: Path, run_cli: Any
) -> None:
    setup = _setup(tmp_path, "knowledge-assistant", "passages", expected=["17", "4"])
    _put(setup, "passages/passages-2026-01-01.snapshot", b"s" * 1000)
    counts = re.compile(r"^/collections/drgen-drill-vectors-[a-z0-9]+-passages/points/count$")
    httpserver.expect_oneshot_request(counts).respond_with_json({"status": "ok", "result": {}})
    _qdrant(httpserver, {})
    _, vectors = _drill(run_cli, setup, httpserver.url_for("/"), tmp_path)
    assert vectors["outcome"] == "error"
    assert vectors["failures"] == [
        "scratch restore: an answer of the engine lacks KeyError('count')"
    ]
    assert len(_deleted(httpserver)) == 1


def test_low_recall_fails_the_drill(
    aws: str, httpserver: HTTPServer, tmp_path: Path, run_cli: Any
) -> None:
    setup = _setup(tmp_path, "knowledge-assistant", "passages", expected=["17", "99"])
    _put(setup, "passages/passages-2026-01-01.snapshot", b"s" * 1000)
    _qdrant(httpserver, {})
    _, vectors = _drill(run_cli, setup, httpserver.url_for("/"), tmp_path)
    assert vectors["outcome"] == "fail"
    assert vectors["integrity"]["recall_at_k"] == 0.5
    assert "below 0.9" in vectors["failures"][0]


def test_production_engine_and_missing_project_are_refused(
    aws: str, httpserver: HTTPServer, tmp_path: Path, run_cli: Any
) -> None:
    setup = _setup(tmp_path, "knowledge-assistant", "passages", expected=["17"])
    _put(setup, "passages/passages-2026-01-01.snapshot", b"s" * 1000)
    # The same engine as the stack's https://vectors.internal:6333/, spelled differently.
    _, vectors = _drill(run_cli, setup, "HTTPS://Vectors.Internal:6333", tmp_path)
    assert vectors["outcome"] == "error"
    assert "a production engine" in vectors["failures"][0]
    assert not httpserver.log
    evidence = tmp_path / "drills-2"
    run_cli(
        "drill", str(setup["workload"]), "--component", "vector_store", "--evidence",
        str(evidence), "--scratch-url", httpserver.url_for("/"),
    )  # fmt: skip
    assert "needs --project" in _vectors(evidence)["failures"][0]
    # A folder that is not the rendered project (the runbook's `--project .` run elsewhere).
    not_project = {**setup, "project": tmp_path / "evals"}
    _, vectors = _drill(run_cli, not_project, "http://x/", tmp_path / "third")
    assert "production engines are unknown" in vectors["failures"][0]
    assert not httpserver.log


def test_restore_that_outlives_the_timeout_is_abandoned_and_cleaned_up(
    aws: str, httpserver: HTTPServer, tmp_path: Path, run_cli: Any
) -> None:
    # Weaviate: POST /v1/backups/{backend}/{id}/restore answers {id, backend, classes, status:
    # STARTED}; GET on the same path reports status until SUCCESS/FAILED/CANCELED; DELETE on it
    # cancels a running restore; DELETE /v1/schema/{class} removes a class.
    # https://weaviate.io/developers/weaviate/api/rest/backups
    setup = _setup(tmp_path, "claims-triage", "Claim", expected=["a"])
    _put(setup, "drgen-20260101-000000/node1/chunk-1", b"c" * 4000)
    _put(setup, "drgen-20260101-000000/backup_config.json", DESCRIPTOR)
    httpserver.expect_request("/v1/schema", method="GET").respond_with_json({"classes": []})
    restore = "/v1/backups/s3/drgen-20260101-000000/restore"
    started = {"id": "drgen-20260101-000000", "backend": "s3", "classes": ["Claim"]}
    httpserver.expect_request(restore, method="POST").respond_with_json(
        {**started, "status": "STARTED", "path": "s3://bucket/drgen-20260101-000000"}
    )
    httpserver.expect_request(restore, method="GET").respond_with_json(
        {**started, "status": "TRANSFERRING"}
    )
    httpserver.expect_request(restore, method="DELETE").respond_with_data("", status=204)
    httpserver.expect_request("/v1/schema/Claim", method="DELETE").respond_with_data("")
    result, vectors = _drill(run_cli, setup, httpserver.url_for("/"), tmp_path, "--timeout", "2")
    assert result.exit_code == 1
    assert vectors["outcome"] == "error"
    assert "timed out" in vectors["failures"][-1] or "--timeout" in vectors["failures"][-1]
    assert _deleted(httpserver) == [restore, "/v1/schema/Claim"]


def _weaviate_success(
    httpserver: HTTPServer, failed: bool = False, bodies: list[Any] | None = None
) -> str:
    restore = "/v1/backups/s3/drgen-20260101-000000/restore"
    started = {"id": "drgen-20260101-000000", "backend": "s3", "classes": ["Claim"]}
    httpserver.expect_request("/v1/schema", method="GET").respond_with_json(
        {"classes": [{"class": "Unrelated"}]}
    )
    # GET /v1/nodes: {"nodes": [{"name", "status", ...}]}; a scratch node of another name.
    httpserver.expect_request("/v1/nodes", method="GET").respond_with_json(
        {"nodes": [{"name": "scratch-0", "status": "HEALTHY"}]}
    )

    def start(request: Request) -> Response:
        if bodies is not None:
            bodies.append(json.loads(request.data))
        return Response(
            json.dumps({**started, "status": "STARTED"}), content_type="application/json"
        )

    httpserver.expect_request(restore, method="POST").respond_with_handler(start)
    states = iter(["TRANSFERRING", "FAILED" if failed else "SUCCESS"])

    def status(request: Request) -> Response:
        state = next(states, "SUCCESS")
        body = {**started, "status": state, "error": "node1: checksum mismatch" if failed else ""}
        return Response(json.dumps(body), content_type="application/json")

    httpserver.expect_request(restore, method="GET").respond_with_handler(status)

    # GraphQL: Aggregate {Claim {meta {count}}} and Get {Claim(nearVector, limit) {_additional
    # {id}}}: https://weaviate.io/developers/weaviate/api/graphql/aggregate, .../search-operators
    def graphql(request: Request) -> Response:
        query = json.loads(request.data)["query"]
        if "Aggregate" in query:
            data = {"Aggregate": {"Claim": [{"meta": {"count": 310}}]}}
        else:
            assert "nearVector: {vector: [0.1, 0.2, 0.3]}, limit: 1" in query
            data = {"Get": {"Claim": [{"_additional": {"id": "a"}}]}}
        return Response(json.dumps({"data": data}), content_type="application/json")

    httpserver.expect_request("/v1/graphql", method="POST").respond_with_handler(graphql)
    httpserver.expect_request("/v1/schema/Claim", method="DELETE").respond_with_data("")
    return restore


def test_weaviate_backup_restored_and_its_classes_removed(
    aws: str, httpserver: HTTPServer, tmp_path: Path, run_cli: Any, monkeypatch: Any
) -> None:
    setup = _setup(tmp_path, "claims-triage", "Claim", expected=["a"])
    _put(setup, "drgen-20260101-000000/node1/chunk-1", b"c" * 4000)
    _put(setup, "drgen-20260101-000000/backup_config.json", DESCRIPTOR)
    # The node's own descriptor, written in the same second: its folder is not a backup id.
    _put(setup, "drgen-20260101-000000/node1/backup_config.json", b'{"classes": []}')
    bodies: list[Any] = []
    _weaviate_success(httpserver, bodies=bodies)
    monkeypatch.setenv("SCRATCH_WEAVIATE_KEY", "k-123")
    _, vectors = _drill(
        run_cli, setup, httpserver.url_for("/"), tmp_path, "--scratch-key-env",
        "SCRATCH_WEAVIATE_KEY",
    )  # fmt: skip
    assert vectors["outcome"] == "pass", vectors["failures"]
    assert vectors["integrity"]["points"] == {"Claim": 310}
    assert vectors["integrity"]["recall_at_k"] == 1.0
    assert vectors["measurements"]["restored_snapshot"] == "drgen-20260101-000000"
    assert _deleted(httpserver) == ["/v1/schema/Claim"]  # never the class it did not restore
    # The backup drgen verified (bucket and path), its classes, its node onto the scratch node.
    assert bodies == [
        {"config": {"Bucket": setup["bucket"], "Path": ""}, "include": ["Claim"],
         "node_mapping": {"node1": "scratch-0"}}
    ]  # fmt: skip
    assert all(r.headers["Authorization"] == "Bearer k-123" for r, _ in httpserver.log)


def test_a_failed_weaviate_restore_is_a_failure_with_the_engines_reason(
    aws: str, httpserver: HTTPServer, tmp_path: Path, run_cli: Any
) -> None:
    setup = _setup(tmp_path, "claims-triage", "Claim", expected=["a"])
    _put(setup, "drgen-20260101-000000/backup_config.json", DESCRIPTOR)
    _weaviate_success(httpserver, failed=True)
    _, vectors = _drill(run_cli, setup, httpserver.url_for("/"), tmp_path)
    assert vectors["outcome"] == "fail"
    assert "FAILED: node1: checksum mismatch" in vectors["failures"][0]
    assert _deleted(httpserver) == ["/v1/schema/Claim"]


def test_a_scratch_weaviate_already_holding_a_class_is_refused_before_restoring(
    aws: str, httpserver: HTTPServer, tmp_path: Path, run_cli: Any
) -> None:
    setup = _setup(tmp_path, "claims-triage", "Claim", expected=["a"])
    _put(setup, "drgen-20260101-000000/backup_config.json", DESCRIPTOR)
    httpserver.expect_request("/v1/schema", method="GET").respond_with_json(
        {"classes": [{"class": "Claim"}]}
    )
    _, vectors = _drill(run_cli, setup, httpserver.url_for("/"), tmp_path)
    assert vectors["outcome"] == "error"
    assert "already holds Claim" in vectors["failures"][0]
    assert [r.method for r, _ in httpserver.log] == ["GET", "GET"]  # nodes, schema: no write
    assert _deleted(httpserver) == []  # its Claim is not the drill's to delete


def test_a_missing_snapshot_restores_nothing(
    aws: str, httpserver: HTTPServer, tmp_path: Path, run_cli: Any
) -> None:
    setup = _setup(tmp_path, "claims-triage", "Claim", expected=["a"])
    _put(setup, "drgen-20260101-000000/node1/chunk-1", b"c" * 10)  # never completed
    _, vectors = _drill(run_cli, setup, httpserver.url_for("/"), tmp_path)
    assert vectors["outcome"] == "error"
    assert "no backup_config.json" in vectors["failures"][0]
    assert [(r.method, r.path) for r, _ in httpserver.log] == [("GET", "/v1/nodes")]


def test_runbook_drill_commands_parse_with_the_cli() -> None:
    import shlex

    from drgen.cli import main
    from drgen.drills import drill_calendar

    for example in ("knowledge-assistant", "claims-triage", "content-moderation", "catalog-search"):
        plan = resolve(load_workload(ROOT / "examples" / example / "workload.yaml"))
        [vectors] = [d for d in drill_calendar(plan) if "vector_store" in d.title]
        args = shlex.split(re.sub(r'"\$\(?[^"]*"', "VALUE", vectors.command))[2:]
        context = main.get_command(None, "drill").make_context("drill", args)  # type: ignore[union-attr]
        assert context.params["scratch_url"] == "VALUE" and context.params["project"] == Path()


def test_dry_run_lists_the_scratch_engine_calls(tmp_path: Path, run_cli: Any) -> None:
    workload = ROOT / "examples/knowledge-assistant/workload.yaml"
    result = run_cli(
        "drill", str(workload), "--dry-run", "--component", "vector_store", "--scratch-url",
        "https://scratch-qdrant:6333",
    )  # fmt: skip
    assert result.exit_code == 0
    out = result.stdout
    assert "s3 presign GetObject" in out
    assert "qdrant PUT /collections/{scratch}/snapshots/recover https://scratch-qdrant:6333" in out
    assert "qdrant DELETE /collections/{scratch}" in out and "[scratch]" in out
    assert "qdrant GET /cluster, GET /telemetry (identity) https://scratch-qdrant:6333" in out


def test_a_qdrant_recovery_outliving_the_timeout_is_deleted_when_it_lands(
    aws: str, httpserver: HTTPServer, tmp_path: Path, run_cli: Any, monkeypatch: Any
) -> None:
    # Qdrant has no API to cancel or follow a recovery: the recover request (wait=true) times out
    # on the drill's side while Qdrant goes on and creates the collection afterwards. GET
    # /collections/{name} answers 404 until it exists.
    monkeypatch.setattr("drgen.drill.engines.http.CLEANUP_SECONDS", 2.0)
    setup = _setup(tmp_path, "knowledge-assistant", "passages", expected=["17"])
    _put(setup, "passages/passages-2026-01-01.snapshot", b"s" * 1000)
    scratch = r"/collections/drgen-drill-vectors-[a-z0-9]+-passages"
    exists = threading.Event()

    def recover(request: Request) -> Response:
        time.sleep(1.5)  # past --timeout 1; the collection lands a moment later
        threading.Timer(0.3, exists.set).start()
        return Response(json.dumps({"result": True, "status": "ok", "time": 1.5}))

    def get(request: Request) -> Response:
        if exists.is_set():
            return Response(json.dumps({"result": {"status": "green"}, "status": "ok"}))
        return Response(json.dumps({"status": {"error": "Not found"}}), status=404)

    def delete(request: Request) -> Response:
        exists.clear()
        return Response(json.dumps({"result": True, "status": "ok", "time": 0.01}))

    httpserver.expect_request(
        re.compile(rf"^{scratch}/snapshots/recover$"), method="PUT"
    ).respond_with_handler(recover)
    httpserver.expect_request(re.compile(rf"^{scratch}$"), method="GET").respond_with_handler(get)
    httpserver.expect_request(re.compile(rf"^{scratch}$"), method="DELETE").respond_with_handler(
        delete
    )
    _, vectors = _drill(run_cli, setup, httpserver.url_for("/"), tmp_path, "--timeout", "1")
    assert vectors["outcome"] == "error"
    assert len(_deleted(httpserver)) == 2  # the first delete, then the late collection
    assert not exists.is_set()
    assert "stayed absent after the abandoned recovery" in vectors["cleanup"][-1]
