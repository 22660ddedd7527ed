"""The GCP audit-log probe against Cloud Storage's documented refusal, not an emulator.

gcp-storage-emulator keeps a bucket's retention policy but never enforces it, so the refusal
that is the audit log's evidence on GCP cannot run against it. Here pytest-httpserver answers
the JSON API requests the drill makes with the shapes Cloud Storage documents: the bucket
resource's locked `retentionPolicy`, the object's `retentionExpirationTime`
(https://cloud.google.com/storage/docs/json_api/v1/buckets, .../objects), and a delete of an
object under retention refused with 403, reason `retentionPolicyNotMet` ("Any attempt to
overwrite or delete objects younger than the retention period will result in a
PERMISSION_DENIED error": Bucket.retentionPolicy; status codes:
https://cloud.google.com/storage/docs/json_api/v1/status-codes).
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from drgen.drill import audit_log
from drgen.drill.base import Context, new_result
from drgen.loader import load_workload
from drgen.plan import resolve

WORKLOAD = """\
name: triage-gcp
tier: 1
cloud: gcp
regions:
  primary: us-central1
  secondary: us-east1
components:
  models: {size_gb: 1}
endpoint:
  domain: triage.example.org
  zone: example.org
  targets: {us-central1: 203.0.113.1, us-east1: 203.0.113.2}
"""

RECORD = {
    "kind": "storage#object",
    "name": "decisions/0001.json",
    "bucket": "triage-gcp-audit",
    "generation": "1764410400000001",
    "metageneration": "1",
    "size": "19",
    "timeCreated": "2026-11-29T10:00:00.000Z",
    "updated": "2026-11-29T10:00:00.000Z",
    "retentionExpirationTime": "2026-11-30T10:00:00.000Z",
}


def _gcs(httpserver: HTTPServer, delete_status: int, delete_error: dict[str, Any]) -> None:
    base = "/storage/v1/b/triage-gcp-audit"
    httpserver.expect_request(f"{base}/o", method="GET").respond_with_json(
        {"kind": "storage#objects", "items": [RECORD]}
    )
    record = re.compile(rf"^{base}/o/decisions(/|%2F)0001\.json$")
    httpserver.expect_request(record, method="GET").respond_with_json(RECORD)
    policy = {"retentionPeriod": "86400", "effectiveTime": "2026-01-01T00:00:00Z", "isLocked": True}
    httpserver.expect_request(base, method="GET").respond_with_json(
        {"kind": "storage#bucket", "name": "triage-gcp-audit", "retentionPolicy": policy}
    )
    httpserver.expect_request(record, method="DELETE").respond_with_json(
        {"error": delete_error}, status=delete_status
    )


def _run(tmp_path: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", httpserver.url_for("").rstrip("/"))
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "drgen-test")
    path = tmp_path / "workload.yaml"
    path.write_text(WORKLOAD)
    sourced = load_workload(path)
    plan = resolve(sourced)
    component = plan.component("audit_log")
    assert component is not None
    ctx = Context(plan, sourced.workload, tmp_path, "us-east1", "r1", time.monotonic() + 60)
    result = new_result(ctx, component)
    audit_log.run(ctx, component, result)
    return result


def test_a_delete_refused_under_retention_is_the_evidence(
    tmp_path: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    message = (
        "Object 'triage-gcp-audit/decisions/0001.json' is subject to bucket's retention policy"
        " or object retention and cannot be deleted or overwritten until 2026-11-30T10:00:00Z"
    )
    error = {
        "code": 403,
        "message": message,
        "errors": [{"message": message, "domain": "global", "reason": "retentionPolicyNotMet"}],
    }
    _gcs(httpserver, 403, error)
    result = _run(tmp_path, httpserver, monkeypatch)
    assert result.outcome == "pass", result.failures
    assert result.integrity["lock"]["mode"] == "LOCKED"
    assert "retention policy" in result.integrity["delete_refused"]
    deletes = [r for r, _ in httpserver.log if r.method == "DELETE"]
    assert len(deletes) == 1 and deletes[0].args["generation"] == RECORD["generation"]


def test_a_403_for_a_missing_permission_is_not_taken_as_the_lock(
    tmp_path: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The IAM refusal's documented shape: 403, reason "forbidden".
    message = (
        "drill@proj.iam.gserviceaccount.com does not have storage.objects.delete access to the"
        " Google Cloud Storage object."
    )
    error = {
        "code": 403,
        "message": message,
        "errors": [{"message": message, "domain": "global", "reason": "forbidden"}],
    }
    _gcs(httpserver, 403, error)
    with pytest.raises(Exception, match=r"storage\.objects\.delete") as raised:
        _run(tmp_path, httpserver, monkeypatch)
    assert type(raised.value).__name__ == "Forbidden"  # the runner records it as an error
