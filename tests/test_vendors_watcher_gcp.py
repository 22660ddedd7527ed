"""The generated GCP vendor watcher (a Cloud Run job's code), run against recorded status pages,
a real Cloud Storage JSON API on loopback (gcp-storage-emulator) holding the switch and the
audit records, and a stand-in for the metadata server and Pub/Sub's REST publish call.

The emulator does not enforce generation preconditions; the one test that needs a 412 serves
the documented answer from a stand-in instead
(https://cloud.google.com/storage/docs/request-preconditions: "If the precondition fails, the
request fails with a 412 Precondition Failed").
"""

from __future__ import annotations

import base64
import importlib.util
import inspect
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from werkzeug import Request, Response

from drgen.limits import derived_names, plan_name_problems
from drgen.loader import load_workload
from drgen.plan import resolve
from drgen.render import render
from drgen.vendors.watch import watch
from tests.drill_servers import gcs_endpoint_fixture  # noqa: F401 (fixture)
from tests.vendor_pages import PAGES

httpserver_module = pytest.importorskip("pytest_httpserver")

REGION = "europe-west1"
TOPIC = "projects/drgen-test/topics/chat-desk-vendor-switch-europe-west1"


def _workload(tmp_path: Path, page: str) -> Path:
    path = tmp_path / "workload.yaml"
    path.write_text(
        "name: chat-desk\ntier: 2\ncloud: gcp\n"
        "regions: {primary: europe-west1, secondary: europe-west4}\n"
        "objectives: {rto: 1h}\n"
        "vendors:\n"
        f"  - {{name: openai, model: gpt-4o, role: primary, status_page: '{page}',"
        " status_components: [API]}\n"
        f"  - {{name: anthropic, model: claude-sonnet, role: alternate, status_page: '{page}'}}\n"
        "degraded_mode: human\n",
        encoding="utf-8",
    )
    return path


def _load(source: str, tmp_path: Path, name: str) -> ModuleType:
    path = tmp_path / f"{name}.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def google() -> Iterator[Any]:
    """The metadata server's token and Pub/Sub's publish call, on their own loopback server
    (a slow status page on the other one must not delay them)."""
    server = httpserver_module.HTTPServer(host="127.0.0.1", port=0)
    server.expect_request("/token").respond_with_json(
        {"access_token": "t0k3n", "expires_in": 3599, "token_type": "Bearer"}
    )
    server.expect_request(f"/v1/{TOPIC}:publish", method="POST").respond_with_json(
        {"messageIds": ["1"]}
    )
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


def _published(google: Any) -> list[dict[str, Any]]:
    """The records published on the topic, decoded from each message's base64 `data`."""
    found = []
    for request, _ in google.log:
        if request.path.endswith(":publish"):
            assert request.headers["Authorization"] == "Bearer t0k3n"
            (message,) = request.get_json()["messages"]
            found.append(
                {"record": json.loads(base64.b64decode(message["data"])), **message["attributes"]}
            )
    return found


