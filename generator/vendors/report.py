"""`drgen vendors status`: every vendor's status page read now, one line per vendor and model."""

from __future__ import annotations

from dataclasses import dataclass

from drgen.errors import DrgenError
from drgen.plan import DrPlan
from drgen.tables import aligned
from drgen.vendors.status import Reading, read_page, summary_url


class StatusUnknownError(DrgenError):
    """A status page could not be read or understood: exit 2, so that 1 means an outage."""

    exit_code = 2


@dataclass(frozen=True)
class VendorStatus:
    label: str
    role: str
    page: str | None
    reading: Reading | None
    """None when the vendor has no status page to read."""


def vendor_statuses(plan: DrPlan, timeout: float) -> list[VendorStatus]:
    """Each vendor of the plan with what its status page says now."""
    return [
        VendorStatus(
            label=vendor.label,
            role=vendor.role,
            page=vendor.status_page,
            reading=(
                read_page(vendor.status_page, vendor.status_components, timeout)
                if vendor.status_page
                else None
            ),
        )
        for vendor in plan.vendors
    ]


def as_text(plan: DrPlan, statuses: list[VendorStatus]) -> str:
    """Aligned lines: vendor/model (role), state, and the reason or page read."""
    rows = [("vendor", "role", "state", "why")]
    for status in statuses:
        if status.reading is None:
            rows.append((status.label, status.role, "unwatched", "no status page: add status_page"))
            continue
        page = summary_url(status.page or "")
        detail = status.reading.detail
        why = detail if detail.startswith("GET ") else f"{detail} ({page})"
        rows.append((status.label, status.role, status.reading.state, why))
    return f"{plan.source}:\n" + "\n".join("  " + line for line in aligned(rows)) + "\n"
