"""The generated vendor watcher, run against recorded status pages and a real SSM parameter,
S3 object-lock bucket and SNS topic on a local moto server."""

from __future__ import annotations

import importlib.util
import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from werkzeug import Request, Response

from drgen.loader import load_workload
from drgen.plan import resolve
from drgen.render import render
from drgen.vendors.status import classify
from tests.vendor_pages import PAGES

pytest.importorskip("pytest_httpserver")
moto_server = pytest.importorskip("moto.server")
boto3 = pytest.importorskip("boto3")

REGION = "us-east-1"


def _workload(tmp_path: Path, page: str) -> Path:
    path = tmp_path / "workload.yaml"
    path.write_text(
        "name: chat-desk\ntier: 2\ncloud: aws\n"
        "regions: {primary: us-east-1, secondary: us-west-2}\n"
        "objectives: {rto: 1h}\n"
        "vendors:\n"
        f"  - {{name: openai, model: gpt-4o, role: primary, status_page: '{page}',"
        " status_components: [API]}\n"
        f"  - {{name: anthropic, model: claude-sonnet, role: alternate, status_page: '{page}'}}\n"
        "degraded_mode: human\n",
        encoding="utf-8",
    )
    return path


def _load(source: str, tmp_path: Path) -> ModuleType:
    path = tmp_path / "vendor_watcher_function.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("vendor_watcher_function", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A moto server on loopback; every boto3 client of the process talks to it."""
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    # moto keeps its state per process, across servers: each test starts from none.
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"))
    for key, value in {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    yield endpoint
    server.stop()


def test_watcher_and_drgen_read_status_pages_alike(tmp_path: Path) -> None:
    source = render(resolve(load_workload(_workload(tmp_path, "https://status.example.com"))))
    watcher = _load(source["vendor_watcher_function.py"], tmp_path)
    for body, _, _ in PAGES.values():
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        for components in (["API"], []):
            assert watcher.classify(raw, components)[0] == classify(raw, components).state


def test_the_switch_flips_after_n_outages_and_back_after_m_good_polls(
    httpserver: Any, aws: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
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
    watcher = _load(files["vendor_watcher_function.py"], tmp_path)
    watcher.TIMEOUT_SECONDS = 0.5
    assert (watcher.BAD_POLLS, watcher.GOOD_POLLS) == (2, 4)  # from the 1h RTO

    # What the stack creates (vendor_watcher.py, audit_vault.py), on the moto server.
    parameter = "/drgen/chat-desk/vendor-route"
    assert f'SWITCH_PARAMETER = "{parameter}"' in files["vendor_watcher.py"]
    ssm, s3, sns, sqs = (boto3.client(s) for s in ("ssm", "s3", "sns", "sqs"))
    initial = {"route": "primary", "bad": 0, "good": 0, "hold": False}
    ssm.put_parameter(Name=parameter, Value=json.dumps(initial, sort_keys=True), Type="String")
    bucket = plan.component("audit_log").names[REGION]  # type: ignore[union-attr]
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    s3.put_object_lock_configuration(
        Bucket=bucket,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 1}},
        },
    )
    topic = sns.create_topic(Name="chat-desk-dr-alerts")["TopicArn"]
    queue = sqs.create_queue(QueueName="switches")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    monkeypatch.setenv("SWITCH_PARAMETER", parameter)
    monkeypatch.setenv("TOPIC_ARN", topic)
    monkeypatch.setenv("AUDIT_BUCKET", bucket)

    def stored() -> dict[str, Any]:
        return dict(json.loads(ssm.get_parameter(Name=parameter)["Parameter"]["Value"]))

    def poll(page: str) -> str:
        current["page"] = page
        result = watcher.handler({}, None)
        assert stored()["route"] == result["route"]
        return str(stored()["route"])

    def fails(page: str) -> dict[str, Any]:
        current["page"] = page
        with pytest.raises(watcher.PageUnreadable, match="unreadable for 2 polls in a row"):
            watcher.handler({}, None)
        return stored()

    def records() -> list[dict[str, Any]]:
        listed = s3.list_objects_v2(Bucket=bucket, Prefix="vendor-switch/").get("Contents", [])
        return [
            json.loads(s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()) for o in listed
        ]

    # Bad responses between outage polls change nothing: neither count nor route.
    assert poll("operational") == "primary"
    assert poll("major-outage") == "primary"
    assert poll("malformed") == "primary"
    # From the second unreadable poll in a row the function fails (its Errors alarm): the page
    # is not being read. Route and outage count stay as they were.
    expected = {"route": "primary", "bad": 1, "good": 0, "hold": False, "unknown": 2}
    assert fails("timeout") == expected
    assert fails("unknown-indicator") == expected
    assert records() == []
    assert poll("major-outage") == "alternate"
    assert stored() == {"route": "alternate", "bad": 2, "good": 0, "hold": False, "unknown": 0}
    (record,) = records()
    assert (record["from"], record["to"], record["region"]) == ("primary", "alternate", REGION)
    assert record["primary"]["detail"] == "API: major_outage"
    message = json.loads(sqs.receive_message(QueueUrl=queue)["Messages"][0]["Body"])
    assert message["Subject"] == "openai/gpt-4o: vendor route primary -> alternate"

    # During the incident the page may list no components: still an outage, no new record.
    assert poll("empty-components") == "alternate"
    # Back only after four operational polls in a row; a degraded one starts the count again.
    for page in ("operational", "operational", "degraded", "operational", "operational"):
        assert poll(page) == "alternate"
    assert poll("operational") == "alternate"
    assert poll("operational") == "primary"
    assert [r["to"] for r in sorted(records(), key=lambda r: r["at"] + r["to"])] in (
        ["alternate", "primary"],
        ["primary", "alternate"],  # both within one second: "at" ties, sorted by "to"
    )

    # A person holds the switch (RUNBOOK.md): the watcher leaves it alone.
    held = {"route": "alternate", "bad": 0, "good": 0, "hold": True}
    ssm.put_parameter(
        Name=parameter, Value=json.dumps(held, sort_keys=True), Type="String", Overwrite=True
    )
    assert poll("operational") == "alternate"
    assert len(records()) == 2


