"""The `drgen` command line: parse arguments, call the stages, print, map errors to exit codes."""

from __future__ import annotations

import datetime
import json
import os
from pathlib import Path

import click

from drgen import __version__
from drgen.drill.command import drill_command
from drgen.durations import format_duration
from drgen.errors import DiffError, DrgenError, WorkloadError
from drgen.loader import load_workload
from drgen.names import shared_names_warning
from drgen.plan import DeployStep, DrPlan, resolve
from drgen.render import render
from drgen.stack_config import drgen_owned, reconcile, team_owned
from drgen.tables import aligned
from drgen.write import project_drift, write_project

WORKLOAD_FILES = click.Path(exists=True, dir_okay=False, path_type=Path)
WORKLOAD_NAMES = ("workload.yaml", "workload.yml")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="drgen")
def main() -> None:
    """Disaster-recovery plans for AI workloads, rendered as Pulumi Python stacks.

    Declare the workload in workload.yaml (start with `drgen init`), check it with
    `drgen validate`, look at the resolved plan with `drgen plan`, and write the stacks
    with `drgen render`.
    """


@main.command()
@click.argument("workloads", nargs=-1, required=True, type=WORKLOAD_FILES)
def validate(workloads: tuple[Path, ...]) -> None:
    """Check workload files and print every problem found, with file:line:column.

    \b
    Examples:
      drgen validate workload.yaml
      drgen validate examples/*/workload.yaml
    """
    failed = 0
    for path in workloads:
        try:
            sourced = load_workload(path)
            plan = resolve(sourced)
        except WorkloadError as error:
            failed += 1
            click.echo(error.format_message(), err=True)
            continue
        _warn(plan)
        models = plan.component("models")
        if sourced.workload.bucket_suffix is None and models is not None:
            example = models.names[plan.primary.region]
            warning = shared_names_warning(plan.workload, plan.cloud, example)
            click.echo(f"warning: {plan.source}: {warning}", err=True)
        click.echo(f"{plan.source}: ok ({plan.cloud}, tier {plan.tier}, {plan.pattern})")
    if failed:
        raise DrgenError(f"{failed} of {len(workloads)} workload files have problems")


@main.command()
@click.argument("workload", type=WORKLOAD_FILES)
@click.option("--json", "as_json", is_flag=True, help="Print the plan as stable JSON.")
def plan(workload: Path, as_json: bool) -> None:
    """Show the resolved DR plan: pattern, stacks, components, objectives and names.

    \b
    Examples:
      drgen plan workload.yaml
      drgen plan workload.yaml --json | jq '.components[].block'
    """
    resolved = resolve(load_workload(workload))
    _warn(resolved)
    click.echo(resolved.to_json() if as_json else describe(resolved), nl=not as_json)


@main.command()
@click.option(
    "--markdown", is_flag=True, help="Print the README's table of inputs and defaults instead."
)
def schema(markdown: bool) -> None:
    """Print the JSON Schema of workload.yaml, for editors and CI.

    \b
    Examples:
      drgen schema > workload.schema.json
      # then, first line of workload.yaml:
      # yaml-language-server: $schema=workload.schema.json
      drgen schema --markdown   # the table of inputs in README.md
    """
    if markdown:
        from drgen.reference import inputs_table

        click.echo(inputs_table(), nl=False)
        return
    from drgen.schema import Workload

    click.echo(json.dumps(Workload.model_json_schema(), indent=2, sort_keys=True))


