"""The status watcher each stack deploys: what it polls, how often, and when it switches.

Pure: derived from the plan, read by the watcher templates.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from drgen.plan import DrPlan


class Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WatchedPage(Frozen):
    vendor: str
    """`name/model`, as the records and notifications name it."""
    role: str
    url: str
    components: tuple[str, ...]


class Watch(Frozen):
    """The watcher of one workload (the same in every region; each region has its own switch)."""

    primary: WatchedPage
    others: tuple[WatchedPage, ...]
    """Alternates' pages: recorded with each switch, so a switch to a failing alternate shows."""
    interval: int
    """Seconds between polls (whole minutes)."""
    bad_polls: int
    """Consecutive polls showing the primary's outage before the switch moves to the alternate."""
    good_polls: int
    """Consecutive operational polls before the switch moves back (no flapping)."""
    function: str
    """The Lambda function (AWS) or Cloud Run job (GCP), and its schedule, in every region."""
    parameter: str
    """AWS: the SSM parameter holding the switch."""
    topic: str
    """AWS: the region's DR alert topic (alerts.py), which also carries every switch."""
    switch_buckets: dict[str, str]
    """GCP: region -> the bucket holding that region's switch object (`switch_object`)."""
    switch_object: str
    """GCP: the object holding the switch, one per region's bucket."""
    switch_topics: dict[str, str]
    """GCP: region -> the Pub/Sub topic every switch is announced on (topics are per project)."""
    fallback_group: str | None
    """The gateway's model group to call while the switch says `alternate`, if any."""

    @property
    def unknown_polls(self) -> int:
        """Unreadable polls in a row after which the watcher fails every poll (and alerts):
        a page unreadable for as long as a switch takes would hide an outage."""
        return self.bad_polls

    @property
    def task_timeout(self) -> int:
        """Seconds one GCP poll may run: it ends before the next one starts (10 s to spare),
        and at most 4 min, room for every request of a switch at its 10 s bound."""
        return min(self.interval - 10, 240)

    @property
    def primary_page(self) -> dict[str, object]:
        """The primary's page as plain data, for the generated code's literal."""
        return self.primary.model_dump()

    @property
    def other_pages(self) -> list[dict[str, object]]:
        return [page.model_dump() for page in self.others]


def watch(plan: DrPlan) -> Watch | None:
    """The watcher, or None when there is no primary vendor with a status page to watch."""
    pages = [
        WatchedPage(vendor=v.label, role=v.role, url=v.status_page, components=v.status_components)
        for v in plan.vendors
        if v.status_page is not None
    ]
    primary = [p for p in pages if p.role == "primary"]
    if not primary:
        return None
    interval = poll_interval(plan.objectives.rto_seconds)
    bad = bad_polls(plan.objectives.rto_seconds)
    return Watch(
        primary=primary[0],
        others=tuple(p for p in pages if p.role != "primary"),
        interval=interval,
        bad_polls=bad,
        good_polls=2 * bad,
        function=f"{plan.workload}-vendor-watch",
        parameter=f"/drgen/{plan.workload}/vendor-route",
        topic=f"{plan.workload}-dr-alerts",
        switch_buckets=_switch_buckets(plan) if plan.cloud == "gcp" else {},
        switch_object="vendor-route.json",
        switch_topics=(
            {s.region: f"{plan.workload}-vendor-switch-{s.region}" for s in plan.stacks}
            if plan.cloud == "gcp"
            else {}
        ),
        fallback_group=_fallback_group(plan),
    )


def _switch_buckets(plan: DrPlan) -> dict[str, str]:
    """`<workload>-route-<region>[-<suffix>]`: named like the component buckets (drgen.names),
    with naming.suffix read off the audit bucket's name, so global bucket names stay unique."""
    audit = plan.component("audit_log")
    audit_names = audit.names if audit is not None else {}
    buckets = {}
    for stack in plan.stacks:
        stem = f"{plan.workload}-audit-{stack.region}"
        suffix = audit_names.get(stack.region, stem).removeprefix(stem)
        buckets[stack.region] = f"{plan.workload}-route-{stack.region}{suffix}"
    return buckets


def _fallback_group(plan: DrPlan) -> str | None:
    """The first group the gateway falls back to (drgen.vendors.gateway names them alike)."""
    roles = [v.role for v in plan.vendors]
    if "alternate" in roles:
        return f"{plan.workload}-alternate-1"
    if "degraded" in roles:
        return f"{plan.workload}-degraded"
    return None


def poll_interval(rto: int | None) -> int:
    """1/60 of the RTO in whole minutes, 1-15 min: detection (bad polls x interval) stays a
    small part of the RTO, and a poll a minute is far below any status page's rate limit."""
    if rto is None:
        return 900
    return max(60, min(900, rto // 60 // 60 * 60))


def bad_polls(rto: int | None) -> int:
    """Two polls where the RTO is an hour or less (a 1-min interval switches in ~2 min), three
    otherwise: one bad answer, or one status-page blip, never flips traffic."""
    return 2 if rto is not None and rto <= 3600 else 3
