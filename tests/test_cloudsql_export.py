"""The Cloud SQL export job (cloudsql_export.py) against a local stand-in of the Cloud SQL Admin
API v1 and the metadata server: it asks for one serverless SQL export of one database into a new
object of the secondary's bucket, waits on the operation, and exits non-zero on any failure
(Cloud Run counts an execution failed only then: https://cloud.google.com/run/docs/create-jobs).

The request and response shapes are the documented ones:
https://cloud.google.com/sql/docs/postgres/admin-api/rest/v1/instances/export (exportContext:
fileType SQL, uri, databases, offload; answers an Operation) and
https://cloud.google.com/sql/docs/postgres/admin-api/rest/v1/operations/get (status PENDING,
RUNNING or DONE; error.errors when it failed).
"""

from __future__ import annotations

import http.server
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from tests.conftest import ROOT

SCRIPT = ROOT / "stacks" / "lab-notebooks" / "cloudsql_export.py"
PROJECT = "p"
INSTANCE = "lab-notebooks-vectors-us-west1"
BUCKET = "lab-notebooks-vectors-us-east1"
OPERATION = "8a1b2c3d-0000-4e5f-9a8b-7c6d5e4f3a2b"


@dataclass
class StandIn:
    """What the stand-in answers, and every request it received."""

    export_status: int = 200
    objects: list[str] = field(default_factory=list)
    """The export bucket's live objects (the Cloud Storage JSON API lists them in name order)."""
    busy: int = 0
    """How many export requests are answered 409 before one is accepted."""
    token_lifetime: int = 3599
    """The metadata server's `expires_in`; a short one makes every token a new one."""
    tokens: int = 0
    operations: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[str, str, dict[str, Any] | None, str | None]] = field(default_factory=list)


def _handler(state: StandIn) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self, status: int, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            state.requests.append(("GET", self.path, None, self.headers.get("Authorization")))
            if self.path == "/token":
                assert self.headers.get("Metadata-Flavor") == "Google"
                state.tokens += 1
                token = "t0ken" if state.token_lifetime == 3599 else f"token-{state.tokens}"
                self._answer(200, {"access_token": token, "expires_in": state.token_lifetime})
            elif self.path == f"/v1/projects/{PROJECT}/operations/{OPERATION}":
                operation = state.operations.pop(0)
                if operation.get("status") == "DONE" and not operation.get("error"):
                    (*_, (_, _, body, _)) = [r for r in state.requests if r[0] == "POST"]
                    assert body is not None
                    uri = str(body["exportContext"]["uri"])
                    state.objects.append(uri.removeprefix(f"gs://{BUCKET}/"))
                self._answer(200, operation)
            elif self.path.startswith(f"/storage/v1/b/{BUCKET}/o?"):
                query = parse_qs(urlsplit(self.path).query)
                (prefix,) = query["prefix"]
                # Two to a page, so the job must follow nextPageToken.
                start = int(query.get("pageToken", ["0"])[0])
                chosen = sorted(o for o in state.objects if o.startswith(prefix))
                page: dict[str, Any] = {"items": [{"name": n} for n in chosen[start : start + 2]]}
                if start + 2 < len(chosen):
                    page["nextPageToken"] = str(start + 2)
                self._answer(200, page)
            else:
                self._answer(404, {"error": {"code": 404, "status": "NOT_FOUND"}})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length))
            state.requests.append(("POST", self.path, body, self.headers.get("Authorization")))
            if self.path != f"/v1/projects/{PROJECT}/instances/{INSTANCE}/export":
                self._answer(404, {"error": {"code": 404}})
            elif state.busy:
                state.busy -= 1
                self._answer(409, {"error": {"code": 409, "status": "ABORTED"}})
            elif state.export_status != 200:
                self._answer(state.export_status, {"error": {"code": state.export_status}})
            else:
                self._answer(200, {"kind": "sql#operation", "name": OPERATION, "status": "PENDING"})

        def do_DELETE(self) -> None:
            state.requests.append(("DELETE", self.path, None, self.headers.get("Authorization")))
            name = unquote(self.path.removeprefix(f"/storage/v1/b/{BUCKET}/o/"))
            state.objects.remove(name)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def sql_admin() -> Iterator[tuple[StandIn, str]]:
    state = StandIn()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def export(url: str, budget_seconds: int = 60, kept: int = 3) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT)],
        env={
            **os.environ,
            "SQLADMIN_URL": url,
            "STORAGE_URL": url,
            "EXPORTS_KEPT": str(kept),
            "METADATA_TOKEN_URL": f"{url}/token",
            "POLL_SECONDS": "0",
            "PROJECT": PROJECT,
            "INSTANCE": INSTANCE,
            "DATABASE": "notebooks",
            "BUCKET": BUCKET,
            "EXPORT_BUDGET_SECONDS": str(budget_seconds),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )


def posts(state: StandIn) -> list[dict[str, Any] | None]:
    return [body for method, _, body, _ in state.requests if method == "POST"]