@main.command()
@click.option(
    "--tier",
    type=click.IntRange(0, 3),
    default=1,
    show_default=True,
    help="Business criticality: 0 mission-critical ... 3 exploratory.",
)
@click.option("--cloud", type=click.Choice(["aws", "gcp"]), default="aws", show_default=True)
@click.option("--name", default="my-workload", show_default=True, help="Workload name.")
@click.option(
    "--suffix",
    default=None,
    help="naming.suffix of the starter (1-8 of a-z, 0-9); default: six random characters,"
    " so that the global bucket names are yours alone.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("workload.yaml"),
    show_default=True,
    help="File to write.",
)
def init(tier: int, cloud: str, name: str, suffix: str | None, output: Path) -> None:
    """Write a commented starter workload.yaml.

    \b
    Examples:
      drgen init --tier 0 --cloud aws --name fraud-scoring
      drgen init --tier 2 --cloud gcp -o services/search/workload.yaml
    """
    from drgen.starter import random_suffix, starter_problems, starter_workload

    suffix = random_suffix() if suffix is None else suffix
    problems = starter_problems(tier=tier, cloud=cloud, name=name, suffix=suffix)
    if problems:
        hint = (
            "--suffix" if problems[0].startswith(f"{suffix!r} is not a name suffix") else "--name"
        )
        raise click.BadParameter("; ".join(problems), param_hint=hint)
    if output.exists() or output.is_symlink():
        raise DrgenError(f"{output} already exists; drgen init never overwrites a file")
    text = starter_workload(tier=tier, cloud=cloud, name=name, suffix=suffix)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        # "x": create, never replace, even if the file appeared since the check above.
        with output.open("x", encoding="utf-8") as stream:
            stream.write(text)
    except OSError as error:
        where = error.filename or output
        raise DrgenError(f"cannot write {where}: {error.strerror or error}") from None
    click.echo(f"wrote {output}; edit it, then run `drgen validate {output}`")


@main.command(name="render")
@click.argument("workloads", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder that receives one Pulumi project per workload, at DIR/<name>/.",
)
@click.option(
    "--check",
    is_flag=True,
    help="Write nothing; print a diff and exit 1 if DIR is not what the workloads render.",
)
def render_command(workloads: tuple[Path, ...], output: Path, check: bool) -> None:
    """Render each workload into a Pulumi Python project at DIR/<name>/.

    A folder stands for every workload.yaml below it (hidden folders and DIR skipped).
    Everything is rendered before anything is written; drgen replaces or removes only the
    files it wrote before (listed in DIR/<name>/.drgen-manifest). Each stack's
    Pulumi.<stack>.yaml is the team's: created when missing, never rewritten (a key drgen
    needs is added alone). With --check nothing is written: exit 0 when DIR is up to date,
    1 with a unified diff when it is not (for pre-commit hooks and CI).

    \b
    Examples:
      drgen render workload.yaml -o stacks/
      drgen render examples/*/workload.yaml -o stacks/
      drgen render --check examples/*/workload.yaml -o stacks/
      drgen render --check examples/ -o stacks/
    """
    plans = [resolve(load_workload(path)) for path in _workload_paths(workloads, output)]
    _refuse_duplicate_names(plans)
    rendered = [(plan, render(plan)) for plan in plans]
    if check:
        _check_rendered(rendered, output)
        return
    for plan, files in rendered:
        _warn(plan)
        project = output / plan.workload
        reconcile(plan, files, project, write=False)  # a bad stack file stops before any write
        report = write_project(drgen_owned(plan, files), project, released=team_owned(plan))
        for note in report.ignored:
            click.echo(f"warning: {project}: {note}", err=True)
        config = reconcile(plan, files, project, write=True)
        click.echo(
            f"{project}: {len(report.written)} written, {len(report.unchanged)} unchanged,"
            f" {len(report.removed)} removed"
            + "".join(f"; created {path}" for path in config.created)
            + "".join(f"; added {key} to {path}" for path, key in config.added)
        )
        for path in report.kept:
            click.echo(
                f"warning: {project / path} is no longer generated but was edited; kept", err=True
            )
        for warning in config.warnings:
            click.echo(f"warning: {warning}", err=True)


