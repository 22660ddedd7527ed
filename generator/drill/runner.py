"""Run the partial restore drill for a workload: each component in turn, then the evidence.

A component's failure (missing credentials, a stack not deployed, a missing recovery point, a
timeout) is recorded in its result and the next component still runs; scratch resources are
removed by the component that made them, whatever happened.
"""

from __future__ import annotations

import datetime
import getpass
import hashlib
import json
import secrets
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from drgen import __version__
from drgen.drill import audit_log, bigtable, dynamodb, firestore, models, pgvector, snapshots
from drgen.drill.base import PRACTICES, Call, Context, DrillError, Result, ScratchEngine, new_result
from drgen.drill.buckets import EVIDENCE_PREFIX, bucket, explain, store
from drgen.drill.evidence import as_json, as_markdown, report_payload, sha256
from drgen.errors import DrgenError
from drgen.loader import SourcedWorkload
from drgen.plan import ComponentPlan, DrPlan
from drgen.vendors import drill as vendor_drill

Module = tuple[
    Callable[[Context, ComponentPlan], list[Call]], Callable[[Context, ComponentPlan, Result], None]
]

DRILLABLE = ("models", "vector_store", "feature_store", "audit_log")
VENDORS = "vendors"
"""The vendor failover drill (drgen.vendors.drill): not a component of the plan, drilled alike."""


def module_for(plan: DrPlan, component: ComponentPlan) -> Module | str:
    """The drill of a component, or why there is none in this drgen."""
    if component.component == "models":
        return models.calls, models.run
    if component.component == "audit_log":
        return audit_log.calls, audit_log.run
    if component.engine == "pgvector":
        return pgvector.calls, pgvector.run
    if component.engine == "dynamodb":
        return dynamodb.calls, dynamodb.run
    if component.engine == "bigtable":
        return bigtable.calls, bigtable.run
    if component.engine == "firestore":
        return firestore.calls, firestore.run
    if component.module == "vector_snapshots":
        return snapshots.calls, snapshots.run
    return (
        f"{component.engine}: its backup restore runs only in the cloud and is not implemented yet"
    )


@dataclass(frozen=True)
class Options:
    region: str | None = None
    components: tuple[str, ...] = ()
    evidence: Path = Path("drills")
    dry_run: bool = False
    keep: bool = False
    scratch_dsn: str | None = None
    source_dsn: str | None = None
    restore: Literal["cloud", "dump"] | None = None
    scratch_engine: ScratchEngine | None = None
    timeout: float = 3600.0
    live: bool = False
    """Vendors: also send the prompt evaluation set to every alternate with real credentials."""


@dataclass(frozen=True)
class Outcome:
    verdict: str
    lines: tuple[str, ...]
    """What to print: the dry-run's calls, or where the evidence went."""


def run_drill(sourced: SourcedWorkload, plan: DrPlan, path: Path, options: Options) -> Outcome:
    region = _region(plan, options.region)
    wanted = _components(plan, options.components)
    vendors = _vendors_wanted(sourced, plan, path, options)
    # Lowercase letters and digits only: valid in every name the drill gives a scratch resource.
    run_id = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dt%H%M%Sz") + secrets.token_hex(2)
    ctx = Context(
        plan=plan,
        workload=sourced.workload,
        workload_dir=path.parent,
        region=region,
        run_id=run_id,
        deadline=time.monotonic() + options.timeout,
        dry_run=options.dry_run,
        keep=options.keep,
        scratch_dsn=options.scratch_dsn,
        source_dsn=options.source_dsn,
        restore=options.restore,
        scratch_engine=options.scratch_engine,
    )
    if options.dry_run:
        return Outcome("dry-run", tuple(_dry_run(ctx, wanted, vendors, options.live)))
    started = ctx.now()
    results = [_run_one(ctx, component) for component in wanted]
    if vendors:
        results.append(_run_vendors(ctx, options.live))
    meta = _meta(ctx, path, started)
    payload = report_payload(meta, results, ctx.calls)
    return Outcome(payload["verdict"], tuple(_write_evidence(ctx, payload, options.evidence)))


