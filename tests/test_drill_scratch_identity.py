"""The scratch engine is told apart from production by what the engines say they are.

Two pytest-httpserver instances stand in for the scratch and the production engine, answering
the identity requests as the engines' API references show them: Qdrant GET /cluster
({"result": {"status": "disabled"}} on a single node) and GET /telemetry (`result.id`,
https://api.qdrant.tech/api-reference/service/telemetry); Weaviate GET /v1/nodes
({"nodes": [{"name": ...}]}, https://weaviate.io/developers/weaviate/api/rest#tag/nodes);
OpenSearch GET / (`cluster_uuid`, https://docs.opensearch.org/latest/api-reference/).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from tests.drill_servers import aws_fixture, moto_endpoint_fixture  # noqa: F401 (fixtures)
from tests.test_drill_snapshot_engines import _drill, _put, _setup
from tests.test_drill_snapshot_engines import _fast_polls as _fast_polls  # autouse fixture


@pytest.fixture(name="production")
def production_fixture() -> Iterator[HTTPServer]:
    server = HTTPServer(host="127.0.0.1")
    server.start()
    try:
        yield server
    finally:
        server.clear()
        server.stop()


def _stack_url(setup: dict[str, Any], url: str) -> None:
    plan = setup["plan"]
    for path in Path(setup["project"]).glob("Pulumi.*.yaml"):
        path.write_text(f"config:\n  {plan.workload}:vector_store_url: {url}\n")


def _qdrant_identity(server: HTTPServer, instance: str) -> None:
    server.expect_request("/cluster").respond_with_json({"result": {"status": "disabled"}})
    server.expect_request("/telemetry").respond_with_json({"result": {"id": instance}})


def _writes(server: HTTPServer) -> list[str]:
    return [f"{r.method} {r.path}" for r, _ in server.log if r.method != "GET"]


def test_a_scratch_url_answering_as_production_qdrant_is_refused(
    aws: str, httpserver: HTTPServer, production: HTTPServer, tmp_path: Path, run_cli: Any
) -> None:
    setup = _setup(tmp_path, "knowledge-assistant", "passages", expected=["17"])
    _put(setup, "passages/passages-2026-01-01.snapshot", b"s" * 1000)
    _stack_url(setup, production.url_for("/"))
    # A port-forward or proxy to production: another URL, the same Qdrant instance.
    _qdrant_identity(production, "3f8e-prod")
    _qdrant_identity(httpserver, "3f8e-prod")
    _, vectors = _drill(run_cli, setup, httpserver.url_for("/"), tmp_path)
    assert vectors["outcome"] == "error"
    assert "is knowledge-assistant" not in vectors["failures"][0]
    assert "production qdrant (both answer as qdrant instance 3f8e-prod)" in vectors["failures"][0]
    assert _writes(httpserver) == [] and _writes(production) == []


def test_another_qdrant_instance_is_accepted_and_the_comparison_recorded(
    aws: str, httpserver: HTTPServer, production: HTTPServer, tmp_path: Path, run_cli: Any
) -> None:
    setup = _setup(tmp_path, "knowledge-assistant", "passages", expected=["17"])
    _stack_url(setup, production.url_for("/"))
    _qdrant_identity(production, "3f8e-prod")
    _qdrant_identity(httpserver, "77aa-scratch")
    _, vectors = _drill(run_cli, setup, httpserver.url_for("/"), tmp_path)
    assert "no snapshot" in vectors["failures"][0]  # past the guard; the bucket is empty
    notes = vectors["measurements"]["scratch_is_not_production"]
    assert len(notes) == len(setup["plan"].stacks)  # one comparison per production engine
    assert all("identity differs" in note for note in notes)


def test_same_address_without_an_identity_is_refused(
    aws: str, production: HTTPServer, tmp_path: Path, run_cli: Any
) -> None:
    setup = _setup(tmp_path, "knowledge-assistant", "passages", expected=["17"])
    _put(setup, "passages/passages-2026-01-01.snapshot", b"s" * 1000)
    _stack_url(setup, f"http://127.0.0.1:{production.port}/")
    # localhost and 127.0.0.1 are different strings for one address; the engine does not say
    # who it is (its identity requests are unanswered), so the address decides.
    _, vectors = _drill(run_cli, setup, f"http://localhost:{production.port}/", tmp_path)
    assert vectors["outcome"] == "error"
    assert "resolves to the address of" in vectors["failures"][0]
    assert _writes(production) == []


def test_weaviate_with_production_node_names_is_refused(
    aws: str, httpserver: HTTPServer, production: HTTPServer, tmp_path: Path, run_cli: Any
) -> None:
    setup = _setup(tmp_path, "claims-triage", "Claim", expected=["a"])
    _put(setup, "drgen-20260101-000000/backup_config.json", b"{}")
    _stack_url(setup, production.url_for("/"))
    nodes = {"nodes": [{"name": "weaviate-0", "status": "HEALTHY"}]}
    production.expect_request("/v1/nodes").respond_with_json(nodes)
    httpserver.expect_request("/v1/nodes").respond_with_json(nodes)
    _, vectors = _drill(run_cli, setup, httpserver.url_for("/"), tmp_path)
    assert "production weaviate (both answer as weaviate node weaviate-0)" in vectors["failures"][0]
    assert _writes(httpserver) == []


def test_opensearch_with_the_production_cluster_uuid_is_refused(
    aws: str, httpserver: HTTPServer, production: HTTPServer, tmp_path: Path, run_cli: Any
) -> None:
    setup = _setup(tmp_path, "content-moderation", "violations", expected=["v1"])
    _put(setup, "index-3", b"{}")
    _stack_url(setup, production.url_for("/"))
    root = {"cluster_name": "123456789012:vectors", "cluster_uuid": "Zq1-prod-uuid"}
    production.expect_request("/").respond_with_json(root)
    httpserver.expect_request("/").respond_with_json(root)
    _, vectors = _drill(
        run_cli,
        setup,
        httpserver.url_for("/"),
        tmp_path,
        "--scratch-role-arn",
        "arn:aws:iam::1:role/r",
    )
    assert "both answer as opensearch cluster Zq1-prod-uuid" in vectors["failures"][0]
    assert _writes(httpserver) == []


def test_a_silent_production_engine_does_not_hold_the_drill(
    aws: str,
    httpserver: HTTPServer,
    production: HTTPServer,
    tmp_path: Path,
    run_cli: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("drgen.drill.engines.identity.IDENTITY_SECONDS", 0.3)
    setup = _setup(tmp_path, "knowledge-assistant", "passages", expected=["17"])
    _stack_url(setup, production.url_for("/"))

    def silent(request: Any) -> Any:
        time.sleep(4.0)  # a firewall that drops: far longer than an identity request may wait
        raise AssertionError("never answered in time")

    production.expect_request("/cluster").respond_with_handler(silent)
    _qdrant_identity(httpserver, "77aa-scratch")
    started = time.monotonic()
    _, vectors = _drill(run_cli, setup, httpserver.url_for("/"), tmp_path)
    assert time.monotonic() - started < 6  # two stacks: 8 s if each probe waited
    assert "no snapshot" in vectors["failures"][0]  # past the guard: another address
    assert all(
        "identity not established" in n
        for n in vectors["measurements"]["scratch_is_not_production"]
    )
