"""`drgen drill --component vendors`: the rendered gateway config failed over in LiteLLM's Router.

Offline, every example with vendors runs through the real `litellm.Router` with forced failures.
`--live` runs against a local OpenAI-compatible stand-in (pytest-httpserver) named as the
alternate's endpoint: the internet is never reached.
"""

from __future__ import annotations

import datetime
import hashlib
import importlib.util
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from drgen.check import check
from drgen.cli import main
from drgen.drill.base import Context, Result
from drgen.drill.evidence import DrillRecord, as_markdown, read_evidence, report_payload
from drgen.loader import load_workload
from drgen.plan import resolve
from drgen.render import render
from drgen.vendors import drill as vendor_drill
from tests.conftest import ROOT
from tests.drill_servers import aws_fixture, moto_endpoint_fixture  # noqa: F401 (fixtures)

# The price list bundled with LiteLLM, set before its first import: no download, ever.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
pytest.importorskip("litellm")
httpserver_module = pytest.importorskip("pytest_httpserver")
HTTPServer = httpserver_module.HTTPServer

# LiteLLM's own pydantic models warn about themselves on import (as in test_vendors_gateway).
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:pydantic._internal._generate_schema")

WITH_VENDORS = sorted(
    p
    for p in (ROOT / "examples").glob("*/workload.yaml")
    if "vendors:" in p.read_text(encoding="utf-8")
)
KEY = "standin-key-0f9e8d7c6b5a"
"""The stand-in alternate's API key: it must reach the server and never the report."""


def _context(path: Path, region: str | None = None) -> Context:
    sourced = load_workload(path)
    plan = resolve(sourced)
    return Context(
        plan=plan,
        workload=sourced.workload,
        workload_dir=path.parent,
        region=region or (plan.secondary or plan.primary).region,
        run_id="20261129t120000z0000",
        deadline=time.monotonic() + 600,
    )


def _drill(ctx: Context, live: bool = False) -> Result:
    result = Result(component="vendors", engine=None, region=ctx.region)
    vendor_drill.run(ctx, result, live)
    return result


@pytest.mark.parametrize("workload", WITH_VENDORS, ids=lambda p: p.parent.name)
def test_every_example_fails_over_down_its_chain(workload: Path, tmp_path: Path) -> None:
    ctx = _context(workload)
    result = _drill(ctx)
    assert result.outcome == "pass", result.failures
    steps = result.measurements["steps"]
    chain = [group.split()[0] for group in result.integrity["chain"]]
    # One step per group failing: the next group answers; with every group down, an error.
    assert [s["answered_by"] for s in steps] == [*chain[1:], None]
    assert all(s["ok"] for s in steps)
    assert "forced" in steps[-1]["error"]
    # The config drilled is byte for byte the one `drgen render` writes for the region.
    stack = next(s for s in ctx.plan.stacks if s.region == ctx.region)
    written = render(ctx.plan)[f"gateway/litellm-{stack.name}.yaml"].encode()
    assert result.integrity["gateway_config"]["sha256"] == hashlib.sha256(written).hexdigest()
    # Time to an answer while the primary is down, when there is anything to fail over to.
    assert result.restore_seconds == (steps[0]["seconds"] if len(steps) > 1 else None)


def _workload(tmp_path: Path, *vendors: str, extra: str = "") -> Path:
    path = tmp_path / "workload.yaml"
    path.write_text(
        "name: chat-desk\ntier: 1\ncloud: aws\n"
        "regions: {primary: us-east-1, secondary: us-west-2}\n"
        "endpoint: {domain: chat.example.com, zone: example.com,"
        " targets: {us-east-1: a.example.com, us-west-2: b.example.com}}\n"
        "vendors:\n" + "".join(f"  - {v}\n" for v in vendors) + extra,
        encoding="utf-8",
    )
    return path