def _region(plan: DrPlan, asked: str | None) -> str:
    regions = [s.region for s in plan.stacks]
    if asked is None:
        return (plan.secondary or plan.primary).region
    if asked not in regions:
        raise DrgenError(
            f"--region {asked}: not a region of {plan.workload} ({', '.join(regions)})"
        )
    return asked


def _components(plan: DrPlan, asked: tuple[str, ...]) -> list[ComponentPlan]:
    present = [c for c in plan.components if c.component in DRILLABLE]
    if not asked:
        return present
    names = [c.component for c in present] + ([VENDORS] if plan.vendors else [])
    unknown = [a for a in asked if a not in names]
    if unknown:
        raise DrgenError(
            f"--component {', '.join(unknown)}: {plan.workload} has {', '.join(names)}"
        )
    return [c for c in present if c.component in asked]


def _vendors_wanted(sourced: SourcedWorkload, plan: DrPlan, path: Path, options: Options) -> bool:
    """Whether the vendor failover drill runs; refuse one that cannot run here before anything
    does (asked for by name without LiteLLM, --live without a readable prompt set)."""
    asked = VENDORS in options.components
    if options.live and options.components and not asked:
        raise DrgenError("--live sends prompts to the vendors: add --component vendors")
    if asked or options.live:
        vendor_drill.require(plan, sourced.workload, path.parent, options.live)
    return asked or (not options.components and bool(plan.vendors))


def _dry_run(ctx: Context, wanted: list[ComponentPlan], vendors: bool, live: bool) -> list[str]:
    lines = [f"drill {ctx.plan.workload} in {ctx.region} (run {ctx.run_id}); calls it would make:"]
    for component in wanted:
        module = module_for(ctx.plan, component)
        lines.append(f"{component.label}:")
        if isinstance(module, str):
            lines.append(f"  skipped: {module}")
            continue
        lines += [f"  {call}" for call in module[0](ctx, component)]
    if vendors:
        lines.append(f"{VENDORS}:")
        try:
            lines += [f"  {call}" for call in vendor_drill.calls(ctx, live)]
        except DrillError as problem:
            raise DrgenError(str(problem)) from None
    lines.append("evidence:")
    if ctx.plan.cloud == "aws":
        lines.append(f"  {Call('sts', 'GetCallerIdentity', 'caller')}")
    lines += [f"  {call}" for call in evidence_calls(ctx)]
    return lines


def evidence_calls(ctx: Context) -> list[Call]:
    audit = ctx.plan.component("audit_log")
    if audit is None:
        return []
    service, put = ("s3", "PutObject") if ctx.plan.cloud == "aws" else ("storage", "objects.insert")
    name = bucket(audit, ctx.region)
    return [
        Call(service, put, f"{name}/{_evidence_key(ctx, suffix)}", "evidence")
        for suffix in ("json", "md")
    ]


def _evidence_key(ctx: Context, suffix: str) -> str:
    return f"{EVIDENCE_PREFIX}{ctx.plan.workload}/{ctx.run_id}.{suffix}"


def _run_one(ctx: Context, component: ComponentPlan) -> Result:
    result = new_result(ctx, component)
    module = module_for(ctx.plan, component)
    if isinstance(module, str):
        result.outcome = "skipped"
        result.failures.append(module)
    else:
        try:
            module[1](ctx, component, result)
        except DrillError as failure:
            result.error(str(failure))
        except Exception as error:  # a cloud or database client's error: recorded, not raised
            result.error(_describe(ctx, error))
    result.finished = ctx.now().isoformat(timespec="seconds")
    return result


