"""`drgen diff` output: replacements counted apart, values never cut inside an identifier, and a
Markdown comment that stays under GitHub's limit, summary first."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

from click.testing import Result

from drgen import diff_report
from drgen.diff import PropertyChange, ResourceChange, StackDiff, WorkloadDiff
from tests.conftest import MINIMAL, ROOT

BUCKET = "aws:s3/bucket:Bucket"
POLICY = "aws:iam/rolePolicy:RolePolicy"
GITHUB_COMMENT_LIMIT = 65536
"""GitHub refuses an issue or pull-request comment body longer than this (REST API error
"body is too long (maximum is 65536 characters)")."""


def arn(n: int) -> str:
    return f"arn:aws:s3:::a-long-enough-bucket-name-for-workload-number-{n:03d}-models-us-east-1/*"


def changed(name: str, *props: PropertyChange, replaces: tuple[str, ...] = ()) -> ResourceChange:
    return ResourceChange("changed", BUCKET, name, props, replaces, True)


def workload(name: str, resources: tuple[ResourceChange, ...]) -> WorkloadDiff:
    stack = StackDiff("us-east-1", "primary", "changed", resources)
    return WorkloadDiff(name, f"{name}@main", name, (), (stack,))


def test_replacements_are_counted_apart_from_changes() -> None:
    rename = PropertyChange("bucket", "a", "b")
    tag = PropertyChange("tags.team", "x", "y")
    diff = workload(
        "w",
        (
            ResourceChange("added", POLICY, "new-policy", (), (), False),
            changed("models", rename, replaces=("bucket",)),
            changed("audit", rename, replaces=("bucket",)),
            changed("prompts", tag),
        ),
    )

    text = diff_report.as_text([diff])
    markdown = diff_report.as_markdown([diff])

    for output in (text, markdown):
        assert "1 to add, 1 to change, 2 to replace, 0 to remove" in output
    assert "+- aws:s3/bucket:Bucket models" in text
    assert "| +- | `models` |" in markdown and "| ~ | `prompts` |" in markdown


def test_a_long_identifier_is_shown_whole() -> None:
    long_arn = arn(1) + "-and-some-more-to-pass-the-limit"
    diff = workload("w", (changed("p", PropertyChange("policy.Resource", arn(0), long_arn)),))

    text = diff_report.as_text([diff])

    assert long_arn in text and arn(0) in text


def test_a_long_list_is_shortened_between_whole_items() -> None:
    before = [arn(n) for n in range(10)]
    after = [*before, arn(10)]
    diff = workload("w", (changed("p", PropertyChange("policy.Resource", before, after)),))

    text = diff_report.as_text([diff])
    markdown = diff_report.as_markdown([diff])

    for output in (text, markdown):
        shown = re.findall(r"arn:aws:s3:::[^\"`]*", output)
        assert shown and set(shown) <= set(after)  # every ARN shown is a whole one
        assert "… 9 more]" in output and "… 10 more]" in output  # before, after
    # JSON is for machines and keeps every value whole.
    (payload,) = json.loads(diff_report.as_json([diff]))
    assert payload["stacks"][0]["resources"][0]["changes"][0]["after"] == after


def test_the_markdown_comment_stays_under_githubs_limit_summary_first() -> None:
    props = tuple(PropertyChange(f"tags.key{n}", arn(n), arn(n + 1)) for n in range(40))
    diffs = [
        workload(f"workload-{w:02d}", tuple(changed(f"bucket-{r}", *props) for r in range(3)))
        for w in range(10)
    ]
    full = diff_report.as_markdown(diffs)

    short = diff_report.as_markdown(diffs, max_chars=60000)

    assert len(full) > GITHUB_COMMENT_LIMIT
    assert len(short) <= 60000
    # Every workload's summary comes before any detail, and nothing is cut midway.
    summaries = [short.index(f"### drgen diff: `workload-{w:02d}`") for w in range(10)]
    assert max(summaries) < short.index("<details>")
    assert short.count("<details>") == short.count("</details>") > 0
    assert short in full or short.startswith(full[: short.index("> [!NOTE]")])
    note = short[short.index("> [!NOTE]") :]
    assert "`workload-09/us-east-1`" in note and "--max-chars" in note


def test_the_runbook_fail_back_points_at_live_drift_not_at_drgen_diff() -> None:
    for runbook in sorted((ROOT / "stacks").glob("*/RUNBOOK.md")):
        text = runbook.read_text()
        if "Fail back" not in text:
            continue
        fail_back = text[text.index("Fail back") :]
        assert "pulumi preview --refresh --diff --stack" in fail_back, runbook
        assert "`drgen diff` cannot show this" in fail_back, runbook


def test_the_cli_writes_the_whole_diff_beside_the_shortened_comment(
    run_cli: Callable[..., Result], workload_file: Callable[..., Path]
) -> None:
    path = str(workload_file(MINIMAL))

    result = run_cli(
        "diff", path, path, "--format", "markdown", "--max-chars", "1000", "--full-to", "full.md"
    )

    assert result.exit_code == 0
    assert Path("full.md").read_text() == run_cli("diff", path, path, "--format", "markdown").output