def _workload_paths(paths: tuple[Path, ...], output: Path) -> list[Path]:
    """The workload files named, with each folder replaced by the workload files below it."""
    found: list[Path] = []
    skip = output.resolve()
    for path in paths:
        if not path.is_dir():
            found.append(path)
            continue
        below = []
        for folder, subfolders, names in os.walk(path):
            subfolders[:] = sorted(
                name
                for name in subfolders
                if not name.startswith(".") and (Path(folder) / name).resolve() != skip
            )
            below += [Path(folder) / n for n in sorted(names) if n in WORKLOAD_NAMES]
        if not below:
            raise DrgenError(f"{path}: no workload.yaml in this folder or below it")
        found += below
    return found


def _check_rendered(rendered: list[tuple[DrPlan, dict[str, str]]], output: Path) -> None:
    stale = []
    for plan, files in rendered:
        project = output / plan.workload
        # The team's stack config is never drift; a file or key drgen would add is.
        drift = project_drift(drgen_owned(plan, files), project, released=team_owned(plan))
        config = reconcile(plan, files, project, write=False)
        for warning in config.warnings:
            click.echo(f"warning: {warning}", err=True)
        if drift or config.drift:
            click.echo("".join(drift + config.drift), nl=False)
            stale.append(str(project))
    if stale:
        raise DrgenError(
            f"out of date: {', '.join(stale)}; run `drgen render` without --check to update"
        )
    click.echo(f"{len(rendered)} project(s) in {output} are up to date")


@main.command(name="check")
@click.argument("workloads", nargs=-1, required=True, type=WORKLOAD_FILES)
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@click.option("--drills", is_flag=True, help="Also print the drill calendar for each workload.")
@click.option(
    "--evidence",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder of `drgen drill` reports: measured restores replace assumptions; stale drills"
    " are at-risk.",
)
@click.option(
    "--deprecation-window",
    default="90d",
    show_default=True,
    help="A vendor model retiring within this long is at-risk.",
)
@click.option(
    "--today",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Judge vendor dates as of this day (default: today), e.g. in reproducible reports.",
)
def check_command(
    workloads: tuple[Path, ...],
    as_json: bool,
    drills: bool,
    deprecation_window: str,
    today: datetime.datetime | None,
    evidence: Path | None,
) -> None:
    """Can each declared RTO/RPO be met by what drgen renders? Say so per component.

    Every row cites the mechanism and its published figure (patterns/figures.yaml); `~` marks
    an estimate that rests on a planning assumption a drill must confirm. Verdicts: met,
    at-risk (met only under an assumption you must confirm), unmet. Exit 1 when anything is
    unmet.

    \b
    Examples:
      drgen check examples/*/workload.yaml
      drgen check workload.yaml --drills
      drgen check workload.yaml --evidence drills/
      drgen check workload.yaml --json | jq '.[].findings[] | select(.verdict != "met")'
    """
    from drgen import check_report
    from drgen.check import check
    from drgen.durations import parse_duration

    try:
        window = datetime.timedelta(seconds=parse_duration(deprecation_window))
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--deprecation-window") from None
    day = today.date() if today else datetime.date.today()
    plans = [resolve(load_workload(path)) for path in workloads]
    records = None
    if evidence is not None:
        from drgen.drill.evidence import read_evidence

        records = read_evidence(evidence)
    reports = [check(plan, day, window, records) for plan in plans]
    if as_json:
        click.echo(check_report.as_json(reports, plans if drills else None), nl=False)
    else:
        click.echo(check_report.as_text(reports, plans if drills else None), nl=False)
    unmet = [r.workload for r in reports if r.verdict == "unmet"]
    if unmet:
        raise DrgenError(f"objectives not met: {', '.join(unmet)}")


main.add_command(drill_command)


