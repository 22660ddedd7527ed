"""What every component drill shares: the run's context, its calls, results and the write guard."""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from drgen.plan import ComponentPlan, DrPlan
from drgen.schema import Workload

Effect = Literal["read", "scratch", "evidence", "refusal-probe", "mock", "prompt"]
"""What a call does: reads production, creates/removes a scratch resource, adds the run's
evidence to the locked audit bucket, asks to delete a locked record (which must be refused),
runs in this process against mocks (nothing leaves the machine), or sends an evaluation prompt
to a vendor (a billed request that changes nothing)."""

Outcome = Literal["pass", "fail", "error", "skipped"]
"""pass: restored and verified; fail: it ran and found a problem; error: it could not run;
skipped: no drill exists here for this component's mechanism."""

SCRATCH_PREFIX = "drgen-drill"
"""Every scratch resource's name starts with this and holds the run id."""

PRACTICES = {
    "models": ("NIST SP 800-34 3.5 (tests and exercises)", "DORA Art. 24-25", "FFIEC BCM testing"),
    "vector_store": (
        "NIST SP 800-34 3.5 (tests and exercises)",
        "DORA Art. 25 (end-to-end restore test)",
        "FFIEC BCM testing",
    ),
    "feature_store": (
        "NIST SP 800-34 3.5 (tests and exercises)",
        "DORA Art. 25 (end-to-end restore test)",
        "FFIEC BCM testing",
    ),
    "audit_log": (
        "NIST SP 800-34 3.5 (tests and exercises)",
        "DORA Art. 24 (testing programme)",
        "FFIEC BCM testing (records integrity)",
    ),
    "vendors": (
        "NIST SP 800-34 3.5 (tests and exercises)",
        "DORA Art. 25 (scenario-based test)",
        "DORA Art. 28(8) (exit strategies for ICT third-party services)",
        "FFIEC BCM testing (third-party service providers)",
    ),
}
"""The practices each component's drill serves, cited in the evidence."""


class DrillError(Exception):
    """A step that could not be done; its message goes into the report as the failure."""


class ProductionWriteError(DrillError):
    """drgen itself refused a call that would have written to a production resource."""


@dataclass(frozen=True)
class Call:
    """One request to a cloud or database: what `--dry-run` lists and the report records."""

    service: str
    operation: str
    target: str
    effect: Effect = "read"

    def __str__(self) -> str:
        return f"{self.service} {self.operation} {self.target} [{self.effect}]"


@dataclass
class Result:
    """One component's drill: what was measured, verified and cleaned up, and its outcome."""

    component: str
    engine: str | None
    region: str
    outcome: Outcome = "pass"
    started: str = ""
    finished: str = ""
    restore_seconds: float | None = None
    """Wall time of the restore itself (download, table restore, dump+restore+index)."""
    data_age_seconds: float | None = None
    """How far the restored data lags the primary (or the newest restorable time)."""
    bytes: int = 0
    throughput_mb_s: float | None = None
    integrity: dict[str, Any] = field(default_factory=dict)
    measurements: dict[str, Any] = field(default_factory=dict)
    scratch: list[str] = field(default_factory=list)
    cleanup: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    practices: tuple[str, ...] = ()
    review: list[dict[str, Any]] = field(default_factory=list)
    """Answers a person must judge (the vendor drill's --live prompts); never passed by drgen."""

    def fail(self, message: str) -> None:
        """Record a problem found by the drill (the restore ran, the result is wrong)."""
        self.failures.append(message)
        if self.outcome == "pass":
            self.outcome = "fail"

    def error(self, message: str) -> None:
        """Record that the drill could not complete."""
        self.failures.append(message)
        self.outcome = "error"

    def measure_rate(self) -> None:
        if self.restore_seconds and self.bytes:
            self.throughput_mb_s = round(self.bytes / 1e6 / self.restore_seconds, 3)


