"""Status-page summaries in the shape Statuspage and incident.io serve at /api/v2/summary.json.

Written after the documented Statuspage format, trimmed to the fields drgen reads, e.g.
https://www.mongodb.com/docs/api/doc/cloud-status/operation/operation-getstatussummary
(component status: operational, degraded_performance, partial_outage, major_outage; indicator:
none, minor, major, critical). Shared by the tests of `drgen vendors status` and the watcher.
"""

from __future__ import annotations

from typing import Any


def _summary(
    indicator: str, components: list[tuple[str, str]], incident: str | None = None
) -> dict[str, Any]:
    return {
        "page": {"id": "y2j98763l56x", "name": "Vendor", "url": "https://status.example.com"},
        "status": {"indicator": indicator, "description": indicator.title()},
        "components": [
            {"id": f"c{n}", "name": name, "status": status, "group": False}
            for n, (name, status) in enumerate(components)
        ],
        "incidents": (
            [{"id": "i1", "name": incident, "status": "investigating", "impact": indicator}]
            if incident
            else []
        ),
        "scheduled_maintenances": [],
    }


OPERATIONAL = _summary("none", [("API", "operational"), ("Console", "operational")])
DEGRADED = _summary(
    "minor", [("API", "degraded_performance"), ("Console", "operational")], "Elevated latency"
)
MAJOR_OUTAGE = _summary(
    "major", [("API", "major_outage"), ("Console", "operational")], "API unavailable"
)
CONSOLE_DOWN = _summary("major", [("API", "operational"), ("Console", "major_outage")], "Console")
# incident.io pages can list no components while an incident is open.
EMPTY_COMPONENTS = _summary("critical", [], "Elevated error rates on all models")
MALFORMED = b'{"status": {"indicator": "none"'
UNKNOWN_INDICATOR = _summary("sideways", [])

PAGES: dict[str, tuple[Any, str, str]] = {
    # name: (body, state when the model depends on "API", state with no component named)
    "operational": (OPERATIONAL, "operational", "operational"),
    "degraded": (DEGRADED, "degraded", "degraded"),
    "major-outage": (MAJOR_OUTAGE, "outage", "outage"),
    "other-component-down": (CONSOLE_DOWN, "operational", "outage"),
    "empty-components": (EMPTY_COMPONENTS, "outage", "outage"),
    "malformed": (MALFORMED, "unknown", "unknown"),
    "unknown-indicator": (UNKNOWN_INDICATOR, "unknown", "unknown"),
}
