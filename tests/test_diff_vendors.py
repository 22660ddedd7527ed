"""`drgen diff` shows the vendor failover chain per region when it changes: no resource does."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from drgen import diff_report
from drgen.diff import Side, chain_changes, compare
from drgen.loader import load_workload
from drgen.plan import DrPlan, resolve

Cli = Callable[..., Result]
OPENAI = "{name: openai, model: gpt-4o, role: primary}"
ANTHROPIC = "{name: anthropic, model: claude-sonnet, role: alternate}"
GEMINI = "{name: google, model: gemini-2.5-flash, role: alternate}"
NOVA = "{name: aws, provider: bedrock, model: amazon.nova-micro-v1:0, role: degraded}"


def _workload(folder: Path, *vendors: str, degraded: str | None = None, rto: str = "4h") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "workload.yaml"
    path.write_text(
        "name: chat-desk\ntier: 1\ncloud: aws\n"
        "regions: {primary: us-east-1, secondary: us-west-2}\n"
        f"objectives: {{rto: {rto}}}\n"
        "endpoint: {domain: chat.example.com, zone: example.com,"
        " targets: {us-east-1: a.example.com, us-west-2: b.example.com}}\n"
        + ("vendors:\n" + "".join(f"  - {v}\n" for v in vendors) if vendors else "")
        + (f"degraded_mode: {degraded}\n" if degraded else ""),
        encoding="utf-8",
    )
    return path


def _plan(tmp_path: Path, name: str, *vendors: str, **kwargs: str) -> DrPlan:
    return resolve(load_workload(_workload(tmp_path / name, *vendors, **kwargs)))


def test_a_removed_fallback_is_named_per_region(tmp_path: Path) -> None:
    base = _plan(tmp_path, "base", OPENAI, ANTHROPIC, GEMINI, degraded="human")
    head = _plan(tmp_path, "head", OPENAI, GEMINI, degraded="human")
    changes = chain_changes(base, head)
    assert [c.stack for c in changes] == ["us-east-1", "us-west-2"]
    east = changes[0]
    assert east.before == (
        "openai/gpt-4o",
        "anthropic/claude-sonnet",
        "gemini/gemini-2.5-flash",
        "degraded mode human",
    )
    assert east.after == ("openai/gpt-4o", "gemini/gemini-2.5-flash", "degraded mode human")
    assert east.notes == ("fallback removed: anthropic/claude-sonnet",)
    assert east.removed == ("anthropic/claude-sonnet",)


def test_dropping_the_degraded_mode_is_a_removed_fallback(tmp_path: Path) -> None:
    base = _plan(tmp_path, "base", OPENAI, ANTHROPIC, degraded="human")
    (east, _) = chain_changes(base, _plan(tmp_path, "head", OPENAI, ANTHROPIC))
    assert east.notes == ("fallback removed: degraded mode human",)
    assert east.removed == ("degraded mode human",)


@pytest.mark.parametrize(
    ("base", "head", "notes"),
    [
        (
            {"vendors": (OPENAI, ANTHROPIC)},
            {"vendors": (OPENAI, ANTHROPIC, GEMINI)},
            ["fallback added: gemini/gemini-2.5-flash"],
        ),
        (
            {"vendors": (OPENAI, ANTHROPIC, GEMINI)},
            {"vendors": (OPENAI, GEMINI, ANTHROPIC)},
            ["fallbacks reordered: gemini/gemini-2.5-flash -> anthropic/claude-sonnet"],
        ),
        (
            {"vendors": (OPENAI, ANTHROPIC), "degraded": "human"},
            {"vendors": (OPENAI, ANTHROPIC), "degraded": "rules"},
            ["degraded: degraded mode human -> degraded mode rules"],
        ),
        (
            {"vendors": (OPENAI, ANTHROPIC), "degraded": "rules"},
            {"vendors": (OPENAI, ANTHROPIC, NOVA), "degraded": "smaller-model"},
            # A cloud-served model is called in each stack's own region.
            [
                "degraded: degraded mode rules -> degraded model"
                " bedrock/amazon.nova-micro-v1:0 (us-east-1)"
            ],
        ),
        (
            {"vendors": (OPENAI, ANTHROPIC), "rto": "4h"},
            {"vendors": (OPENAI, ANTHROPIC), "rto": "1h"},
            [
                "allowed_fails: 2 -> 1",
                "cooldown_time: 240 -> 60",
                "health_check_interval: 900 -> 300",
            ],
        ),
        (
            {"vendors": (OPENAI, ANTHROPIC), "rto": "4h"},
            {"vendors": (OPENAI, ANTHROPIC), "rto": "1d"},
            [
                "num_retries: 1 -> 2",
                "allowed_fails: 2 -> 3",
                "cooldown_time: 240 -> 300",
                "health_check_interval: 900 -> off",
            ],
        ),
        (
            {"vendors": (OPENAI, ANTHROPIC)},
            {"vendors": (ANTHROPIC.replace("alternate", "primary"), GEMINI)},
            [
                "primary: openai/gpt-4o -> anthropic/claude-sonnet",
                "fallback added: gemini/gemini-2.5-flash",
            ],
        ),
        (
            {"vendors": (OPENAI, ANTHROPIC)},
            {
                "vendors": (
                    ANTHROPIC.replace("alternate", "primary"),
                    OPENAI.replace("primary", "alternate"),
                )
            },
            [
                "primary: openai/gpt-4o -> anthropic/claude-sonnet",
                "fallback added: openai/gpt-4o",
            ],
        ),
        ({"vendors": ()}, {"vendors": (OPENAI,)}, ["gateway added: openai/gpt-4o"]),
        ({"vendors": (OPENAI,)}, {"vendors": ()}, ["gateway removed: no vendor failover"]),
    ],
)
def test_each_kind_of_chain_change_is_said_in_words(
    tmp_path: Path, base: dict[str, object], head: dict[str, object], notes: list[str]
) -> None:
    def plan(name: str, spec: dict[str, object]) -> DrPlan:
        vendors = spec["vendors"]
        assert isinstance(vendors, tuple)
        extra = {k: str(v) for k, v in spec.items() if k != "vendors"}
        return _plan(tmp_path, name, *vendors, **extra)

    changes = chain_changes(plan("base", base), plan("head", head))
    assert list(changes[0].notes) == notes


def test_an_unchanged_chain_and_a_new_workload(tmp_path: Path) -> None:
    same = _plan(tmp_path, "a", OPENAI, ANTHROPIC)
    assert chain_changes(same, _plan(tmp_path, "b", OPENAI, ANTHROPIC)) == ()
    (new,) = chain_changes(None, same)[:1]
    assert new.before == () and new.notes[0].startswith("gateway added: openai/gpt-4o -> ")


def test_the_reports_show_the_chain_and_a_removed_fallback_loudly(tmp_path: Path) -> None:
    base = _plan(tmp_path, "base", OPENAI, ANTHROPIC, degraded="rules")
    head = _plan(tmp_path, "head", OPENAI, degraded="rules")
    # Resources unchanged: the chain alone makes the diff non-empty.
    diff = compare(Side("main", base), Side("pr", head), {}, {})
    assert diff.has_changes and not diff.plan

    markdown = diff_report.as_markdown([diff])
    assert (
        "> **FALLBACK REMOVED**: `anthropic/claude-sonnet` no longer backs `openai/gpt-4o` in"
        " stack `us-east-1`: an outage of the primary now falls back to degraded mode rules."
    ) in markdown
    assert (
        "| `us-west-2` | openai/gpt-4o → anthropic/claude-sonnet → degraded mode rules"
        " | openai/gpt-4o → degraded mode rules | **fallback removed: anthropic/claude-sonnet** |"
    ) in markdown

    text = diff_report.as_text([diff])
    assert "    before: openai/gpt-4o -> anthropic/claude-sonnet -> degraded mode rules" in text
    assert "    !! FALLBACK REMOVED: ANTHROPIC/CLAUDE-SONNET" in text

    (payload,) = json.loads(diff_report.as_json([diff]))
    assert payload["fallbacks_removed"] == [
        {"stack": "us-east-1", "fallback": "anthropic/claude-sonnet"},
        {"stack": "us-west-2", "fallback": "anthropic/claude-sonnet"},
    ]
    assert payload["vendors"][0]["after"] == ["openai/gpt-4o", "degraded mode rules"]


def test_drgen_diff_reports_a_chain_only_change(tmp_path: Path, run_cli: Cli) -> None:
    base = _workload(tmp_path / "base", OPENAI, ANTHROPIC, GEMINI, degraded="human")
    head = _workload(tmp_path / "head", OPENAI, GEMINI, ANTHROPIC, degraded="human")
    result = run_cli("diff", str(base), str(head), "--format", "markdown", "--exit-code")
    assert result.exit_code == 1, result.output + result.stderr
    assert "fallbacks reordered: gemini/gemini-2.5-flash -> anthropic/claude-sonnet" in (
        result.output
    )