@main.command(name="diff")
@click.argument("workloads", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--base", "base_rev", metavar="REV", help="Compare with the workloads at git REV.")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "markdown", "json"]),
    default="text",
    show_default=True,
    help="markdown is ready to post as a pull-request comment.",
)
@click.option("--exit-code", is_flag=True, help="Exit 1 when anything changes (like git diff).")
@click.option(
    "--max-chars",
    type=click.IntRange(min=1000),
    help="markdown: leave out whole sections past this length, saying which (GitHub refuses"
    " comments over 65536 characters).",
)
@click.option(
    "--full-to",
    type=click.Path(dir_okay=False, path_type=Path),
    help="markdown: also write the whole diff, nothing left out, to this file.",
)
def diff_command(
    workloads: tuple[Path, ...],
    base_rev: str | None,
    output_format: str,
    exit_code: bool,
    max_chars: int | None,
    full_to: Path | None,
) -> None:
    """Show what a workload change does to each region's resources, without a cloud.

    Either two workload files (BASE HEAD), or with --base REV one or more workload files
    compared with themselves at a git revision. Both sides are rendered and every stack runs
    under the Pulumi mock runtime, so the diff lists what the programs really declare:
    resources added, removed and changed (property by property), and a loud warning for every
    bucket, database, vault or key that would be replaced or removed.

    \b
    Exit codes: 0 no changes (or --exit-code not given), 1 changes found (with --exit-code),
    2 an error.
    \b
    Examples:
      drgen diff old/workload.yaml workload.yaml
      drgen diff --base origin/main examples/*/workload.yaml --format markdown
      drgen diff --base origin/main workloads/*/workload.yaml --format markdown \\
        --max-chars 60000 --full-to diff-full.md > comment.md
    """
    import tempfile

    _require_sdks()
    from drgen import diff_report
    from drgen.diff import diff_workloads
    from drgen.sources import side_from_file, side_from_git

    try:
        with tempfile.TemporaryDirectory(prefix="drgen-base-") as scratch:
            if base_rev is None:
                if len(workloads) != 2:
                    raise click.UsageError("give BASE and HEAD workload files, or --base REV")
                pairs = [(side_from_file(workloads[0]), side_from_file(workloads[1]))]
            else:
                pairs = [
                    (side_from_git(base_rev, path, Path(scratch) / str(n)), side_from_file(path))
                    for n, path in enumerate(workloads)
                ]
            diffs = diff_workloads(pairs)
    except DrgenError as error:
        raise DiffError(error.format_message()) from None
    if output_format == "markdown":
        if full_to is not None:
            try:
                full_to.write_text(diff_report.as_markdown(diffs), encoding="utf-8")
            except OSError as error:
                raise DiffError(f"cannot write {full_to}: {error}") from None
        click.echo(diff_report.as_markdown(diffs, max_chars), nl=False)
    else:
        render_diff = {"text": diff_report.as_text, "json": diff_report.as_json}[output_format]
        click.echo(render_diff(diffs), nl=False)
    if exit_code and any(d.has_changes for d in diffs):
        raise SystemExit(1)


SDKS = ("pulumi", "pulumi_aws", "pulumi_gcp")
"""What `drgen diff` runs the generated programs with: the `diff` extra, not the core install."""


def _require_sdks() -> None:
    import importlib.util

    missing = [name for name in SDKS if importlib.util.find_spec(name) is None]
    if missing:
        raise DiffError(
            f"drgen diff runs the stacks under the Pulumi mock runtime and needs"
            f" {', '.join(name.replace('_', '-') for name in missing)}: pip install 'drgen[diff]'"
        )


@main.group()
def vendors() -> None:
    """External AI vendors the workloads call."""