def test_the_degraded_model_answers_last_then_requests_fail(tmp_path: Path) -> None:
    path = _workload(
        tmp_path,
        "{name: openai, model: gpt-4o, role: primary}",
        "{name: anthropic, model: claude-sonnet, role: alternate}",
        "{name: aws, provider: bedrock, model: amazon.nova-pro-v1:0, role: alternate}",
        "{name: aws, provider: bedrock, model: amazon.nova-micro-v1:0, role: degraded}",
        extra="degraded_mode: smaller-model\n",
    )
    result = _drill(_context(path))
    assert result.outcome == "pass", result.failures
    assert [s["answered_by"] for s in result.measurements["steps"]] == [
        "chat-desk-alternate-1",
        "chat-desk-alternate-2",
        "chat-desk-degraded",
        None,
    ]
    assert result.measurements["degraded_mode"].startswith("smaller-model: chat-desk-degraded")


def test_a_chain_that_does_not_fall_back_fails_the_drill(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _workload(
        tmp_path,
        "{name: openai, model: gpt-4o, role: primary}",
        "{name: anthropic, model: claude-sonnet, role: alternate}",
    )
    rendered = vendor_drill.gateway_config

    def without_fallbacks(plan: Any, region: str) -> vendor_drill.GatewayConfig:
        # A hand-edited gateway whose fallbacks name a group that does not exist.
        config = rendered(plan, region)
        settings = {**config.router_settings, "fallbacks": [{"chat-desk": ["chat-desk-alt"]}]}
        return vendor_drill.GatewayConfig(config.file, config.sha256, config.model_list, settings)

    monkeypatch.setattr(vendor_drill, "gateway_config", without_fallbacks)
    result = _drill(_context(path))
    assert result.outcome == "fail"
    assert (
        result.failures[0] == "the fallbacks name chat-desk-alt, which no model_list entry defines"
    )
    assert "expected chat-desk-alt to answer, the request failed" in result.failures[1]


# --live against a local stand-in of an OpenAI-compatible API


def _completion(content: str) -> dict[str, Any]:
    """A chat completion as the API documents it
    (https://platform.openai.com/docs/api-reference/chat/object)."""
    return {
        "id": "chatcmpl-drill",
        "object": "chat.completion",
        "created": 1764417600,
        "model": "standin-small",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21},
    }


PROMPTS = (
    '{"id": "refund", "prompt": "Can I get a refund after 40 days?",'
    ' "reference": "No: 30 days, then store credit"}\n'
    "\n"
    '{"id": "tone", "messages": [{"role": "system", "content": "Answer briefly."},'
    ' {"role": "user", "content": "Say hello."}], "max_tokens": 20}\n'
)


def _live_workload(tmp_path: Path, server: HTTPServer, prompts: str = PROMPTS) -> Path:
    (tmp_path / "evals").mkdir(exist_ok=True)
    (tmp_path / "evals" / "vendor-prompts.jsonl").write_text(prompts, encoding="utf-8")
    base = server.url_for("/v1").rstrip("/")
    return _workload(
        tmp_path,
        "{name: openai, model: gpt-4o, role: primary}",
        f"{{name: standin, provider: openai, model: standin-small, role: alternate,"
        f" endpoint: '{base}', credential: {{env: STANDIN_API_KEY}}}}",
        extra="degraded_mode: human\nvendor_eval: evals/vendor-prompts.jsonl\n",
    )


