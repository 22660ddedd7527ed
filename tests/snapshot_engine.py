"""A stand-in for the snapshot engines' HTTP APIs, and a runner for the generated triggers.

The generated snapshot_trigger.py of a project runs for real (its handler on AWS, its main() on
GCP) against a local HTTP server that answers as Qdrant, Weaviate, milvus-backup or OpenSearch
would, from a script, and records every request the trigger made.
"""

from __future__ import annotations

import json
import re
import runpy
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from drgen.plan import DrPlan
from tests.stacks import plan_of


def engine_of(plan: DrPlan) -> str | None:
    vectors = plan.component("vector_store")
    return vectors.engine if vectors is not None else None


Script = dict[tuple[str, str], list[tuple[int, object]]]
"""(method, path as a regular expression) -> answers, given in turn; the last one repeats."""
NAME = r"drgen-\d{8}-\d{6}"


class Engine(BaseHTTPRequestHandler):
    """A stand-in for a snapshot engine's HTTP API: scripted answers, recorded requests."""

    script: ClassVar[Script] = {}
    seen: ClassVar[list[tuple[str, str, object]]] = []

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        self.seen.append((self.command, self.path, body))
        answers = next(
            (
                answers
                for (method, pattern), answers in self.script.items()
                if method == self.command and re.fullmatch(pattern, self.path)
            ),
            [(404, {"error": "not found"})],
        )
        status, payload = answers.pop(0) if len(answers) > 1 else answers[0]
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = _answer  # noqa: N815 - http.server's names

    def log_message(self, format: str, *args: object) -> None:
        pass


def engine_script(engine: str, outcome: str) -> Script:
    """What the engine answers when the snapshot ends in `outcome` (SUCCESS or FAILED)."""
    if engine == "qdrant":
        collections = {"result": {"collections": [{"name": "items"}, {"name": "users"}]}}
        done = (200, {"result": {}}) if outcome == "SUCCESS" else (500, {"status": "error"})
        return {
            ("GET", "/collections"): [(200, collections)],
            ("POST", r"/collections/(items|users)/snapshots\?wait=true"): [done],
        }
    if engine == "weaviate":
        return {
            ("POST", "/v1/backups/(s3|gcs)"): [(200, {"status": "STARTED"})],
            ("GET", f"/v1/backups/(s3|gcs)/{NAME}"): [
                (200, {"status": "TRANSFERRING"}),
                (200, {"status": outcome}),
            ],
        }
    if engine == "milvus":
        state = 2 if outcome == "SUCCESS" else 3  # BACKUP_SUCCESS, BACKUP_FAIL
        return {
            ("POST", "/api/v1/create"): [(200, {"code": 0})],
            ("GET", r"/api/v1/get_backup\?backup_name=drgen_\d{8}_\d{6}"): [
                (200, {"code": 0, "data": {"state_code": 1}}),
                (200, {"code": 0, "data": {"state_code": state}}),
            ],
        }
    old = {"snapshot": "drgen-20250101-000000", "start_time_in_millis": 0}
    return {
        ("GET", "/_snapshot/drgen"): [(404, {}), (200, {"drgen": {}})],
        ("PUT", "/_snapshot/drgen"): [(200, {"acknowledged": True})],
        ("PUT", f"/_snapshot/drgen/{NAME}"): [(200, {"accepted": True})],
        ("GET", "/_snapshot/drgen/_all"): [(200, {"snapshots": [old]})],
        ("GET", f"/_snapshot/drgen/{NAME}"): [
            (200, {"snapshots": [{"state": "IN_PROGRESS"}]}),
            (200, {"snapshots": [{"state": outcome}]}),
        ],
        ("DELETE", "/_snapshot/drgen/drgen-20250101-000000"): [(200, {"acknowledged": True})],
    }


class LambdaContext:
    """The part of Lambda's context object the trigger reads."""

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 60_000


def take_snapshot(
    project: Path, monkeypatch: pytest.MonkeyPatch, outcome: str, **changes: Any
) -> list[tuple[str, str, object]]:
    """Run the generated trigger once against a scripted engine; the requests it made."""
    plan = plan_of(project)
    engine = engine_of(plan)
    assert engine is not None
    # Changed answers come first: the first pattern that matches a request answers it.
    changed: Script = changes.get("script", {})
    Engine.script = {
        **changed,
        **{k: v for k, v in engine_script(engine, outcome).items() if k not in changed},
    }
    Engine.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Engine)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {
        "VECTOR_STORE_URL": f"http://127.0.0.1:{server.server_address[1]}",
        "NO_PROXY": "127.0.0.1",
        "API_KEY": "test-key",
        "AWS_REGION": plan.primary.region,
        "AWS_LAMBDA_FUNCTION_NAME": "trigger",
        "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "example-secret",
        "SNAPSHOT_REPOSITORY": "drgen",
        "SNAPSHOT_BUCKET": "bucket",
        "SNAPSHOT_ROLE_ARN": "arn:aws:iam::123456789012:role/snapshots",
        "SNAPSHOT_PREFIX": "drgen-",
        "SUCCESS_EVENT": "drgen.snapshot.succeeded",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(time, "sleep", lambda seconds: None)
    module = runpy.run_path(str(project / "snapshot_trigger.py"), run_name="trigger")
    try:
        if plan.cloud == "aws":
            if "_api_key" in module:  # Secrets Manager is not reachable here
                monkeypatch.setitem(module["handler"].__globals__, "_api_key", lambda: "test-key")
            module["handler"]({"scheduled_time": "2026-01-01T00:00:00Z"}, LambdaContext())
        else:
            module["main"]()
    finally:
        server.shutdown()
        server.server_close()
    return Engine.seen