def test_a_switch_whose_record_fails_stays_pending_until_a_later_poll_records_it(
    httpserver: Any, aws: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The move is saved with its record as `pending`; the record cannot be written (no audit
    bucket yet), so the invocation fails; the next poll records and announces it, then clears
    it."""
    page = json.dumps(PAGES["major-outage"][0]).encode()
    httpserver.expect_request("/api/v2/summary.json").respond_with_data(
        page, content_type="application/json"
    )
    files = render(resolve(load_workload(_workload(tmp_path, httpserver.url_for("").rstrip("/")))))
    watcher = _load(files["vendor_watcher_function.py"], tmp_path)
    ssm, s3, sns, sqs = (boto3.client(s) for s in ("ssm", "s3", "sns", "sqs"))
    parameter, bucket = "/drgen/chat-desk/vendor-route", "chat-desk-audit-pending"
    initial = {"route": "primary", "bad": 0, "good": 0, "hold": False}
    ssm.put_parameter(Name=parameter, Value=json.dumps(initial), Type="String")
    topic = sns.create_topic(Name="chat-desk-dr-alerts")["TopicArn"]
    queue = sqs.create_queue(QueueName="switches")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    monkeypatch.setenv("SWITCH_PARAMETER", parameter)
    monkeypatch.setenv("TOPIC_ARN", topic)
    monkeypatch.setenv("AUDIT_BUCKET", bucket)

    def stored() -> dict[str, Any]:
        return dict(json.loads(ssm.get_parameter(Name=parameter)["Parameter"]["Value"]))

    assert watcher.handler({}, None)["route"] == "primary"
    with pytest.raises(s3.exceptions.NoSuchBucket):
        watcher.handler({}, None)

    # Readers already follow the alternate; the move waits in the switch to be recorded.
    switch = stored()
    assert switch["route"] == "alternate"
    pending = switch["pending"]
    assert (pending["from"], pending["to"], pending["state"]) == ("primary", "alternate", "outage")
    assert "Messages" not in sqs.receive_message(QueueUrl=queue)

    s3.create_bucket(Bucket=bucket)
    assert watcher.handler({}, None)["route"] == "alternate"

    assert "pending" not in stored()
    (listed,) = s3.list_objects_v2(Bucket=bucket, Prefix="vendor-switch/")["Contents"]
    record = json.loads(s3.get_object(Bucket=bucket, Key=listed["Key"])["Body"].read())
    assert (record["from"], record["to"], record["at"]) == ("primary", "alternate", pending["at"])
    message = json.loads(sqs.receive_message(QueueUrl=queue)["Messages"][0]["Body"])
    assert message["Subject"] == "openai/gpt-4o: vendor route primary -> alternate"