def _gcs(
    endpoint: str,
    method: str,
    path: str,
    body: bytes | None = None,
    content_type: str = "application/json",
) -> bytes:
    request = urllib.request.Request(
        endpoint + path, method=method, data=body, headers={"Content-Type": content_type}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        answer: bytes = response.read()
        return answer


def test_both_clouds_share_one_poll_and_decide_logic(tmp_path: Path) -> None:
    gcp = render(resolve(load_workload(_workload(tmp_path, "https://status.example.com"))))
    aws_workload = tmp_path / "aws"
    aws_workload.mkdir()
    aws_source = (
        _workload(aws_workload, "https://status.example.com")
        .read_text()
        .replace("cloud: gcp", "cloud: aws")
        .replace("europe-west1", "eu-west-1")
        .replace("europe-west4", "eu-central-1")
    )
    (aws_workload / "workload.yaml").write_text(aws_source)
    aws = render(resolve(load_workload(aws_workload / "workload.yaml")))
    on_gcp = _load(gcp["vendor_watcher_function.py"], tmp_path, "gcp_watcher")
    on_aws = _load(aws["vendor_watcher_function.py"], tmp_path, "aws_watcher")

    for name in ("classify", "read", "next_switch", "recorded", "switch_record", "poll"):
        assert inspect.getsource(getattr(on_gcp, name)) == inspect.getsource(getattr(on_aws, name))
    for name in (
        "PRIMARY",
        "OTHERS",
        "BAD_POLLS",
        "GOOD_POLLS",
        "UNKNOWN_POLLS",
        "COMPONENT_STATES",
    ):
        assert getattr(on_gcp, name) == getattr(on_aws, name)


def test_the_switch_flips_after_n_outages_and_back_after_m_good_polls(
    httpserver: Any,
    google: Any,
    gcs_endpoint: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    current: dict[str, Any] = {"page": "operational"}

    def serve(_: Request) -> Response:
        name = current["page"]
        if name == "timeout":
            time.sleep(1.0)
            name = "operational"
        body = PAGES[name][0]
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        return Response(data, content_type="application/json")

    httpserver.expect_request("/api/v2/summary.json").respond_with_handler(serve)
    plan = resolve(load_workload(_workload(tmp_path, httpserver.url_for("").rstrip("/"))))
    files = render(plan)
    _gcs(gcs_endpoint, "GET", "/wipe")

    # What the stack creates (vendor_watcher.py, audit_vault.py), on the emulator.
    switch_bucket = "chat-desk-route-europe-west1"
    audit_bucket = plan.component("audit_log").names[REGION]  # type: ignore[union-attr]
    assert f'"{REGION}": "{switch_bucket}"' in files["vendor_watcher.py"]
    for bucket in (switch_bucket, audit_bucket):
        body = json.dumps({"name": bucket}).encode()
        _gcs(gcs_endpoint, "POST", "/storage/v1/b?project=drgen-test", body)
    for key, value in {
        "STORAGE_API_URL": gcs_endpoint,
        "PUBSUB_API_URL": google.url_for("").rstrip("/"),
        "METADATA_TOKEN_URL": google.url_for("/token"),
        "SWITCH_BUCKET": switch_bucket,
        "SWITCH_OBJECT": "vendor-route.json",
        "AUDIT_BUCKET": audit_bucket,
        "TOPIC": TOPIC,
        "REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    watcher = _load(files["vendor_watcher_function.py"], tmp_path, "vendor_watcher_function")
    watcher.TIMEOUT_SECONDS = 0.5
    assert (watcher.BAD_POLLS, watcher.GOOD_POLLS) == (2, 4)  # from the 1h RTO

    def stored() -> dict[str, Any]:
        path = f"/storage/v1/b/{switch_bucket}/o/vendor-route.json?alt=media"
        return dict(json.loads(_gcs(gcs_endpoint, "GET", path)))

    def poll(page: str) -> str:
        current["page"] = page
        result = watcher.main()
        assert stored()["route"] == result["route"]
        return str(result["route"])

    def fails(page: str) -> dict[str, Any]:
        current["page"] = page
        with pytest.raises(watcher.PageUnreadable, match="unreadable for 2 polls in a row"):
            watcher.main()
        return stored()

    def records() -> list[dict[str, Any]]:
        query = urllib.parse.urlencode({"prefix": "vendor-switch/"})
        listed = json.loads(_gcs(gcs_endpoint, "GET", f"/storage/v1/b/{audit_bucket}/o?{query}"))
        return [
            json.loads(
                _gcs(
                    gcs_endpoint,
                    "GET",
                    f"/storage/v1/b/{audit_bucket}/o/{urllib.parse.quote(o['name'], safe='')}"
                    "?alt=media",
                )
            )
            for o in listed.get("items", [])
        ]

    # The first poll creates the switch; bad responses between outage polls change nothing.
    assert poll("operational") == "primary"
    assert stored() == {"route": "primary", "bad": 0, "good": 1, "hold": False, "unknown": 0}
    assert poll("major-outage") == "primary"
    assert poll("malformed") == "primary"
    # From the second unreadable poll in a row the job fails (its failed-poll alert): the page
    # is not being read. Route and outage count stay as they were.
    expected = {"route": "primary", "bad": 1, "good": 0, "hold": False, "unknown": 2}
    assert fails("timeout") == expected
    assert fails("unknown-indicator") == expected
    assert records() == [] and _published(google) == []
    assert poll("major-outage") == "alternate"
    assert stored() == {"route": "alternate", "bad": 2, "good": 0, "hold": False, "unknown": 0}
    (record,) = records()
    assert (record["from"], record["to"], record["region"]) == ("primary", "alternate", REGION)
    assert record["switch"] == f"gs://{switch_bucket}/vendor-route.json"
    assert record["primary"]["detail"] == "API: major_outage"
    (message,) = _published(google)
    assert (message["vendor"], message["from"], message["to"]) == (
        "openai/gpt-4o",
        "primary",
        "alternate",
    )
    assert message["record"] == record

    # During the incident the page may list no components: still an outage, no new record.
    assert poll("empty-components") == "alternate"
    # Back only after four operational polls in a row; a degraded one starts the count again.
    for page in ("operational", "operational", "degraded", "operational", "operational"):
        assert poll(page) == "alternate"
    assert poll("operational") == "alternate"
    assert poll("operational") == "primary"
    assert sorted(r["to"] for r in records()) == ["alternate", "primary"]
    assert len(_published(google)) == 2

    # A person holds the switch (RUNBOOK.md's `gcloud storage cp`): the watcher leaves it alone.
    held = json.dumps({"route": "alternate", "bad": 0, "good": 0, "hold": True}).encode()
    upload = f"/upload/storage/v1/b/{switch_bucket}/o?uploadType=media&name=vendor-route.json"
    # (A media upload typed text/plain: the emulator parses an application/json body as JSON.)
    _gcs(gcs_endpoint, "POST", upload, held, "text/plain")
    assert poll("operational") == "alternate"
    assert stored()["hold"] is True
    assert len(records()) == 2


def test_a_switch_whose_record_fails_stays_pending_until_a_later_poll_records_it(
    httpserver: Any,
    google: Any,
    gcs_endpoint: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The move is saved with its record as `pending`; the record cannot be written (no audit
    bucket), so the job fails; the next poll records and announces it, then clears it."""
    page = json.dumps(PAGES["major-outage"][0]).encode()
    httpserver.expect_request("/api/v2/summary.json").respond_with_data(
        page, content_type="application/json"
    )
    files = render(resolve(load_workload(_workload(tmp_path, httpserver.url_for("").rstrip("/")))))
    _gcs(gcs_endpoint, "GET", "/wipe")
    switch_bucket, audit_bucket = "chat-desk-route-europe-west1", "chat-desk-audit-pending"
    _gcs(
        gcs_endpoint,
        "POST",
        "/storage/v1/b?project=drgen-test",
        b'{"name": "%s"}' % switch_bucket.encode(),
    )
    for key, value in {
        "STORAGE_API_URL": gcs_endpoint,
        "PUBSUB_API_URL": google.url_for("").rstrip("/"),
        "METADATA_TOKEN_URL": google.url_for("/token"),
        "SWITCH_BUCKET": switch_bucket,
        "SWITCH_OBJECT": "vendor-route.json",
        "AUDIT_BUCKET": audit_bucket,
        "TOPIC": TOPIC,
        "REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    watcher = _load(files["vendor_watcher_function.py"], tmp_path, "vendor_watcher_function")

    def stored() -> dict[str, Any]:
        path = f"/storage/v1/b/{switch_bucket}/o/vendor-route.json?alt=media"
        return dict(json.loads(_gcs(gcs_endpoint, "GET", path)))

    assert watcher.main()["route"] == "primary"
    with pytest.raises(urllib.error.HTTPError):
        watcher.main()

    # Readers already follow the alternate; the move waits in the switch to be recorded.
    switch = stored()
    assert switch["route"] == "alternate"
    pending = switch["pending"]
    assert (pending["from"], pending["to"], pending["state"]) == ("primary", "alternate", "outage")
    assert _published(google) == []

    _gcs(
        gcs_endpoint,
        "POST",
        "/storage/v1/b?project=drgen-test",
        b'{"name": "%s"}' % audit_bucket.encode(),
    )
    assert watcher.main()["route"] == "alternate"

    assert "pending" not in stored()
    listed = json.loads(_gcs(gcs_endpoint, "GET", f"/storage/v1/b/{audit_bucket}/o"))
    (item,) = listed["items"]
    assert item["name"].endswith(".json") and "-alternate-" in item["name"]
    path = f"/storage/v1/b/{audit_bucket}/o/{urllib.parse.quote(item['name'], safe='')}?alt=media"
    record = json.loads(_gcs(gcs_endpoint, "GET", path))
    assert (record["from"], record["to"], record["at"]) == ("primary", "alternate", pending["at"])
    (message,) = _published(google)
    assert message["record"] == record


def test_a_job_that_cannot_read_the_page_exits_non_zero(
    httpserver: Any, google: Any, gcs_endpoint: str, tmp_path: Path
) -> None:
    """Cloud Run counts an execution failed when its task exits non-zero, which is what the
    watcher's failed-poll alert counts (run.googleapis.com/job/completed_execution_count)."""
    httpserver.expect_request("/api/v2/summary.json").respond_with_data(b"<html>moved</html>")
    files = render(resolve(load_workload(_workload(tmp_path, httpserver.url_for("").rstrip("/")))))
    script = tmp_path / "vendor_watcher_function.py"
    script.write_text(files["vendor_watcher_function.py"], encoding="utf-8")
    _gcs(gcs_endpoint, "GET", "/wipe")
    bucket = "chat-desk-route-europe-west1"
    _gcs(
        gcs_endpoint,
        "POST",
        "/storage/v1/b?project=drgen-test",
        json.dumps({"name": bucket}).encode(),
    )
    env = {
        **os.environ,
        "STORAGE_API_URL": gcs_endpoint,
        "PUBSUB_API_URL": google.url_for("").rstrip("/"),
        "METADATA_TOKEN_URL": google.url_for("/token"),
        "SWITCH_BUCKET": bucket,
        "SWITCH_OBJECT": "vendor-route.json",
        "AUDIT_BUCKET": "chat-desk-audit-europe-west1",
        "TOPIC": TOPIC,
        "REGION": REGION,
    }

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=60
        )

    first, second = run(), run()

    assert first.returncode == 0, first.stderr
    assert second.returncode != 0
    assert "PageUnreadable" in second.stderr and "not a JSON summary" in second.stderr


def test_the_readme_asks_for_components_where_the_whole_page_moves_the_switch(
    tmp_path: Path,
) -> None:
    sentence = "name the API's components in `status_components`"
    with_components = _workload(tmp_path, "https://status.example.com")
    assert sentence not in render(resolve(load_workload(with_components)))["README.md"]
    with_components.write_text(
        with_components.read_text().replace(" status_components: [API]", ""), encoding="utf-8"
    )
    files = render(resolve(load_workload(with_components)))
    assert sentence in files["README.md"]
    assert "declare the API's components" in files["RUNBOOK.md"]


def test_a_switch_written_during_the_poll_wins(
    httpserver: Any, google: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The write carries ifGenerationMatch of the generation read; on 412 the job keeps the
    other writer's value and records nothing."""
    page = json.dumps(PAGES["major-outage"][0]).encode()
    httpserver.expect_request("/api/v2/summary.json").respond_with_data(
        page, content_type="application/json"
    )
    files = render(resolve(load_workload(_workload(tmp_path, httpserver.url_for("").rstrip("/")))))
    switch = {"route": "primary", "bad": 1, "good": 0, "hold": False}
    storage = "/storage/v1/b/chat-desk-route-europe-west1/o/vendor-route.json"
    httpserver.expect_request(storage, query_string="").respond_with_json(
        {"name": "vendor-route.json", "generation": "1700000000000042"}
    )
    httpserver.expect_request(
        storage, query_string={"alt": "media", "generation": "1700000000000042"}
    ).respond_with_json(switch)
    httpserver.expect_request(
        "/upload/storage/v1/b/chat-desk-route-europe-west1/o", method="POST"
    ).respond_with_json({"error": {"code": 412, "message": "Precondition Failed"}}, status=412)
    for key, value in {
        "STORAGE_API_URL": httpserver.url_for("").rstrip("/"),
        "PUBSUB_API_URL": google.url_for("").rstrip("/"),
        "METADATA_TOKEN_URL": google.url_for("/token"),
        "SWITCH_BUCKET": "chat-desk-route-europe-west1",
        "SWITCH_OBJECT": "vendor-route.json",
        "AUDIT_BUCKET": "chat-desk-audit-europe-west1",
        "TOPIC": TOPIC,
        "REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    watcher = _load(files["vendor_watcher_function.py"], tmp_path, "vendor_watcher_function")

    result = watcher.main()

    assert (result["route"], result["written"]) == ("primary", False)
    (upload,) = [r for r, _ in httpserver.log if r.path.startswith("/upload/")]
    assert upload.args["ifGenerationMatch"] == "1700000000000042"
    assert upload.args["uploadType"] == "multipart"
    boundary = upload.headers["Content-Type"].split("boundary=")[1]
    metadata, media = (
        part.split(b"\r\n\r\n", 1)[1].rstrip(b"\r\n")
        for part in upload.get_data().split(f"--{boundary}".encode())[1:3]
    )
    assert json.loads(metadata) == {"name": "vendor-route.json", "contentType": "application/json"}
    written = json.loads(media)
    pending = written.pop("pending")
    assert written == {**switch, "bad": 2, "route": "alternate", "unknown": 0}
    assert (pending["from"], pending["to"]) == ("primary", "alternate")
    assert [r for r, _ in httpserver.log if "vendor-switch" in r.full_path] == []
    assert _published(google) == []


def test_switch_buckets_carry_the_naming_suffix_and_fit_the_bucket_limit(tmp_path: Path) -> None:
    path = _workload(tmp_path, "https://status.example.com")
    path.write_text(path.read_text() + "naming: {suffix: x7k2}\n", encoding="utf-8")
    plan = resolve(load_workload(path))
    vendor_watch = watch(plan)
    assert vendor_watch is not None

    assert vendor_watch.switch_buckets == {
        "europe-west1": "chat-desk-route-europe-west1-x7k2",
        "europe-west4": "chat-desk-route-europe-west4-x7k2",
    }
    derived = {(d.limit, d.name) for d in derived_names(plan)}
    for bucket in vendor_watch.switch_buckets.values():
        assert ("gcp.gcs_bucket", bucket) in derived
    assert plan_name_problems(plan) == []
    # The poll ends before the next one starts, whatever the interval.
    assert 0 < vendor_watch.task_timeout < vendor_watch.interval
