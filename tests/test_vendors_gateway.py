"""The generated LiteLLM config loads into LiteLLM's own Router and fails over as it says."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from drgen.loader import load_workload
from drgen.plan import resolve
from drgen.render import render
from drgen.vendors.gateway import cooldown_time, health_check_interval

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
WITH_VENDORS = sorted(
    p for p in EXAMPLES.glob("*/workload.yaml") if "vendors:" in p.read_text(encoding="utf-8")
)

# LiteLLM's own pydantic models warn about themselves on import; the warnings concern its
# code, not ours or the generated config.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:pydantic._internal._generate_schema")

# Price list bundled with LiteLLM instead of a download (https://docs.litellm.ai, "Router").
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


def _configs(workload: Path) -> dict[str, dict[str, Any]]:
    files = render(resolve(load_workload(workload)))
    return {
        path: yaml.safe_load(text) for path, text in files.items() if path.startswith("gateway/")
    }


def _router(config: dict[str, Any], answers: dict[str, Any]) -> Any:
    litellm = pytest.importorskip("litellm")
    model_list = []
    for entry in config["model_list"]:
        params = dict(entry["litellm_params"], mock_response=answers[entry["model_name"]])
        model_list.append({"model_name": entry["model_name"], "litellm_params": params})
    return litellm.Router(model_list=model_list, **config["router_settings"])


@pytest.mark.parametrize("workload", WITH_VENDORS, ids=lambda p: p.parent.name)
def test_every_stack_fails_over_to_the_first_alternate(
    workload: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configs = _configs(workload)
    plan = resolve(load_workload(workload))
    assert sorted(configs) == sorted(f"gateway/litellm-{s.name}.yaml" for s in plan.stacks)
    for config in configs.values():
        for entry in config["model_list"]:
            key = entry["litellm_params"].get("api_key", "")
            if key.startswith("os.environ/"):
                monkeypatch.setenv(key.removeprefix("os.environ/"), "test-key-not-used")
        groups = [entry["model_name"] for entry in config["model_list"]]
        primary, fallbacks = groups[0], groups[1:]
        answers: dict[str, Any] = {g: f"answer from {g}" for g in groups}
        answers[primary] = Exception("primary vendor outage")
        router = _router(config, answers)
        messages = [{"role": "user", "content": "ping"}]
        if not fallbacks:
            assert config["router_settings"]["fallbacks"] == []
            with pytest.raises(Exception, match="primary vendor outage"):
                router.completion(model=primary, messages=messages)
            continue
        response = router.completion(model=primary, messages=messages)
        assert response.choices[0].message.content == f"answer from {fallbacks[0]}"


def test_alternates_are_tried_in_order_down_to_the_degraded_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "unused")
    monkeypatch.setenv("TEAM_ANTHROPIC_KEY", "unused")
    workload = tmp_path / "workload.yaml"
    workload.write_text(
        "name: chat-desk\ntier: 1\ncloud: aws\n"
        "regions: {primary: us-east-1, secondary: us-west-2}\n"
        "endpoint: {domain: chat.example.com, zone: example.com,"
        " targets: {us-east-1: a.example.com, us-west-2: b.example.com}}\n"
        "vendors:\n"
        "  - {name: openai, model: gpt-4o, role: primary}\n"
        "  - {name: anthropic, model: claude-sonnet, role: alternate,"
        " credential: {env: TEAM_ANTHROPIC_KEY, secret: prod/anthropic}}\n"
        "  - {name: aws, provider: bedrock, model: amazon.nova-pro-v1:0, role: alternate}\n"
        "  - {name: aws, provider: bedrock, model: amazon.nova-micro-v1:0, role: degraded}\n"
        "degraded_mode: smaller-model\n",
        encoding="utf-8",
    )
    configs = _configs(workload)
    west = configs["gateway/litellm-us-west-2.yaml"]
    groups = [entry["model_name"] for entry in west["model_list"]]
    assert groups == [
        "chat-desk",
        "chat-desk-alternate-1",
        "chat-desk-alternate-2",
        "chat-desk-degraded",
    ]
    # A cloud-served model is called in the stack's own region: a real alternate in recovery.
    assert west["model_list"][2]["litellm_params"]["aws_region_name"] == "us-west-2"
    assert "api_key" not in west["model_list"][2]["litellm_params"]
    assert west["model_list"][1]["litellm_params"]["api_key"] == "os.environ/TEAM_ANTHROPIC_KEY"
    assert west["general_settings"] == {
        "background_health_checks": True,
        "health_check_interval": 900,
    }
    down = Exception("outage")
    router = _router(
        west,
        {
            "chat-desk": down,
            "chat-desk-alternate-1": down,
            "chat-desk-alternate-2": down,
            "chat-desk-degraded": "degraded answer",
        },
    )
    response = router.completion(model="chat-desk", messages=[{"role": "user", "content": "hi"}])
    assert response.choices[0].message.content == "degraded answer"


@pytest.mark.parametrize(
    ("rto", "cooldown", "interval"),
    [
        (900, 30, 75),
        (3600, 60, 300),
        (4 * 3600, 240, 900),
        (3 * 86400, 300, None),
        (None, 300, None),
    ],
)
def test_router_timing_follows_the_rto(
    rto: int | None, cooldown: int, interval: int | None
) -> None:
    assert cooldown_time(rto) == cooldown
    assert health_check_interval(rto) == interval


def test_render_never_imports_litellm() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from drgen.render import render; from drgen.loader import load_workload;"
        "from drgen.plan import resolve;"
        f"render(resolve(load_workload(__import__('pathlib').Path({str(WITH_VENDORS[0])!r}))));"
        "assert 'litellm' not in sys.modules, 'render imported litellm'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
