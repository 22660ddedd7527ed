"""`drgen drill`'s command line: its options, checked, handed to the runner as Options."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import click

from drgen.errors import DrgenError
from drgen.loader import load_workload
from drgen.plan import resolve


@click.command(name="drill")
@click.argument("workload", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--region", help="Region to restore in (default: the recovery region).")
@click.option(
    "--component",
    "components",
    multiple=True,
    type=click.Choice(["models", "vector_store", "feature_store", "audit_log", "vendors"]),
    help="Drill only this component (repeatable; default: all). vendors: the gateway's"
    " failover chain in LiteLLM's Router (needs drgen[vendors]).",
)
@click.option(
    "--evidence",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("drills"),
    show_default=True,
    help="Folder for the reports (JSON, Markdown, SHA-256).",
)
@click.option("--dry-run", is_flag=True, help="List every call the drill would make; make none.")
@click.option("--keep", is_flag=True, help="Keep the scratch resources for inspection.")
@click.option(
    "--restore",
    type=click.Choice(["cloud", "dump"]),
    help="pgvector: `cloud` restores the newest recovery point into a scratch cluster or instance"
    " (Aurora, Cloud SQL) as a recovery would; `dump` restores a logical dump into --scratch-dsn."
    "  [default: dump with --scratch-dsn, else cloud]",
)
@click.option("--scratch-dsn", help="Scratch PostgreSQL for the pgvector logical restore.")
@click.option(
    "--source-dsn", help="Recovery region's pgvector database to dump (default: libpq's PG* env)."
)
@click.option(
    "--scratch-url",
    help="Scratch vector engine a snapshot is restored into (Qdrant, Weaviate, OpenSearch API;"
    " Milvus: its milvus-backup server). Never a stack's vector_store_url.",
)
@click.option(
    "--scratch-key-env",
    default="DRGEN_SCRATCH_API_KEY",
    show_default=True,
    help="Environment variable holding the scratch engine's API key.",
)
@click.option("--scratch-search-url", help="Milvus: the scratch Milvus's REST endpoint.")
@click.option(
    "--scratch-role-arn",
    help="OpenSearch: the role the scratch domain reads the recovery bucket as.",
)
@click.option(
    "--project",
    type=click.Path(file_okay=False, path_type=Path),
    help="The rendered Pulumi project (with --scratch-url: its stacks' engines are refused).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=3600,
    show_default=True,
    help="Seconds after which a step still running is abandoned and recorded as timed out.",
)
@click.option(
    "--live",
    is_flag=True,
    help="vendors: also send the workload's vendor_eval prompts to every alternate with the"
    " real credentials (billed) and record the answers for a person to judge.",
)
def drill_command(
    workload: Path,
    region: str | None,
    components: tuple[str, ...],
    evidence: Path,
    dry_run: bool,
    keep: bool,
    restore: Literal["cloud", "dump"] | None,
    scratch_dsn: str | None,
    source_dsn: str | None,
    scratch_url: str | None,
    scratch_key_env: str,
    scratch_search_url: str | None,
    scratch_role_arn: str | None,
    project: Path | None,
    timeout: float,
    live: bool,
) -> None:
    """Run the partial restore test against the deployed stacks and keep the evidence.

    Restores each component into scratch resources it names and tags (drgen-drill-*), measures
    restore time, data age and throughput against the objectives, verifies integrity, removes
    the scratch resources (unless --keep), writes a JSON and a Markdown report with their
    SHA-256 into --evidence and uploads both into the recovery region's locked audit bucket.
    The vendors drill fails the region's gateway models in turn (LiteLLM, offline) and proves
    the next one answers; --live also has every alternate answer the prompt set.
    Exit 1 when any component fails or could not be drilled.

    \b
    Examples:
      drgen drill workload.yaml --dry-run
      drgen drill workload.yaml --component models --component audit_log
      drgen drill workload.yaml --component vector_store --restore cloud
      drgen drill workload.yaml --scratch-dsn postgresql://drill@scratch-db/postgres
      drgen drill workload.yaml --component vendors --live
      drgen drill workload.yaml --scratch-url https://scratch-qdrant:6333 --project out/NAME
    """
    from drgen.drill.base import ScratchEngine
    from drgen.drill.runner import Options, run_drill

    if restore == "dump" and scratch_dsn is None:
        raise DrgenError(
            "--restore dump needs --scratch-dsn: the scratch PostgreSQL to restore into"
        )
    if restore == "cloud" and (scratch_dsn or source_dsn):
        raise DrgenError(
            "--restore cloud restores into a scratch cluster; drop the --*-dsn options"
        )
    sourced = load_workload(workload)
    options = Options(
        region=region,
        components=components,
        evidence=evidence,
        dry_run=dry_run,
        keep=keep,
        restore=restore,
        scratch_dsn=scratch_dsn,
        source_dsn=source_dsn,
        scratch_engine=ScratchEngine(
            scratch_url, scratch_key_env, scratch_search_url, scratch_role_arn, project
        )
        if scratch_url
        else None,
        timeout=timeout,
        live=live,
    )
    outcome = run_drill(sourced, resolve(sourced), workload, options)
    for line in outcome.lines:
        click.echo(line)
    if outcome.verdict == "fail":
        raise DrgenError("the drill failed; the report says which component and why")