@dataclass(frozen=True)
class ScratchEngine:
    """The scratch vector engine a snapshot is restored into (`--scratch-url` and its options)."""

    url: str
    """The engine's API (Milvus: its milvus-backup server, as the stacks' vector_store_url)."""
    key_env: str = "DRGEN_SCRATCH_API_KEY"
    """Environment variable holding its API key (Qdrant api-key, Weaviate/Milvus bearer)."""
    search_url: str | None = None
    """Milvus only: the scratch Milvus's REST endpoint, for counting, searching and dropping."""
    role_arn: str | None = None
    """OpenSearch only: the role the scratch domain reads the recovery bucket as."""
    project: Path | None = None
    """The rendered Pulumi project: no stack's vector_store_url may be the scratch engine."""

    def holds(self, target: str) -> bool:
        """Whether a call's target is on the scratch engine (everything there is scratch)."""
        return any(
            base and target.startswith(base.rstrip("/") + "/")
            for base in (self.url, self.search_url)
        )


@dataclass
class Context:
    """One drill run: the plan, where it restores, its limits and the calls it makes."""

    plan: DrPlan
    workload: Workload
    workload_dir: Path
    region: str
    run_id: str
    deadline: float
    """`time.monotonic()` by which every step must have finished (--timeout)."""
    dry_run: bool = False
    keep: bool = False
    scratch_dsn: str | None = None
    source_dsn: str | None = None
    restore: Literal["cloud", "dump"] | None = None
    """How pgvector is restored (--restore); None: a dump when --scratch-dsn is given."""
    scratch_engine: ScratchEngine | None = None
    calls: list[Call] = field(default_factory=list)
    evidence_writes: set[str] = field(default_factory=set)
    """Keys of the audit bucket this run may add (its own reports)."""
    clock: Callable[[], datetime.datetime] = field(
        default=lambda: datetime.datetime.now(datetime.UTC)
    )

    @property
    def primary(self) -> str:
        return self.plan.primary.region

    @property
    def tags(self) -> dict[str, str]:
        """Tags on every scratch resource: whose, which run, and that it may be deleted."""
        return {
            "drgen:workload": self.plan.workload,
            "drgen:drill": self.run_id,
            "drgen:scratch": "true",
        }

    def scratch_name(self, kind: str = "") -> str:
        """A scratch resource's name: `drgen-drill-<kind>-<run id>`, or `drgen-drill-<run id>`
        where the cloud's ids are too short for a kind (a Bigtable instance: 33 characters)."""
        return "-".join(part for part in (SCRATCH_PREFIX, kind, self.run_id) if part)

    def record(self, service: str, operation: str, target: str, effect: Effect = "read") -> None:
        """Note a call before it is made; refuse any write that is not to this run's scratch."""
        on_scratch_engine = self.scratch_engine is not None and self.scratch_engine.holds(target)
        if effect == "scratch" and self.run_id not in target and not on_scratch_engine:
            raise ProductionWriteError(
                f"refused {service} {operation} on {target}: not a scratch resource of this run"
            )
        if effect == "evidence" and target not in self.evidence_writes:
            raise ProductionWriteError(
                f"refused {service} {operation} on {target}: not this run's evidence"
            )
        self.calls.append(Call(service, operation, target, effect))

    def remaining(self) -> float:
        """Seconds left before --timeout; raise once it has passed."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise DrillError("timed out (--timeout); the step was abandoned")
        return left

    def now(self) -> datetime.datetime:
        return self.clock()

    def pause(self, seconds: float) -> None:
        """Wait before looking again, never past --timeout (which then raises)."""
        time.sleep(min(seconds, self.remaining()))
        self.remaining()


def age(now: datetime.datetime, then: datetime.datetime) -> float:
    """Seconds from `then` to `now`, never negative (clocks of two services may disagree)."""
    return max((now - then).total_seconds(), 0.0)


def new_result(ctx: Context, component: ComponentPlan) -> Result:
    return Result(
        component=component.component,
        engine=component.engine,
        region=ctx.region,
        started=ctx.now().isoformat(timespec="seconds"),
        practices=PRACTICES.get(component.component, ()),
    )