def _run_vendors(ctx: Context, live: bool) -> Result:
    result = Result(
        component=VENDORS,
        engine=None,
        region=ctx.region,
        started=ctx.now().isoformat(timespec="seconds"),
        practices=PRACTICES[VENDORS],
    )
    missing = vendor_drill.litellm_missing()
    if missing is not None:
        # Only in a run of every component (asked for by name, it stops before anything runs):
        # the data drills stand, and `drgen check` still shows the failover as not drilled.
        result.outcome = "skipped"
        result.failures.append(missing)
        result.finished = result.started
        return result
    try:
        vendor_drill.run(ctx, result, live)
    except DrillError as failure:
        result.error(str(failure))
    except Exception as error:  # LiteLLM's own errors: recorded, not raised
        result.error(f"{type(error).__name__}: {error}")
    result.finished = ctx.now().isoformat(timespec="seconds")
    return result


def _describe(ctx: Context, error: Exception) -> str:
    module = type(error).__module__
    if module.startswith(("botocore", "google", "boto3")):
        return explain(ctx, error)
    if module.startswith("psycopg"):
        first = str(error).strip().splitlines()
        return f"PostgreSQL: {first[0] if first else type(error).__name__}"
    return f"{type(error).__name__}: {error}"


def _meta(ctx: Context, path: Path, started: datetime.datetime) -> dict[str, Any]:
    data = path.read_bytes()
    return {
        "drgen_version": __version__,
        "workload": ctx.plan.workload,
        "workload_file": ctx.plan.source,
        "workload_sha256": hashlib.sha256(data).hexdigest(),
        "git_commit": _git_commit(path),
        "operator": _operator(ctx),
        "run_id": ctx.run_id,
        "started": started.isoformat(timespec="seconds"),
        "finished": ctx.now().isoformat(timespec="seconds"),
        "cloud": ctx.plan.cloud,
        "tier": ctx.plan.tier,
        "region": ctx.region,
        "primary_region": ctx.primary,
        "objectives": {
            "rto_seconds": ctx.plan.objectives.rto_seconds,
            "rpo_seconds": ctx.plan.objectives.rpo_seconds,
        },
    }


def _git_commit(path: Path) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(path.parent.resolve()), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _operator(ctx: Context) -> str:
    person = f"{getpass.getuser()}@{socket.gethostname()}"
    if ctx.plan.cloud != "aws":
        return person
    try:
        from drgen.drill.aws import client

        ctx.record("sts", "GetCallerIdentity", "caller")
        arn = client("sts", ctx.region).get_caller_identity()["Arn"]
    except Exception:  # the identity is a courtesy; the drill's results stand without it
        return person
    return f"{person} as {arn}"


def _write_evidence(ctx: Context, payload: dict[str, Any], folder: Path) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{ctx.plan.workload}-{ctx.run_id}"
    lines = []
    documents = {"json": as_json(payload), "md": as_markdown(payload)}
    for suffix, data in documents.items():
        target = folder / f"{stem}.{suffix}"
        target.write_bytes(data)
        digest = sha256(data)
        target.with_name(target.name + ".sha256").write_text(f"{digest}  {target.name}\n")
        lines.append(f"wrote {target} (SHA-256 {digest})")
    audit = ctx.plan.component("audit_log")
    if audit is None:
        return lines
    receipts = []
    try:
        vault = store(ctx, ctx.region)
        name = bucket(audit, ctx.region)
        for suffix, data in documents.items():
            key = _evidence_key(ctx, suffix)
            ctx.evidence_writes.add(f"{name}/{key}")
            receipt = vault.put_evidence(name, key, data, sha256(data))
            lock = receipt.lock
            receipts.append(
                {
                    "url": receipt.url,
                    "version": receipt.version,
                    "sha256": sha256(data),
                    "lock": {"mode": lock.mode, "until": str(lock.until)} if lock else None,
                }
            )
            held = f"locked {lock.mode} until {lock.until}" if lock else "NOT LOCKED"
            lines.append(f"uploaded {receipt.url} ({held})")
    except Exception as error:
        message = str(error) if isinstance(error, DrillError) else _describe(ctx, error)
        receipts.append({"error": message})
        lines.append(f"error: the evidence was not uploaded to the audit bucket: {message}")
    receipt_file = folder / f"{stem}.receipt.json"
    receipt_file.write_text(json.dumps(receipts, indent=2, sort_keys=True) + "\n")
    return lines
