"""`drgen vendors status` against a local HTTP server serving recorded status pages."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from werkzeug import Request, Response

from drgen.cli import main
from drgen.vendors.status import classify, read_page
from tests.vendor_pages import MAJOR_OUTAGE, OPERATIONAL, PAGES

httpserver_module = pytest.importorskip("pytest_httpserver")
HTTPServer = httpserver_module.HTTPServer


def _body(page: Any) -> bytes:
    return page if isinstance(page, bytes) else json.dumps(page).encode()


@pytest.mark.parametrize("name", sorted(PAGES))
def test_each_recorded_page_is_classified(name: str) -> None:
    body, with_api, whole_page = PAGES[name]
    assert classify(_body(body), ["API"]).state == with_api
    assert classify(_body(body), []).state == whole_page


def _serve(server: HTTPServer, prefix: str, page: Any) -> str:
    server.expect_request(f"{prefix}/api/v2/summary.json").respond_with_data(
        _body(page), content_type="application/json"
    )
    return server.url_for(prefix)


def _workload(tmp_path: Path, pages: dict[str, str]) -> Path:
    lines = [
        "name: chat-desk",
        "tier: 2",
        "cloud: aws",
        "regions: {primary: us-east-1, secondary: us-west-2}",
        "vendors:",
        f"  - {{name: openai, model: gpt-4o, role: primary, status_page: {pages['openai']},"
        " status_components: [API]}",
        f"  - {{name: anthropic, model: claude-sonnet, role: alternate,"
        f" status_page: {pages['anthropic']}}}",
        "  - {name: google, model: gemini-2.5-flash, role: alternate}",
    ]
    path = tmp_path / "workload.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_operational_pages_exit_zero(httpserver: HTTPServer, tmp_path: Path) -> None:
    pages = {v: _serve(httpserver, f"/{v}", OPERATIONAL) for v in ("openai", "anthropic")}
    result = CliRunner().invoke(main, ["vendors", "status", str(_workload(tmp_path, pages))])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any(line.split()[:3] == ["openai/gpt-4o", "primary", "operational"] for line in lines)
    assert any("gemini-2.5-flash" in line and "unwatched" in line for line in lines)


def test_an_outage_exits_one_and_names_the_component(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    pages = {
        "openai": _serve(httpserver, "/openai", MAJOR_OUTAGE),
        "anthropic": _serve(httpserver, "/anthropic", OPERATIONAL),
    }
    result = CliRunner().invoke(main, ["vendors", "status", str(_workload(tmp_path, pages))])
    assert result.exit_code == 1
    assert "API: major_outage" in result.output
    assert "outage: openai/gpt-4o" in result.output


def test_a_malformed_page_is_unknown_with_its_url(httpserver: HTTPServer, tmp_path: Path) -> None:
    pages = {
        "openai": _serve(httpserver, "/openai", OPERATIONAL),
        "anthropic": _serve(httpserver, "/anthropic", PAGES["malformed"][0]),
    }
    result = CliRunner().invoke(main, ["vendors", "status", str(_workload(tmp_path, pages))])
    assert result.exit_code == 2
    assert f"GET {pages['anthropic']}/api/v2/summary.json: not a JSON summary" in result.output
    assert "Traceback" not in result.output


def test_http_errors_and_timeouts_are_unknown(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/down/api/v2/summary.json").respond_with_data("oops", status=503)

    def slow(_: Request) -> Response:
        time.sleep(1.5)
        return Response(json.dumps(OPERATIONAL), content_type="application/json")

    httpserver.expect_request("/slow/api/v2/summary.json").respond_with_handler(slow)
    down = read_page(httpserver.url_for("/down"), timeout=5)
    assert (down.state, down.detail.endswith("HTTP 503")) == ("unknown", True)
    slow_reading = read_page(httpserver.url_for("/slow"), timeout=0.5)
    assert slow_reading.state == "unknown"
    assert "timed out" in slow_reading.detail


def test_nothing_listens_is_unknown() -> None:
    reading = read_page("http://127.0.0.1:9", timeout=2)
    assert reading.state == "unknown"
    assert reading.detail.startswith("GET http://127.0.0.1:9/api/v2/summary.json:")


def test_a_status_page_must_be_https(tmp_path: Path) -> None:
    path = _workload(tmp_path, {"openai": "http://status.example.com", "anthropic": "https://a.b"})
    result = CliRunner().invoke(main, ["vendors", "status", str(path)])
    assert result.exit_code == 1
    assert "vendors[0].status_page" in result.output