@vendors.command(name="status")
@click.argument("workload", type=WORKLOAD_FILES)
@click.option(
    "--timeout", default="10s", show_default=True, help="How long to wait for each status page."
)
def vendors_status(workload: Path, timeout: str) -> None:
    """Read each vendor's status page now: one line per vendor and model.

    Reads the Statuspage-compatible /api/v2/summary.json of each vendor's status_page
    (defaults for openai and anthropic). A page that cannot be read or understood is
    `unknown`, never an outage.

    \b
    Exit codes: 0 no outage, 1 an outage, 2 a page could not be read (and no outage).
    \b
    Examples:
      drgen vendors status workload.yaml
    """
    from drgen.durations import parse_duration
    from drgen.vendors.report import StatusUnknownError, as_text, vendor_statuses

    try:
        seconds = parse_duration(timeout)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--timeout") from None
    if not 1 <= seconds <= 120:
        raise click.BadParameter("use 1s to 2m", param_hint="--timeout")
    resolved = resolve(load_workload(workload))
    if not resolved.vendors:
        click.echo(f"{resolved.source}: no vendors declared")
        return
    statuses = vendor_statuses(resolved, float(seconds))
    click.echo(as_text(resolved, statuses), nl=False)
    down = [s.label for s in statuses if s.reading and s.reading.state == "outage"]
    if down:
        raise DrgenError(f"outage: {', '.join(down)}")
    unread = [s.label for s in statuses if s.reading and s.reading.state == "unknown"]
    if unread:
        raise StatusUnknownError(f"status unknown: {', '.join(unread)}; see the lines above")


def describe(plan: DrPlan) -> str:
    """The plan as a readable text table."""
    objectives = plan.objectives
    rto = format_duration(objectives.rto_seconds) if objectives.rto_seconds is not None else "none"
    lines = [
        f"{plan.workload}  ({plan.source})",
        f"  cloud {plan.cloud} | tier {plan.tier} | pattern {plan.pattern} ({plan.pattern_source})",
        f"  objectives: RTO {rto} ({objectives.rto_source}),"
        f" RPO {format_duration(objectives.rpo_seconds)} ({objectives.rpo_source})",
        "  stacks (in deploy order): "
        + ", ".join(
            f"{s.name} [{s.role}]" for s in sorted(plan.stacks, key=lambda s: s.deploy_order)
        ),
        "",
    ]
    rows = [("component", "block", "replication", "names")]
    for component in plan.components:
        spans_regions = component.replication in ("dual-region", "multi-region")
        names = component.global_name if spans_regions else ", ".join(component.names.values())
        rows.append((component.label, component.block, component.replication, names))
    if plan.routing:
        targets = ", ".join(f"{r}={h}" for r, h in plan.routing.targets.items())
        rows.append(
            (
                "routing",
                plan.routing.block,
                plan.routing.policy,
                f"{plan.routing.domain} -> {targets}",
            )
        )
    lines.extend("  " + line for line in aligned(rows))
    for stack in sorted(plan.stacks, key=lambda s: s.deploy_order):
        if stack.inputs:
            keys = ", ".join(dict.fromkeys(i.key for i in stack.inputs))
            lines.append(f"  stack {stack.name} needs config: {keys}")
    if plan.deploy.first != plan.deploy.update:
        lines.append(f"  first deployment: {_sequence(plan.deploy.first)}")
        lines.append(f"  later deployments: {_sequence(plan.deploy.update)}")
    return "\n".join(lines)


def _sequence(steps: tuple[DeployStep, ...]) -> str:
    def one(step: DeployStep) -> str:
        config = " ".join(f"{key}={value}" for key, value in step.config.items())
        return f"up {step.stack}" + (f" ({config})" if config else "")

    return ", then ".join(one(step) for step in steps)


def _warn(plan: DrPlan) -> None:
    for warning in plan.warnings:
        click.echo(f"warning: {plan.source}: {warning}", err=True)


def _refuse_duplicate_names(plans: list[DrPlan]) -> None:
    seen: dict[str, str] = {}
    for plan in plans:
        if plan.workload in seen:
            raise DrgenError(
                f"{plan.source}: workload name {plan.workload!r} is also used by"
                f" {seen[plan.workload]}; each renders to DIR/<name>/, so names must differ"
            )
        seen[plan.workload] = plan.source