def test_live_prompts_are_answered_by_the_alternate_and_await_review(
    tmp_path: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STANDIN_API_KEY", KEY)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    httpserver.expect_request(
        "/v1/chat/completions", method="POST", headers={"Authorization": f"Bearer {KEY}"}
    ).respond_with_json(_completion(f"Refunds end at 30 days (echo {KEY})."))
    path = _live_workload(tmp_path, httpserver)
    evidence = tmp_path / "drills"
    result = CliRunner().invoke(
        main,
        ["drill", str(path), "--component", "vendors", "--live", "--evidence", str(evidence)],
        env={"AWS_EC2_METADATA_DISABLED": "true", "AWS_ACCESS_KEY_ID": None},
    )
    assert "Traceback" not in result.output
    # The evidence upload has no cloud to go to here; the drill itself passed.
    [report_file] = [p for p in evidence.glob("*.json") if "receipt" not in p.name]
    text = report_file.read_text()
    assert KEY not in text, "the API key leaked into the report"
    report = json.loads(text)
    vendors = report["components"][0]
    assert vendors["outcome"] == "pass", vendors["failures"]
    assert vendors["measurements"]["live"]["alternates"] == [
        {"group": "chat-desk-alternate-1", "answered": 2, "of": 2}
    ]
    answers = {entry["prompt"]: entry for entry in vendors["review"]}
    assert answers["refund"]["answer"] == "Refunds end at 30 days (echo [redacted])."
    assert answers["refund"]["reference"] == "No: 30 days, then store credit"
    assert answers["tone"]["asked"] == "Say hello."
    assert all(e["verdict"] == "needs review" and e["seconds"] > 0 for e in answers.values())
    assert all(0 < e["alternate_seconds"] <= e["seconds"] for e in answers.values())
    sent = [json.loads(request.get_data()) for request, _ in httpserver.log]
    assert len(sent) == 2
    assert sent[1]["messages"][0] == {"role": "system", "content": "Answer briefly."}
    assert sent[1]["max_tokens"] == 20 and sent[0]["model"] == "standin-small"
    assert "litellm Router.completion chat-desk-alternate-1" in " ".join(report["calls"])
    markdown = next(evidence.glob("*.md")).read_text()
    assert "Live answers: **needs review** (2 below" in markdown
    assert "> Refunds end at 30 days (echo [redacted])." in markdown
    assert "- Asked: Can I get a refund after 40 days?" in markdown
    [record] = read_evidence(evidence)
    assert record.component == "vendors" and record.review == 2


