"""Vendor entries say how each model is reached; bad entries get located messages."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from drgen.cli import main
from drgen.loader import load_workload
from drgen.plan import resolve

HEAD = (
    "name: chat-desk\ntier: 2\ncloud: gcp\nregions: {primary: us-central1, secondary: us-east1}\n"
    "vendors:\n"
)


def _validate(tmp_path: Path, vendors: str, extra: str = "") -> str:
    path = tmp_path / "workload.yaml"
    path.write_text(HEAD + vendors + extra, encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", str(path)])
    return result.output


def test_short_entries_get_the_well_known_defaults(tmp_path: Path) -> None:
    path = tmp_path / "workload.yaml"
    path.write_text(
        HEAD + "  - {name: openai, model: gpt-4o, role: primary}\n"
        "  - {name: google, model: gemini-2.5-flash, role: alternate}\n"
        "  - {name: g, provider: vertex_ai, model: gemini-2.5-pro, role: alternate}\n",
        encoding="utf-8",
    )
    openai, google, vertex = resolve(load_workload(path)).vendors
    assert (openai.provider, openai.credential_env, openai.status_page) == (
        "openai",
        "OPENAI_API_KEY",
        "https://status.openai.com",
    )
    assert (google.provider, google.credential_env, google.status_page) == (
        "gemini",
        "GEMINI_API_KEY",
        None,
    )
    # Vertex AI is called with the gateway's service account: no key to name.
    assert (vertex.provider, vertex.credential_env) == ("vertex_ai", None)


@pytest.mark.parametrize(
    ("vendor", "where", "message"),
    [
        ("{name: acme, model: m, role: primary}", "vendors[0].name", "add `provider:`"),
        (
            "{name: openai, model: m, role: primary, credential: {env: sk-proj-abc}}",
            "vendors[0].credential.env",
            "looks like an API key",
        ),
        (
            "{name: openai, model: m, role: primary, credential: {env: key}}",
            "vendors[0].credential.env",
            "environment variable name",
        ),
        (
            "{name: openai, model: m, role: primary, credential: {env: K, secret: a/b}}",
            "vendors[0].credential.secret",
            "Secret Manager secret id",
        ),
        (
            "{name: b, provider: bedrock, model: m, role: primary}",
            "vendors[0].region",
            "name the region",
        ),
        (
            "{name: v, provider: vertex_ai, model: m, role: primary, region: mars-1}",
            "vendors[0].region",
            "not a region of GCP",
        ),
        (
            "{name: a, provider: azure, model: m, role: primary}",
            "vendors[0].endpoint",
            "resource's endpoint",
        ),
        (
            "{name: openai, model: m, role: primary, status_page: 'http://status.openai.com'}",
            "vendors[0].status_page",
            "",
        ),
        ("{name: openai, model: m, role: alternate}", "vendors", "exactly one"),
        (
            "{name: openai, model: m, role: primary}\n  - {name: openai, model: n, role: degraded}",
            "vendors[1].role",
            "degraded_mode: smaller-model",
        ),
    ],
)
def test_bad_vendor_entries_are_located(
    tmp_path: Path, vendor: str, where: str, message: str
) -> None:
    output = _validate(tmp_path, f"  - {vendor}\n")
    assert f": {where}: " in output and message in output, output
    assert "sk-proj-abc" not in output
    assert "Traceback" not in output


def test_every_example_still_validates() -> None:
    examples = sorted((Path(__file__).resolve().parent.parent / "examples").glob("*/workload.yaml"))
    result = CliRunner().invoke(main, ["validate", *map(str, examples)])
    assert result.exit_code == 0, result.output


def test_check_shows_the_failover_chain_in_gateway_order(tmp_path: Path) -> None:
    path = tmp_path / "workload.yaml"
    path.write_text(
        HEAD + "  - {name: openai, model: gpt-4o, role: primary}\n"
        "  - {name: g, provider: vertex_ai, model: gemini-2.5-pro, role: alternate}\n"
        "  - {name: google, model: gemini-2.5-flash, role: degraded}\n"
        "degraded_mode: smaller-model\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["check", str(path), "--today", "2026-01-01"])
    assert (
        "outage fallback (gateway/litellm-<region>.yaml): alternate g/gemini-2.5-pro,"
        " then degraded model google/gemini-2.5-flash" in result.output
    ), result.output
    assert "no status page: `drgen vendors status` cannot confirm" in result.output
