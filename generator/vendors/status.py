"""Read a vendor's status page: Atlassian Statuspage's `/api/v2/summary.json`, or a page that
serves the same API (incident.io, whose `components` can be empty during an incident).

The rules, so that `drgen vendors status` and the deployed watcher agree:
- component status operational -> operational; degraded_performance, under_maintenance ->
  degraded; partial_outage, major_outage -> outage;
- the page's `status.indicator` none -> operational; minor, maintenance -> degraded; major,
  critical -> outage;
- with components named, the worst of those found decides; when none of them is listed (an
  empty list), the page's indicator decides; with none named, the indicator decides;
- anything else (not JSON, missing fields, unknown values, HTTP errors, timeouts) is unknown:
  it never counts as an outage, and never as healthy.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

State = Literal["operational", "degraded", "outage", "unknown"]

SUMMARY_PATH = "/api/v2/summary.json"
MAX_BYTES = 2 * 1024 * 1024
"""Summaries are tens of kilobytes; a page larger than this is not one."""

COMPONENT_STATES: dict[str, State] = {
    "operational": "operational",
    "degraded_performance": "degraded",
    "under_maintenance": "degraded",
    "partial_outage": "outage",
    "major_outage": "outage",
}
INDICATOR_STATES: dict[str, State] = {
    "none": "operational",
    "minor": "degraded",
    "maintenance": "degraded",
    "major": "outage",
    "critical": "outage",
}
SEVERITY: dict[State, int] = {"operational": 0, "degraded": 1, "outage": 2, "unknown": -1}


@dataclass(frozen=True)
class Reading:
    """What one status page says about one model, and why."""

    state: State
    detail: str


def summary_url(page: str) -> str:
    """The Statuspage summary endpoint of a status page's base URL."""
    return page.rstrip("/") + SUMMARY_PATH


def classify(body: bytes, components: Sequence[str] = ()) -> Reading:
    """The state a summary.json body shows for a model that depends on `components`."""
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        return Reading("unknown", f"not a JSON summary ({error})")
    if not isinstance(document, dict):
        return Reading("unknown", "not a JSON summary (expected an object)")
    status = document.get("status")
    indicator = status.get("indicator") if isinstance(status, dict) else None
    listed = document.get("components", [])
    if not isinstance(listed, list):
        return Reading("unknown", "`components` is not a list")
    wanted = {name.casefold() for name in components}
    found: list[tuple[str, str]] = []
    for item in listed:
        if isinstance(item, dict) and str(item.get("name", "")).casefold() in wanted:
            found.append((str(item["name"]), str(item.get("status"))))
    if found:
        worst: Reading | None = None
        for name, value in found:
            state = COMPONENT_STATES.get(value)
            if state is None:
                return Reading("unknown", f"component {name!r} has unknown status {value!r}")
            if worst is None or SEVERITY[state] > SEVERITY[worst.state]:
                worst = Reading(state, f"{name}: {value}")
        assert worst is not None
        return worst
    if not isinstance(indicator, str) or indicator not in INDICATOR_STATES:
        return Reading("unknown", f"no known `status.indicator` (got {indicator!r})")
    why = f"page indicator {indicator}"
    if wanted:
        why += f" ({', '.join(sorted(components))} not listed)"
    incident = _open_incident(document)
    return Reading(INDICATOR_STATES[indicator], why + (f"; {incident}" if incident else ""))


def read_page(page: str, components: Sequence[str] = (), timeout: float = 10.0) -> Reading:
    """Fetch the page's summary now and classify it; failures are `unknown` with the reason."""
    url = summary_url(page)
    # urllib would also open file:// URLs; the schema admits only https, or http on loopback.
    request = urllib.request.Request(
        url, headers={"Accept": "application/json", "User-Agent": "drgen-vendor-status"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read(MAX_BYTES + 1)
    except urllib.error.HTTPError as error:
        return Reading("unknown", f"GET {url}: HTTP {error.code}")
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        reason = getattr(error, "reason", error)
        return Reading("unknown", f"GET {url}: {reason or 'no answer'} (timeout {timeout:g}s)")
    if len(body) > MAX_BYTES:
        return Reading("unknown", f"GET {url}: larger than {MAX_BYTES} bytes")
    reading = classify(body, components)
    if reading.state == "unknown":
        return Reading("unknown", f"GET {url}: {reading.detail}")
    return reading


def _open_incident(document: dict[str, Any]) -> str | None:
    incidents = document.get("incidents")
    if not isinstance(incidents, list):
        return None
    for incident in incidents:
        if isinstance(incident, dict) and incident.get("status") != "resolved":
            name = incident.get("name")
            if isinstance(name, str) and name:
                return f"incident: {name[:120]}"
    return None