def test_an_alternate_that_errors_fails_the_live_drill(
    tmp_path: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STANDIN_API_KEY", KEY)
    httpserver.expect_request("/v1/chat/completions").respond_with_json(
        {"error": {"message": f"Incorrect API key provided: {KEY}", "type": "invalid_request"}},
        status=401,
    )
    ctx = _context(_live_workload(tmp_path, httpserver))
    result = _drill(ctx, live=True)
    assert result.outcome == "fail"
    assert "answered 0 of 2 prompts" in result.failures[-1]
    errors = [entry["error"] for entry in result.review]
    assert all(e and "AuthenticationError" in e and KEY not in e for e in errors), errors


def test_a_missing_key_sends_nothing(
    tmp_path: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("STANDIN_API_KEY", raising=False)
    result = _drill(_context(_live_workload(tmp_path, httpserver)), live=True)
    assert result.outcome == "error"
    assert "STANDIN_API_KEY is not set" in result.failures[-1]
    assert len(httpserver.log) == 0


@pytest.mark.parametrize(
    ("prompts", "message"),
    [
        ('{"id": "a", "prompt": "hi"}\n{"id": "b"}\n', "evals/vendor-prompts.jsonl:2: give either"),
        ('{"prompt": "hi", "temperature": 2}\n', ":1: unknown key(s): temperature"),
        ("not json\n", "evals/vendor-prompts.jsonl:1: Expecting value"),
        ('{"prompt": "hi", "max_tokens": 0}\n', ":1: max_tokens: expected a whole number"),
        ('{"messages": [{"role": "tool", "content": "x"}]}\n', ":1: role: 'tool' is not one"),
        ("\n", "evals/vendor-prompts.jsonl: no prompts"),
        ('{"prompt": "hi"}\n' * 51, "51 prompts; at most 50"),
    ],
)
def test_a_bad_prompt_file_is_a_located_message_before_anything_is_sent(
    tmp_path: Path, httpserver: HTTPServer, prompts: str, message: str
) -> None:
    path = _live_workload(tmp_path, httpserver, prompts)
    result = CliRunner().invoke(
        main, ["drill", str(path), "--component", "vendors", "--live", "--evidence", "e"]
    )
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert message in result.output
    assert not (tmp_path / "e").exists() and len(httpserver.log) == 0


def test_a_linked_prompt_file_is_refused(tmp_path: Path, httpserver: HTTPServer) -> None:
    path = _live_workload(tmp_path, httpserver)
    outside = tmp_path.parent / f"{tmp_path.name}-secret.jsonl"
    outside.write_text('{"prompt": "hi"}\n', encoding="utf-8")
    (tmp_path / "evals" / "vendor-prompts.jsonl").unlink()
    (tmp_path / "evals" / "vendor-prompts.jsonl").symlink_to(outside)
    result = CliRunner().invoke(main, ["drill", str(path), "--component", "vendors", "--live"])
    assert result.exit_code == 1
    assert "vendor-prompts.jsonl is a symbolic link" in result.output


def test_live_without_a_prompt_set_is_a_message(tmp_path: Path) -> None:
    path = _workload(
        tmp_path,
        "{name: openai, model: gpt-4o, role: primary}",
        "{name: anthropic, model: claude-sonnet, role: alternate}",
    )
    result = CliRunner().invoke(main, ["drill", str(path), "--component", "vendors", "--live"])
    assert result.exit_code == 1
    assert "--live needs `vendor_eval:` in the workload" in result.output


def test_without_litellm_the_message_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "litellm" else found(name, *a)
    )
    path = _workload(tmp_path, "{name: openai, model: gpt-4o, role: primary}")
    result = CliRunner().invoke(main, ["drill", str(path), "--component", "vendors"])
    assert result.exit_code == 1
    assert "pip install 'drgen[vendors]'" in result.output
    assert not (tmp_path / "drills").exists()
    # In a run of every component the data drills stand; the failover shows as not drilled.
    ctx = _context(path)
    monkeypatch.chdir(tmp_path)
    from drgen.drill.runner import _run_vendors

    skipped = _run_vendors(ctx, live=False)
    assert skipped.outcome == "skipped" and "drgen[vendors]" in skipped.failures[0]


def test_dry_run_lists_the_router_steps_and_the_billed_requests(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    path = _live_workload(tmp_path, httpserver)
    result = CliRunner().invoke(
        main, ["drill", str(path), "--component", "vendors", "--live", "--dry-run"]
    )
    assert result.exit_code == 0, result.output
    lines = [line.strip() for line in result.output.splitlines()]
    assert "litellm Router.completion chat-desk with chat-desk failing [mock]" in lines
    billed = [line for line in lines if line.endswith("[prompt]")]
    assert len(billed) == 2 and "(refund)" in billed[0] and "/v1" in billed[0]
    assert len(httpserver.log) == 0


# drgen check --evidence


def _record(outcome: str, finished: datetime.date, review: int = 0) -> DrillRecord:
    return DrillRecord(
        workload="fraud-scoring",
        component="vendors",
        run_id="r1",
        finished=finished,
        outcome=outcome,
        restore_seconds=2.0,
        throughput_mb_s=None,
        data_age_seconds=None,
        file="drills/fraud-scoring-r1.json",
        review=review,
    )


@pytest.mark.parametrize(
    ("records", "verdict", "note"),
    [
        ([], "at-risk", "failover never drilled"),
        ([_record("pass", datetime.date(2026, 11, 1), 4)], "met", "4 live answers await review"),
        ([_record("pass", datetime.date(2026, 7, 1))], "at-risk", "older than the quarterly"),
        ([_record("fail", datetime.date(2026, 11, 1))], "unmet", "failover drill (r1) failed"),
        ([_record("error", datetime.date(2026, 11, 1))], "at-risk", "could not complete"),
        (
            [
                _record("pass", datetime.date(2026, 11, 1)),
                _record("skipped", datetime.date(2026, 11, 2)),
            ],
            "met",
            "failover drilled on 2026-11-01",
        ),
    ],
)
def test_check_judges_the_failover_drill_against_the_quarterly_calendar(
    records: list[DrillRecord], verdict: str, note: str
) -> None:
    plan = resolve(load_workload(ROOT / "examples/fraud-scoring/workload.yaml"))
    report = check(plan, datetime.date(2026, 11, 29), evidence=records)
    primary = next(f for f in report.findings if f.subject == "vendor openai/gpt-4o (primary)")
    assert primary.verdict == verdict and note in primary.basis
    without = check(plan, datetime.date(2026, 11, 29))
    assert "drill" not in next(f for f in without.findings if "primary" in f.subject).basis


def test_the_report_shows_the_steps_as_a_table() -> None:
    result = Result(component="vendors", engine="litellm", region="us-west-2")
    result.measurements["steps"] = [
        {"failing": ["a"], "expected": "b", "answered_by": "b", "seconds": 1.5, "ok": True},
        {"failing": ["a", "b"], "expected": "an error", "answered_by": None, "ok": False},
    ]
    meta = {
        "workload": "w",
        "run_id": "r",
        "workload_file": "w.yaml",
        "workload_sha256": "0",
        "git_commit": None,
        "operator": "me",
        "started": "s",
        "finished": "f",
        "cloud": "aws",
        "tier": 1,
        "region": "us-west-2",
        "primary_region": "us-east-1",
        "objectives": {"rto_seconds": 3600, "rpo_seconds": 60},
    }
    markdown = as_markdown(report_payload(meta, [result], [])).decode()
    assert "| a | b | b | 1.5 | yes |" in markdown
    assert "| a, b | an error | error | - | **no** |" in markdown
    assert "Measured, steps" not in markdown and "needs review" not in markdown


# The RUNBOOK's vendor scenarios: the commands run as written, the alarms exist


def _vendor_section(runbook: str) -> str:
    start = runbook.index("## External AI vendors")
    return runbook[start : runbook.index("\n## ", start + 1)]


def test_the_runbook_vendor_commands_run_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io
    import re
    import shlex
    import shutil
    import urllib.request

    from tests.vendor_pages import OPERATIONAL

    runbook = (ROOT / "stacks/fraud-scoring/RUNBOOK.md").read_text()
    # Every command that names the workload (`drgen check` alone is a mention, not a step).
    commands = [
        c for c in re.findall(r"`(drgen [^`]+)`", _vendor_section(runbook)) if " examples/" in c
    ]
    assert [shlex.split(c)[1] for c in commands] == ["vendors", "drill", "check"]
    # In a copy of the repository's layout: the drill writes drills/ where it runs.
    shutil.copytree(ROOT / "examples/fraud-scoring", tmp_path / "examples/fraud-scoring")
    monkeypatch.chdir(tmp_path)
    asked: list[str] = []

    def recorded_page(request: urllib.request.Request, timeout: float) -> Any:
        # The status pages are on the internet: a recorded operational summary stands in.
        asked.append(request.full_url)
        return io.BytesIO(json.dumps(OPERATIONAL).encode())

    monkeypatch.setattr(urllib.request, "urlopen", recorded_page)
    env = {"AWS_EC2_METADATA_DISABLED": "true", "AWS_ACCESS_KEY_ID": None, "AWS_PROFILE": None}
    outputs = []
    for command in commands:
        result = CliRunner().invoke(main, shlex.split(command)[1:], env=env)
        assert "Traceback" not in result.output, (command, result.output)
        outputs.append(result)
    assert outputs[0].exit_code == 0
    assert asked == [
        "https://status.openai.com/api/v2/summary.json",
        "https://status.anthropic.com/api/v2/summary.json",
    ]
    assert outputs[1].exit_code == 0, outputs[1].output
    assert "wrote drills/fraud-scoring-" in outputs[1].output
    # check exits 1 for objectives the examples leave unmet; the vendor row reads the drill.
    assert outputs[2].exit_code in (0, 1) and "failover drilled on" in outputs[2].output


def test_the_runbook_names_the_alarms_the_watcher_deploys(tmp_path: Path) -> None:
    from drgen.diff import mock_run
    from drgen.write import write_project

    plan = resolve(load_workload(ROOT / "examples/fraud-scoring/workload.yaml"))
    files = render(plan)
    write_project(files, tmp_path / plan.workload)
    declared = mock_run(tmp_path / plan.workload, plan.primary)["resources"]
    alarms = {
        r["inputs"]["name"]
        for r in declared
        if r["type"] == "aws:cloudwatch/metricAlarm:MetricAlarm" and "vendor" in r["name"]
    }
    assert alarms == {
        "fraud-scoring-vendor-watch-errors",
        "fraud-scoring-vendor-watch-dead-letters",
    }
    section = _vendor_section(files["RUNBOOK.md"])
    for alarm in alarms:
        assert f"`{alarm}`" in section
    assert "`/drgen/fraud-scoring/vendor-route`" in section


def test_the_evidence_is_uploaded_under_the_audit_lock(aws: str, tmp_path: Path) -> None:
    import boto3

    # The fraud-scoring recovery region's audit bucket, as its stack leaves it: object lock on.
    audit = "fraud-scoring-audit-us-west-2-fs01"
    s3 = boto3.client("s3", region_name="us-west-2")
    s3.create_bucket(
        Bucket=audit,
        ObjectLockEnabledForBucket=True,
        CreateBucketConfiguration={"LocationConstraint": "us-west-2"},
    )
    s3.put_object_lock_configuration(
        Bucket=audit,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 1}},
        },
    )
    workload = ROOT / "examples/fraud-scoring/workload.yaml"
    result = CliRunner().invoke(
        main, ["drill", str(workload), "--component", "vendors", "--evidence", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    receipts = json.loads(next(tmp_path.glob("*.receipt.json")).read_text())
    assert [r["lock"]["mode"] for r in receipts] == ["COMPLIANCE", "COMPLIANCE"]
    assert all(r["url"].startswith(f"s3://{audit}/drgen-drills/fraud-scoring/") for r in receipts)
    [record] = read_evidence(tmp_path)
    assert (record.component, record.outcome) == ("vendors", "pass")


# The workload fields the drill reads


@pytest.mark.parametrize(
    ("lines", "where", "message"),
    [
        ("vendor_eval: ../prompts.jsonl\n", "vendor_eval", "must be a file inside the workload"),
        ("vendor_eval: /etc/prompts.jsonl\n", "vendor_eval", "must be a file inside the workload"),
        (
            "vendors:\n  - {name: o, provider: openai, model: m, role: primary,"
            " endpoint: 'http://10.0.0.5:8000/v1'}\n",
            "vendors[0].endpoint",
            "",
        ),
    ],
)
def test_bad_drill_inputs_are_located(tmp_path: Path, lines: str, where: str, message: str) -> None:
    path = tmp_path / "workload.yaml"
    path.write_text("name: chat-desk\ntier: 3\ncloud: aws\nregions: {primary: us-east-1}\n" + lines)
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f": {where}: " in result.output and message in result.output, result.output


def test_a_model_served_beside_the_gateway_may_be_plain_http_on_loopback(tmp_path: Path) -> None:
    path = _workload(
        tmp_path,
        "{name: openai, model: gpt-4o, role: primary}",
        "{name: local, provider: openai, model: llama-3-8b, role: degraded,"
        " endpoint: 'http://localhost:11434/v1', credential: {env: LOCAL_KEY}}",
        extra="degraded_mode: smaller-model\n",
    )
    config = vendor_drill.gateway_config(resolve(load_workload(path)), "us-west-2")
    assert config.entry("chat-desk-degraded")["litellm_params"]["api_base"] == (
        "http://localhost:11434/v1"
    )


def test_live_without_the_vendors_component_is_a_message(tmp_path: Path) -> None:
    path = _workload(
        tmp_path,
        "{name: openai, model: gpt-4o, role: primary}",
        "{name: anthropic, model: claude-sonnet, role: alternate}",
    )
    result = CliRunner().invoke(main, ["drill", str(path), "--component", "models", "--live"])
    assert result.exit_code == 1 and "add --component vendors" in result.output
