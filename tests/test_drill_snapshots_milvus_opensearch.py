"""Milvus and OpenSearch snapshots restored into a scratch engine (`--scratch-url`).

As in test_drill_snapshot_engines.py: the recovery bucket is moto's S3 API on loopback; each
scratch engine is pytest-httpserver answering with the request and response shapes of the
engine's API reference, cited at each stand-in.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.drill_servers import aws_fixture, moto_endpoint_fixture  # noqa: F401 (fixtures)
from tests.test_drill_snapshot_engines import _deleted, _drill, _put, _setup
from tests.test_drill_snapshot_engines import _fast_polls as _fast_polls  # autouse fixture


def test_milvus_backup_restored_with_a_suffix_loaded_and_dropped(
    aws: str, httpserver: HTTPServer, tmp_path: Path, run_cli: Any
) -> None:
    # milvus-backup: POST /api/v1/restore {async, backup_name, bucket_name, path,
    # collection_suffix, restore_index} (RestoreBackupRequest has no id of the caller's) and
    # GET /api/v1/get_restore?id=<data.id of the POST's answer> answer {requestId, code, msg,
    # data: RestoreBackupTask {id, state_code, errorMessage, collection_restore_tasks:
    # [{target_collection_name, state_code}]}} (core/proto/backup.proto, docs/swagger.yaml).
    # Milvus RESTful v2 answers {code: 0, data}: collections/get_load_state data.loadState,
    # get_stats data.rowCount, entities/search data [{<fields>, distance}]
    # (https://milvus.io/api-reference/restful/v2.5.x).
    setup = _setup(tmp_path, "research-sandbox", "embeddings", expected=["7"])
    _put(setup, "backup/drgen_20260101_000000/meta/backup_meta.json", b"{}")
    _put(setup, "backup/drgen_20260101_000000/binlogs/insert_log/1", b"b" * 8000)
    # The backup's own record of what it holds: CollectionLevelBackupInfo and
    # SegmentLevelBackupInfo as JSON ({"infos": [...]}, core/proto/backup.proto).
    _put(
        setup,
        "backup/drgen_20260101_000000/meta/collection_meta.json",
        json.dumps({"infos": [{"collection_id": 11, "collection_name": "embeddings"}]}).encode(),
    )
    _put(
        setup,
        "backup/drgen_20260101_000000/meta/segment_meta.json",
        json.dumps(
            {
                "infos": [
                    {"collection_id": 11, "segment_id": 1, "num_of_rows": 3000},
                    {"collection_id": 11, "segment_id": 2, "num_of_rows": 2000},
                ]
            }
        ).encode(),
    )
    seen: dict[str, Any] = {}

    def restore(request: Request) -> Response:
        body = json.loads(request.data)
        seen.update(body)
        assert "id" not in body
        task = {
            "id": "restore_2f1c",
            "state_code": 1,
            "collection_restore_tasks": [
                {"target_collection_name": "embeddings" + body["collection_suffix"]}
            ],
        }
        return Response(json.dumps({"requestId": "r1", "code": 0, "msg": "", "data": task}))

    httpserver.expect_request("/api/v1/restore", method="POST").respond_with_handler(restore)
    states = iter([1, 2])

    def get_restore(request: Request) -> Response:
        assert request.args["id"] == "restore_2f1c"  # the id milvus-backup answered
        task = {
            "id": request.args["id"],
            "state_code": next(states, 2),
            "collection_restore_tasks": [
                {"target_collection_name": "embeddings" + seen["collection_suffix"]}
            ],
        }
        return Response(json.dumps({"code": 0, "msg": "", "data": task}))

    httpserver.expect_request("/api/v1/get_restore", method="GET").respond_with_handler(get_restore)
    milvus = {
        "/v2/vectordb/collections/load": {"code": 0, "data": {}},
        "/v2/vectordb/collections/get_load_state": {
            "code": 0,
            "data": {"loadState": "LoadStateLoaded", "loadProgress": 100},
        },
        "/v2/vectordb/collections/get_stats": {"code": 0, "data": {"rowCount": 5000}},
        "/v2/vectordb/entities/search": {"code": 0, "data": [{"id": 7, "distance": 0.01}]},
        "/v2/vectordb/collections/drop": {"code": 0, "data": {}},
        # collections/list answers {code: 0, data: [names]}
        "/v2/vectordb/collections/list": {"code": 0, "data": ["embeddings", "other"]},
    }
    for path, answer in milvus.items():
        httpserver.expect_request("/milvus" + path, method="POST").respond_with_json(answer)
    _, vectors = _drill(
        run_cli, setup, httpserver.url_for("/"), tmp_path, "--scratch-search-url",
        httpserver.url_for("/milvus"),
    )  # fmt: skip
    assert vectors["outcome"] == "pass", vectors["failures"]
    assert seen["backup_name"] == "drgen_20260101_000000"
    assert seen["bucket_name"] == setup["bucket"] and seen["path"] == "backup"
    assert seen["restore_index"] is True and seen["async"] is True
    assert re.fullmatch(r"_drgen_drill_vectors_[a-z0-9]+", seen["collection_suffix"])
    assert vectors["integrity"] == {**vectors["integrity"], "points": {"embeddings": 5000}}
    assert vectors["integrity"]["points_in_snapshot"] == {"embeddings": 5000}
    assert vectors["integrity"]["recall_at_k"] == 1.0
    drops = [r for r, _ in httpserver.log if r.path.endswith("/drop")]
    assert json.loads(drops[0].data) == {"collectionName": "embeddings" + seen["collection_suffix"]}


def test_a_failed_milvus_restore_drops_what_it_created(
    aws: str, httpserver: HTTPServer, tmp_path: Path, run_cli: Any
) -> None:
    setup = _setup(tmp_path, "research-sandbox", "embeddings", expected=["7"])
    _put(setup, "backup/drgen_20260101_000000/meta/backup_meta.json", b"{}")
    suffix: list[str] = []

    def restore(request: Request) -> Response:
        body = json.loads(request.data)
        suffix.append(body["collection_suffix"])
        tasks = [{"target_collection_name": "embeddings" + body["collection_suffix"]}]
        task = {"id": "restore_9a", "state_code": 1, "collection_restore_tasks": tasks}
        return Response(json.dumps({"code": 0, "data": task}))

    def failed(request: Request) -> Response:
        task = {"id": request.args["id"], "state_code": 3, "errorMessage": "bulk insert failed"}
        return Response(json.dumps({"code": 0, "data": task}))

    httpserver.expect_request("/api/v1/restore", method="POST").respond_with_handler(restore)
    httpserver.expect_request("/api/v1/get_restore").respond_with_handler(failed)
    httpserver.expect_request("/milvus/v2/vectordb/collections/drop").respond_with_json(
        {"code": 0, "data": {}}
    )
    httpserver.expect_request("/milvus/v2/vectordb/collections/list").respond_with_json(
        {"code": 0, "data": ["embeddings"]}
    )
    _, vectors = _drill(
        run_cli, setup, httpserver.url_for("/"), tmp_path, "--scratch-search-url",
        httpserver.url_for("/milvus"),
    )  # fmt: skip
    assert vectors["outcome"] == "fail"
    assert (
        "milvus-backup restore of drgen_20260101_000000 failed: bulk insert failed"
        in (vectors["failures"][0])
    )
    assert vectors["cleanup"] == [f"milvus collection embeddings{suffix[0]} dropped"]


def test_opensearch_without_a_finished_snapshot_unregisters_its_repository(
    aws: str, httpserver: HTTPServer, tmp_path: Path, run_cli: Any
) -> None:
    setup = _setup(tmp_path, "content-moderation", "violations", expected=["v1"])
    _put(setup, "index-0", b"{}")
    repo = re.compile(r"^/_snapshot/drgen-drill-repository-[a-z0-9]+$")
    httpserver.expect_request(repo, method="PUT").respond_with_json({"acknowledged": True})
    running = {"snapshot": "drgen-20260101-000000", "state": "IN_PROGRESS", "indices": ["v"]}
    httpserver.expect_request(
        re.compile(r"^/_snapshot/drgen-drill-repository-[a-z0-9]+/_all$")
    ).respond_with_json({"snapshots": [running]})
    httpserver.expect_request(repo, method="DELETE").respond_with_json({"acknowledged": True})
    role = "arn:aws:iam::123456789012:role/snapshots"
    _, vectors = _drill(
        run_cli, setup, httpserver.url_for("/"), tmp_path, "--scratch-role-arn", role
    )
    assert vectors["outcome"] == "error"
    assert "no successful drgen snapshot" in vectors["failures"][0]
    assert len(_deleted(httpserver)) == 1 and "unregistered" in vectors["cleanup"][0]


def test_opensearch_snapshot_restored_under_scratch_names(
    aws: str, httpserver: HTTPServer, tmp_path: Path, run_cli: Any
) -> None:
    # OpenSearch: PUT _snapshot/{repo} {type: s3, settings}; GET _snapshot/{repo}/_all answers
    # snapshots [{snapshot, state, indices, start_time_in_millis}]; POST
    # _snapshot/{repo}/{snapshot}/_restore answers {accepted: true}; GET {index}/_recovery
    # answers {index: {shards: [{stage, index: {size: {recovered_in_bytes}}}]}}; _count answers
    # {count}; _search hits.hits[]._id (docs.opensearch.org api-reference/snapshots/*,
    # api-reference/index-apis/recover, search-plugins/knn/api).
    setup = _setup(tmp_path, "content-moderation", "violations", expected=["v1", "v2"])
    _put(setup, "index-3", b"{}")
    _put(setup, "indices/abc/0/__seg", b"x" * 3000)
    repo = re.compile(r"^/_snapshot/drgen-drill-repository-[a-z0-9]+$")
    httpserver.expect_request(repo, method="PUT").respond_with_json({"acknowledged": True})
    snapshots = [
        {"snapshot": "drgen-20260101-000000", "state": "SUCCESS", "indices": ["violations"],
         "start_time_in_millis": 1},
        {"snapshot": "drgen-20260101-001000", "state": "SUCCESS",
         "indices": ["violations", ".kibana_1"], "start_time_in_millis": 2},
        {"snapshot": "drgen-20260101-002000", "state": "IN_PROGRESS", "indices": ["violations"],
         "start_time_in_millis": 3},
    ]  # fmt: skip
    httpserver.expect_request(
        re.compile(r"^/_snapshot/drgen-drill-repository-[a-z0-9]+/_all$"), method="GET"
    ).respond_with_json({"snapshots": snapshots})
    bodies: list[Any] = []

    def restore(request: Request) -> Response:
        bodies.append(json.loads(request.data))
        return Response(json.dumps({"accepted": True}), content_type="application/json")

    httpserver.expect_request(
        re.compile(r"^/_snapshot/drgen-drill-repository-[a-z0-9]+/drgen-20260101-001000/_restore$"),
        method="POST",
    ).respond_with_handler(restore)
    stages = iter(["INDEX", "DONE"])

    def recovery(request: Request) -> Response:
        name = request.path.split("/")[1]
        size = {"total_in_bytes": 9000, "recovered_in_bytes": 9000}
        shard = {"stage": next(stages, "DONE"), "type": "SNAPSHOT", "index": {"size": size}}
        return Response(json.dumps({name: {"shards": [shard]}}), content_type="application/json")

    index = r"drgen-drill-vectors-[a-z0-9]+-violations"
    httpserver.expect_request(re.compile(f"^/{index}/_recovery$")).respond_with_handler(recovery)
    httpserver.expect_request(re.compile(f"^/{index}/_count$")).respond_with_json({"count": 42})
    hits = {"hits": {"hits": [{"_id": "v1", "_score": 1.0}, {"_id": "v2", "_score": 0.9}]}}
    httpserver.expect_request(re.compile(f"^/{index}/_search$")).respond_with_json(hits)
    httpserver.expect_request(re.compile(f"^/{index}$"), method="DELETE").respond_with_json(
        {"acknowledged": True}
    )
    httpserver.expect_request(repo, method="DELETE").respond_with_json({"acknowledged": True})
    role = "arn:aws:iam::123456789012:role/snapshots"
    _, vectors = _drill(
        run_cli, setup, httpserver.url_for("/"), tmp_path, "--scratch-role-arn", role
    )
    assert vectors["outcome"] == "pass", vectors["failures"]
    assert vectors["measurements"]["restored_snapshot"] == "drgen-20260101-001000"
    assert bodies[0]["indices"] == "violations" and bodies[0]["include_global_state"] is False
    assert bodies[0]["rename_replacement"].startswith("drgen-drill-vectors-")
    assert vectors["bytes"] == 9000 and vectors["integrity"]["points"] == {"violations": 42}
    register = next(r for r, _ in httpserver.log if r.method == "PUT")
    assert json.loads(register.data)["settings"] == {
        "bucket": setup["bucket"], "region": "us-west-2", "role_arn": role, "readonly": True
    }  # fmt: skip
    assert register.headers["Authorization"].startswith("AWS4-HMAC-SHA256")  # SigV4, service es
    assert "/es/aws4_request" in register.headers["Authorization"]
    assert len(_deleted(httpserver)) == 2


def test_a_milvus_restore_past_the_timeout_is_awaited_and_its_collections_dropped(
    aws: str, httpserver: HTTPServer, tmp_path: Path, run_cli: Any
) -> None:
    # milvus-backup has no cancel: the task keeps creating collections after --timeout. Cleanup
    # polls the task until it ends, then lists the collections and drops every one carrying the
    # run's suffix, including one no answer named before the timeout.
    setup = _setup(tmp_path, "research-sandbox", "embeddings", expected=["7"])
    _put(setup, "backup/drgen_20260101_000000/meta/backup_meta.json", b"{}")
    suffix: list[str] = []

    def restore(request: Request) -> Response:
        suffix.append(json.loads(request.data)["collection_suffix"])
        return Response(json.dumps({"code": 0, "data": {"id": "restore_7", "state_code": 0}}))

    polls = iter([1] * 300)  # 3 s of polls at the tests' 0.01 s: past --timeout 1

    def status(request: Request) -> Response:
        return Response(
            json.dumps({"code": 0, "data": {"id": "restore_7", "state_code": next(polls, 2)}})
        )

    def listed(request: Request) -> Response:
        names = ["embeddings", "items" + suffix[0], "embeddings" + suffix[0], "items_other_run"]
        return Response(json.dumps({"code": 0, "data": names}))

    httpserver.expect_request("/api/v1/restore", method="POST").respond_with_handler(restore)
    httpserver.expect_request("/api/v1/get_restore").respond_with_handler(status)
    httpserver.expect_request("/milvus/v2/vectordb/collections/list").respond_with_handler(listed)
    httpserver.expect_request("/milvus/v2/vectordb/collections/drop").respond_with_json(
        {"code": 0, "data": {}}
    )
    _, vectors = _drill(
        run_cli, setup, httpserver.url_for("/"), tmp_path, "--scratch-search-url",
        httpserver.url_for("/milvus"), "--timeout", "1",
    )  # fmt: skip
    assert vectors["outcome"] == "error", vectors["failures"]
    assert "--timeout" in vectors["failures"][0] or "timed out" in vectors["failures"][0]
    drops = [
        json.loads(r.data)["collectionName"] for r, _ in httpserver.log if r.path.endswith("/drop")
    ]
    assert drops == ["embeddings" + suffix[0], "items" + suffix[0]]
    assert vectors["cleanup"][0] == "milvus-backup restore task restore_7 ended"


def _opensearch_until_restore(httpserver: HTTPServer, accepted: bool) -> None:
    repo = re.compile(r"^/_snapshot/drgen-drill-repository-[a-z0-9]+$")
    httpserver.expect_request(repo, method="PUT").respond_with_json({"acknowledged": True})
    httpserver.expect_request(repo, method="DELETE").respond_with_json({"acknowledged": True})
    snapshot = {"snapshot": "drgen-20260101-000000", "state": "SUCCESS",
                "indices": ["violations"], "start_time_in_millis": 1}  # fmt: skip
    httpserver.expect_request(
        re.compile(r"^/_snapshot/drgen-drill-repository-[a-z0-9]+/_all$"), method="GET"
    ).respond_with_json({"snapshots": [snapshot]})
    httpserver.expect_request(
        re.compile(r"^/_snapshot/drgen-drill-repository-[a-z0-9]+/drgen-20260101-000000/_restore$"),
        method="POST",
    ).respond_with_json({"accepted": accepted})
    index = r"drgen-drill-vectors-[a-z0-9]+-violations"
    httpserver.expect_request(re.compile(f"^/{index}$"), method="DELETE").respond_with_json(
        {"acknowledged": True}
    )
    # An index that does not exist: 404 index_not_found_exception.
    httpserver.expect_request(re.compile(f"^/{index}/_recovery$")).respond_with_json(
        {"error": {"type": "index_not_found_exception"}, "status": 404}, status=404
    )


def test_an_opensearch_restore_not_accepted_is_a_failure(
    aws: str, httpserver: HTTPServer, tmp_path: Path, run_cli: Any
) -> None:
    setup = _setup(tmp_path, "content-moderation", "violations", expected=["v1"])
    _put(setup, "index-3", b"{}")
    _opensearch_until_restore(httpserver, accepted=False)
    _, vectors = _drill(
        run_cli,
        setup,
        httpserver.url_for("/"),
        tmp_path,
        "--scratch-role-arn",
        "arn:aws:iam::1:role/r",
    )
    assert vectors["outcome"] == "fail"
    assert "did not accept the restore" in vectors["failures"][0]
    assert not any(r.path.endswith("/_recovery") for r, _ in httpserver.log)


def test_restored_indices_that_never_appear_fail_after_a_bound(
    aws: str, httpserver: HTTPServer, tmp_path: Path, run_cli: Any, monkeypatch: Any
) -> None:
    monkeypatch.setattr("drgen.drill.engines.opensearch.MISSING_SECONDS", 0.2)
    setup = _setup(tmp_path, "content-moderation", "violations", expected=["v1"])
    _put(setup, "index-3", b"{}")
    _opensearch_until_restore(httpserver, accepted=True)
    _, vectors = _drill(
        run_cli,
        setup,
        httpserver.url_for("/"),
        tmp_path,
        "--scratch-role-arn",
        "arn:aws:iam::1:role/r",
    )
    assert vectors["outcome"] == "fail"  # not the --timeout of 30 s
    assert "did not appear within 0 s" in vectors["failures"][0]


def test_a_partial_milvus_restore_fails_against_the_backups_own_row_count(
    aws: str, httpserver: HTTPServer, tmp_path: Path, run_cli: Any
) -> None:
    setup = _setup(tmp_path, "research-sandbox", "embeddings", expected=["7"])
    folder = "backup/drgen_20260101_000000"
    _put(setup, f"{folder}/meta/backup_meta.json", b"{}")
    _put(setup, f"{folder}/meta/collection_meta.json", json.dumps(
        {"infos": [{"collection_id": 11, "collection_name": "embeddings"}]}).encode())  # fmt: skip
    _put(setup, f"{folder}/meta/segment_meta.json", json.dumps(
        {"infos": [{"collection_id": 11, "num_of_rows": 5000}]}).encode())  # fmt: skip

    def restore(request: Request) -> Response:
        target = "embeddings" + json.loads(request.data)["collection_suffix"]
        task = {"id": "r1", "state_code": 2,
                "collection_restore_tasks": [{"target_collection_name": target}]}  # fmt: skip
        return Response(json.dumps({"code": 0, "data": task}))

    httpserver.expect_request("/api/v1/restore", method="POST").respond_with_handler(restore)
    httpserver.expect_request("/api/v1/get_restore").respond_with_json(
        {"code": 0, "data": {"id": "r1", "state_code": 2}}
    )
    answers = {
        "load": {}, "get_load_state": {"loadState": "LoadStateLoaded"},
        "get_stats": {"rowCount": 3100}, "list": [], "drop": {},
    }  # fmt: skip
    for path, data in answers.items():
        httpserver.expect_request(f"/milvus/v2/vectordb/collections/{path}").respond_with_json(
            {"code": 0, "data": data}
        )
    httpserver.expect_request("/milvus/v2/vectordb/entities/search").respond_with_json(
        {"code": 0, "data": [{"id": 7, "distance": 0.0}]}
    )
    _, vectors = _drill(
        run_cli, setup, httpserver.url_for("/"), tmp_path, "--scratch-search-url",
        httpserver.url_for("/milvus"),
    )  # fmt: skip
    assert vectors["outcome"] == "fail"
    assert "differ from the snapshot's own: embeddings 3100 of 5000" in vectors["failures"][0]