def test_one_serverless_export_of_one_database_into_a_new_object_is_awaited(
    sql_admin: tuple[StandIn, str],
) -> None:
    state, url = sql_admin
    state.operations = [{"name": OPERATION, "status": "RUNNING"}, {"status": "DONE"}]

    completed = export(url)

    assert completed.returncode == 0, completed.stderr
    (body,) = posts(state)
    assert body is not None
    context = body["exportContext"]
    # PostgreSQL exports name one database; a serverless export (offload) runs pg_dump on a
    # temporary instance, not the primary (https://cloud.google.com/sdk/gcloud/reference/sql/export/sql).
    assert context["fileType"] == "SQL" and context["databases"] == ["notebooks"]
    assert context["offload"] is True
    # The export fails onto an existing file (same page): every run names a new object.
    assert re.fullmatch(
        rf"gs://{BUCKET}/{INSTANCE}/notebooks-\d{{8}}T\d{{6}}Z\.sql\.gz", context["uri"]
    )
    assert all(auth == "Bearer t0ken" for _, path, _, auth in state.requests if path != "/token")
    assert state.operations == []
    assert f"to {context['uri']}" in completed.stdout


@pytest.mark.parametrize("refusal", [403, 409])
def test_a_refused_export_fails_the_job(sql_admin: tuple[StandIn, str], refusal: int) -> None:
    state, url = sql_admin
    state.export_status = refusal  # 409: the daily backup holds the instance past the budget

    completed = export(url, budget_seconds=0 if refusal == 409 else 60)

    assert completed.returncode != 0
    assert f"refused: {refusal}" in completed.stderr


def test_an_export_that_ends_in_error_fails_the_job(sql_admin: tuple[StandIn, str]) -> None:
    state, url = sql_admin
    error = {"kind": "sql#operationErrors", "errors": [{"code": "ERROR_RDBMS", "message": "x"}]}
    state.operations = [{"name": OPERATION, "status": "DONE", "error": error}]

    completed = export(url)

    assert completed.returncode != 0
    assert "ERROR_RDBMS" in completed.stderr


def test_an_export_still_running_at_the_budgets_end_fails_the_job(
    sql_admin: tuple[StandIn, str],
) -> None:
    state, url = sql_admin
    state.operations = [{"name": OPERATION, "status": "RUNNING"}] * 5

    completed = export(url, budget_seconds=0)

    assert completed.returncode != 0
    assert "still running at the budget's end" in completed.stderr


def test_a_busy_instance_is_asked_again_within_the_run(sql_admin: tuple[StandIn, str]) -> None:
    # Cloud SQL runs one operation per instance; an export asked for during the daily backup
    # is refused with 409 and nothing starts, so the job asks again itself (Cloud Run never
    # retries it: tests/test_cloud_rules_gcp.py).
    state, url = sql_admin
    state.busy = 2
    state.operations = [{"name": OPERATION, "status": "DONE"}]

    completed = export(url)

    assert completed.returncode == 0, completed.stderr
    assert len(posts(state)) == 3
    assert "is busy (409" in completed.stdout + completed.stderr


def test_the_newest_exports_are_kept_and_older_ones_deleted(sql_admin: tuple[StandIn, str]) -> None:
    # An age rule would delete the newest export too once exports have failed for longer than
    # it; the job keeps the newest EXPORTS_KEPT after each success and deletes the rest
    # (objects.list with prefix and pageToken, objects.delete:
    # https://cloud.google.com/storage/docs/json_api/v1/objects/list). Another database's
    # exports under the same instance are not its to delete.
    state, url = sql_admin
    older = [f"{INSTANCE}/notebooks-2026010{d}T000000Z.sql.gz" for d in range(1, 6)]
    state.objects = [*older, f"{INSTANCE}/other-20260101T000000Z.sql.gz"]
    state.operations = [{"name": OPERATION, "status": "DONE"}]

    completed = export(url, kept=3)

    assert completed.returncode == 0, completed.stderr
    (new,) = [o for o in state.objects if o not in older and "/other-" not in o]
    assert sorted(state.objects) == sorted(
        [older[3], older[4], new, f"{INSTANCE}/other-20260101T000000Z.sql.gz"]
    )
    deleted = [path for method, path, _, _ in state.requests if method == "DELETE"]
    assert len(deleted) == 3 and all("%2F" in path for path in deleted)


def test_a_token_near_its_expiry_is_fetched_again(sql_admin: tuple[StandIn, str]) -> None:
    """A metadata-server token lives at most an hour (`expires_in`), and an export may run for
    hours: the job asks for a new token once the cached one is within five minutes of expiring,
    instead of keeping the first one for the whole run."""
    state, url = sql_admin
    state.token_lifetime = 300  # inside the margin: every request needs a fresh token
    state.operations = [{"name": OPERATION, "status": "RUNNING"}] * 2 + [
        {"name": OPERATION, "status": "DONE"}
    ]

    done = export(url)

    assert done.returncode == 0, done.stdout + done.stderr
    calls = [auth for _, path, _, auth in state.requests if path != "/token"]
    assert len(calls) >= 4 and len(set(calls)) == len(calls) == state.tokens
