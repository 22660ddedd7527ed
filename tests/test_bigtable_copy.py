"""The Bigtable backup copy job (bigtable_copy.py) against a local stand-in of the Bigtable Admin
API v2 and the metadata server: it lists backups over pages, copies the newest READY one, waits
on the long-running operation, and exits non-zero on any failure (Cloud Run counts an execution
failed only then: https://cloud.google.com/run/docs/create-jobs).

The request and response shapes are the documented ones:
https://cloud.google.com/bigtable/docs/reference/admin/rest/v2/projects.instances.clusters.backups/list
(backups, nextPageToken; `clusters/-` lists every cluster of the instance),
https://cloud.google.com/bigtable/docs/reference/admin/rest/v2/projects.instances.clusters.backups/copy
(backupId, sourceBackup, expireTime; answers an Operation), and
https://cloud.google.com/bigtable/docs/reference/admin/rest/v2/operations/get (done, error).
"""

from __future__ import annotations

import datetime
import http.server
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.conftest import ROOT

SCRIPT = ROOT / "stacks" / "catalog-search" / "bigtable_copy.py"
SOURCE = "projects/p/instances/catalog-search-features"
DESTINATION = "projects/p/instances/catalog-search-dr/clusters/catalog-search-dr"
OPERATION = "operations/projects/p/instances/catalog-search-dr/locations/x/operations/42"


def backup(backup_id: str, start: str, state: str = "READY") -> dict[str, str]:
    name = f"{SOURCE}/clusters/catalog-search-pri/backups/{backup_id}"
    return {"name": name, "startTime": start, "state": state}


@dataclass
class StandIn:
    """What the stand-in answers, and every request it received."""

    pages: list[list[dict[str, str]]] = field(default_factory=lambda: [[]])
    copy_status: int = 200
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
                self._answer(200, {"access_token": "t0ken", "expires_in": 3599})
            elif self.path.startswith(f"/v2/{SOURCE}/clusters/-/backups"):
                page = int(self.path.split("pageToken=")[1]) if "pageToken=" in self.path else 0
                answer: dict[str, object] = {"backups": state.pages[page]}
                if page + 1 < len(state.pages):
                    answer["nextPageToken"] = str(page + 1)
                self._answer(200, answer)
            elif self.path == f"/v2/{OPERATION}":
                self._answer(200, state.operations.pop(0))
            else:
                self._answer(404, {"error": {"code": 404, "status": "NOT_FOUND"}})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length))
            state.requests.append(("POST", self.path, body, self.headers.get("Authorization")))
            if self.path != f"/v2/{DESTINATION}/backups:copy":
                self._answer(404, {"error": {"code": 404}})
            elif state.copy_status != 200:
                self._answer(state.copy_status, {"error": {"code": state.copy_status}})
            else:
                self._answer(200, {"name": OPERATION, "done": False})

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def admin_api() -> Iterator[tuple[StandIn, str]]:
    state = StandIn()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def copy(url: str, budget_seconds: int = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT)],
        env={
            **os.environ,
            "BIGTABLE_ADMIN_URL": url,
            "METADATA_TOKEN_URL": f"{url}/token",
            "POLL_SECONDS": "0",
            "SOURCE_INSTANCE": SOURCE,
            "DESTINATION_CLUSTER": DESTINATION,
            "RETENTION_SECONDS": str(14 * 86400),
            "COPY_BUDGET_SECONDS": str(budget_seconds),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )


def posts(state: StandIn) -> list[dict[str, Any] | None]:
    return [body for method, _, body, _ in state.requests if method == "POST"]


def test_before_the_primary_has_a_backup_the_job_says_so_and_succeeds(
    admin_api: tuple[StandIn, str],
) -> None:
    state, url = admin_api

    completed = copy(url)

    assert completed.returncode == 0, completed.stderr
    assert "nothing to copy" in completed.stdout
    assert posts(state) == []


def test_the_newest_ready_backup_over_every_page_is_copied_and_awaited(
    admin_api: tuple[StandIn, str],
) -> None:
    state, url = admin_api
    state.pages = [
        [backup("b-old", "2026-11-27T03:00:00.123456789Z")],
        [
            backup("b-new", "2026-11-28T03:00:00.5Z"),
            backup("b-running", "2026-11-29T03:00:00Z", state="CREATING"),
        ],
    ]
    state.operations = [{"name": OPERATION, "done": False}, {"name": OPERATION, "done": True}]
    before = datetime.datetime.now(datetime.UTC)

    completed = copy(url)

    assert completed.returncode == 0, completed.stderr
    (body,) = posts(state)
    assert body is not None
    assert (body["backupId"], body["sourceBackup"]) == ("b-new", backup("b-new", "")["name"])
    expire = datetime.datetime.fromisoformat(body["expireTime"].replace("Z", "+00:00"))
    assert abs(expire - before - datetime.timedelta(days=14)) < datetime.timedelta(minutes=1)
    assert state.operations == []  # polled until done
    assert all(auth == "Bearer t0ken" for _, path, _, auth in state.requests if path != "/token")
    assert "copied" in completed.stdout


def test_a_backup_already_copied_is_not_a_failure(admin_api: tuple[StandIn, str]) -> None:
    state, url = admin_api
    state.pages = [[backup("b-new", "2026-11-28T03:00:00Z")]]
    state.copy_status = 409  # ALREADY_EXISTS: an earlier run copied it

    completed = copy(url)

    assert completed.returncode == 0, completed.stderr
    assert "already copied" in completed.stdout


@pytest.mark.parametrize("refusal", [403, 400, 500])
def test_a_refused_copy_fails_the_job(admin_api: tuple[StandIn, str], refusal: int) -> None:
    state, url = admin_api
    state.pages = [[backup("b-new", "2026-11-28T03:00:00Z")]]
    state.copy_status = refusal

    completed = copy(url)

    assert completed.returncode != 0
    assert "copied" not in completed.stdout


def test_an_operation_that_ends_in_error_fails_the_job(admin_api: tuple[StandIn, str]) -> None:
    state, url = admin_api
    state.pages = [[backup("b-new", "2026-11-28T03:00:00Z")]]
    error = {"code": 9, "message": "source backup expired"}
    state.operations = [{"name": OPERATION, "done": True, "error": error}]

    completed = copy(url)

    assert completed.returncode != 0
    assert "source backup expired" in completed.stderr


def test_a_copy_still_running_when_the_budget_ends_fails_the_job(
    admin_api: tuple[StandIn, str],
) -> None:
    state, url = admin_api
    state.pages = [[backup("b-new", "2026-11-28T03:00:00Z")]]
    state.operations = [{"name": OPERATION, "done": False}] * 50

    completed = copy(url, budget_seconds=-1)  # past the budget at the first poll

    assert completed.returncode != 0
    assert "still running at the budget's end" in completed.stderr
