"""The vendor failover drill: the region's gateway config in LiteLLM's own Router, made to fail.

The config is the one `drgen render` writes to `gateway/litellm-<stack>.yaml`, rendered in
memory from the same plan (rendering is deterministic: the same bytes; the report records their
SHA-256 to compare with the deployed file). Offline, every model group answers from
`mock_response` and the drill fails the primary, then each alternate in turn, and proves the
request lands on the next group of the chain, down to the degraded model, and that a request
fails once every group has (where degraded mode is not a model, the application's switch
takes over). Nothing leaves the machine.

`--live` sends the workload's prompt evaluation set (`vendor_eval`) through the same Router
with the primary forced to fail, once per alternate with the groups before it forced to fail
too, so each answer comes from that alternate, with the credentials the gateway reads. The
answers, their latency and errors go into the report for a person to judge: content is never
passed automatically ("needs review"); the drill fails only when an alternate does not answer.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from drgen.drill.base import Call, Context, DrillError, Result
from drgen.drill.evalset import read_jsonl
from drgen.errors import DrgenError
from drgen.plan import DrPlan
from drgen.render import render
from drgen.schema import Workload

INSTALL = "pip install 'drgen[vendors]'"
FORCED = "drgen drill: failure forced on this model group"
EVAL_MAX_BYTES = 1024 * 1024
EVAL_MAX_PROMPTS = 50
"""Each prompt is a billed request per alternate: a small set, read in a minute by a person."""
DEFAULT_MAX_TOKENS = 512
ANSWER_MAX_CHARS = 4000
"""Answers kept in the report, whole up to this length (the report says when one was cut)."""
ERROR_MAX_CHARS = 500
PROMPT_MAX_CHARS = 1000
REQUEST_TIMEOUT = 60.0
ROLES = ("system", "user", "assistant")


def litellm_missing() -> str | None:
    """Why the drill cannot run here, or None when LiteLLM is installed."""
    if importlib.util.find_spec("litellm") is None:
        return f"the vendor failover drill loads the gateway config into LiteLLM: {INSTALL}"
    return None


# The gateway config


@dataclass(frozen=True)
class GatewayConfig:
    """The region's rendered config, as LiteLLM's proxy would load it."""

    file: str
    sha256: str
    model_list: tuple[dict[str, Any], ...]
    router_settings: dict[str, Any]

    @property
    def primary(self) -> str:
        return str(self.model_list[0]["model_name"])

    @property
    def chain(self) -> tuple[str, ...]:
        """The groups the router falls back to from the primary, in order."""
        for entry in self.router_settings.get("fallbacks") or []:
            if self.primary in entry:
                return tuple(str(group) for group in entry[self.primary])
        return ()

    def model(self, group: str) -> str:
        return str(self.entry(group)["litellm_params"].get("model", "no model"))

    def entry(self, group: str) -> dict[str, Any]:
        """The group's `model_list` entry (empty when the config names a group it lacks)."""
        found = (e for e in self.model_list if e["model_name"] == group)
        return next(found, {"model_name": group, "litellm_params": {}})

    def key_variable(self, group: str) -> str | None:
        """The environment variable the group's API key is read from (None: cloud identity)."""
        key = str(self.entry(group)["litellm_params"].get("api_key", ""))
        return key.removeprefix("os.environ/") if key.startswith("os.environ/") else None


def gateway_config(plan: DrPlan, region: str) -> GatewayConfig:
    """The config `drgen render` writes for the stack in `region`, parsed."""
    stack = next(s for s in plan.stacks if s.region == region)
    name = f"gateway/litellm-{stack.name}.yaml"
    text = render(plan).get(name)
    if text is None:
        raise DrillError(f"{plan.workload} renders no {name}: no primary vendor is declared")
    data = yaml.safe_load(text)
    return GatewayConfig(
        file=name,
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        model_list=tuple(data["model_list"]),
        router_settings=dict(data["router_settings"]),
    )


# The prompt evaluation set


@dataclass(frozen=True)
class Prompt:
    id: str
    messages: tuple[tuple[str, str], ...]
    """(role, content) pairs."""
    reference: str | None
    """What a good answer says, shown beside the answer to the person judging it."""
    max_tokens: int


def read_prompts(workload: Workload, workload_dir: Path) -> tuple[Prompt, ...]:
    """The workload's `vendor_eval`, every problem located by file and line."""
    relative = workload.vendor_eval
    if relative is None:
        raise DrillError("--live needs `vendor_eval:` in the workload: a JSONL file of prompts")
    prompts = read_jsonl(workload_dir, relative, EVAL_MAX_BYTES, _prompt)
    if not prompts:
        raise DrillError(f"{relative}: no prompts")
    if len(prompts) > EVAL_MAX_PROMPTS:
        raise DrillError(
            f"{relative}: {len(prompts)} prompts; at most {EVAL_MAX_PROMPTS} (each is a billed"
            " request to every alternate)"
        )
    ids = [p.id for p in prompts]
    duplicate = next((i for i in ids if ids.count(i) > 1), None)
    if duplicate is not None:
        raise DrillError(f"{relative}: id {duplicate!r} is used twice")
    return tuple(
        Prompt(p.id or f"line {n}", p.messages, p.reference, p.max_tokens)
        for n, p in enumerate(prompts, start=1)
    )


def _prompt(raw: Any) -> Prompt:
    """One line: `{"id": ..., "prompt": "..."}` or `{"id": ..., "messages": [{"role", "content"}]}`,
    optionally with `reference` and `max_tokens`."""
    if not isinstance(raw, dict):
        raise ValueError("each line must be a JSON object")
    unknown = set(raw) - {"id", "prompt", "messages", "reference", "max_tokens"}
    if unknown:
        raise ValueError(f"unknown key(s): {', '.join(sorted(unknown))}")
    if ("prompt" in raw) == ("messages" in raw):
        raise ValueError("give either prompt (text) or messages (a chat), not both")
    if "prompt" in raw:
        messages = [{"role": "user", "content": raw["prompt"]}]
    else:
        messages = raw["messages"]
        if not isinstance(messages, list) or not messages:
            raise ValueError("messages: expected a list of {role, content}")
    pairs = []
    for message in messages:
        if not isinstance(message, dict) or set(message) != {"role", "content"}:
            raise ValueError("messages: each is an object with role and content only")
        if message["role"] not in ROLES:
            raise ValueError(f"role: {message['role']!r} is not one of {', '.join(ROLES)}")
        if not isinstance(message["content"], str) or not message["content"].strip():
            raise ValueError("content: expected non-empty text")
        pairs.append((message["role"], message["content"]))
    ident = raw.get("id", "")
    if not isinstance(ident, str) or len(ident) > 100:
        raise ValueError("id: expected text of at most 100 characters")
    reference = raw.get("reference")
    if reference is not None and not isinstance(reference, str):
        raise ValueError("reference: expected text")
    max_tokens = raw.get("max_tokens", DEFAULT_MAX_TOKENS)
    if (
        not isinstance(max_tokens, int)
        or isinstance(max_tokens, bool)
        or not (1 <= max_tokens <= 4096)
    ):
        raise ValueError("max_tokens: expected a whole number from 1 to 4096")
    return Prompt(ident, tuple(pairs), reference, max_tokens)


# The drill


def calls(ctx: Context, live: bool) -> list[Call]:
    """What the drill does, for --dry-run: router runs in this process, then live requests."""
    config = gateway_config(ctx.plan, ctx.region)
    groups = (config.primary, *config.chain)
    listed = [
        Call(
            "litellm",
            "Router.completion",
            f"{config.primary} with {', '.join(groups[: n + 1])} failing",
            "mock",
        )
        for n in range(len(groups))
    ]
    if live:
        prompts = read_prompts(ctx.workload, ctx.workload_dir)
        listed += [
            Call(
                "litellm", "Router.completion", f"{_target(config, group)} ({prompt.id})", "prompt"
            )
            for group in config.chain
            for prompt in prompts
        ]
    return listed


def run(ctx: Context, result: Result, live: bool) -> None:
    """Prove the chain offline; with `live`, also have every alternate answer the prompts."""
    missing = litellm_missing()
    if missing is not None:
        raise DrillError(missing)
    config = gateway_config(ctx.plan, ctx.region)
    prompts = read_prompts(ctx.workload, ctx.workload_dir) if live else ()
    litellm = _litellm()
    result.engine = "litellm"
    result.integrity["gateway_config"] = {"file": config.file, "sha256": config.sha256}
    result.integrity["chain"] = [
        f"{group} ({config.model(group)})" for group in (config.primary, *config.chain)
    ]
    result.measurements["router_settings"] = {
        key: config.router_settings[key]
        for key in ("num_retries", "allowed_fails", "cooldown_time")
        if key in config.router_settings
    }
    result.measurements["degraded_mode"] = _degraded(ctx.plan, config)
    defined = {str(e["model_name"]) for e in config.model_list}
    for group in config.chain:
        if group not in defined:
            result.fail(f"the fallbacks name {group}, which no model_list entry defines")
    steps = [_step(litellm, ctx, config, failing) for failing in range(1, len(config.chain) + 2)]
    result.measurements["steps"] = steps
    for step in steps:
        if not step["ok"]:
            result.fail(f"{' and '.join(step['failing'])} failing: {step['problem']}")
    if len(steps) > 1 and steps[0]["ok"]:
        result.restore_seconds = steps[0]["seconds"]
    if live:
        _live(litellm, ctx, config, prompts, result)


def _degraded(plan: DrPlan, config: GatewayConfig) -> str:
    if plan.degraded_mode == "smaller-model":
        return f"smaller-model: {config.chain[-1]}, the gateway's last fallback"
    if plan.degraded_mode is not None:
        return f"{plan.degraded_mode}: the application's switch once every model group fails"
    return "none declared: requests fail once every model group fails"


def _step(litellm: Any, ctx: Context, config: GatewayConfig, failing: int) -> dict[str, Any]:
    """Fail the first `failing` groups of the chain; the next must answer (or, past the last,
    the request must fail)."""
    ctx.remaining()
    groups = (config.primary, *config.chain)
    down = groups[:failing]
    expected = groups[failing] if failing < len(groups) else None
    answers: dict[str, Any] = {
        group: Exception(FORCED) if group in down else f"drgen drill answer from {group}"
        for group in groups
    }
    router = _router(litellm, config, answers)
    started = time.monotonic()
    step: dict[str, Any] = {"failing": list(down), "expected": expected or "an error"}
    try:
        response = router.completion(
            model=config.primary, messages=[{"role": "user", "content": "drgen drill"}]
        )
    except Exception as error:
        step["seconds"] = round(time.monotonic() - started, 3)
        step["answered_by"] = None
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        step["error"] = _short(first, ERROR_MAX_CHARS)
        step["ok"] = expected is None and FORCED in str(error)
        if not step["ok"]:
            step["problem"] = (
                f"expected {expected} to answer, the request failed"
                if expected
                else "the request failed, but not with the forced failure"
            )
        return step
    step["seconds"] = round(time.monotonic() - started, 3)
    content = response.choices[0].message.content or ""
    answered = content.removeprefix("drgen drill answer from ")
    step["answered_by"] = answered
    step["ok"] = answered == expected
    if not step["ok"]:
        step["problem"] = (
            f"expected {expected}, {answered} answered"
            if expected
            else f"every group failed, yet {answered} answered"
        )
    return step


def _live(
    litellm: Any,
    ctx: Context,
    config: GatewayConfig,
    prompts: tuple[Prompt, ...],
    result: Result,
) -> None:
    keys = [v for g in config.chain if (v := config.key_variable(g)) and os.environ.get(v)]
    secrets = [os.environ[variable] for variable in keys]
    groups = (config.primary, *config.chain)
    summary = []
    for position, group in enumerate(config.chain, start=1):
        variable = config.key_variable(group)
        if variable is not None and not os.environ.get(variable):
            result.error(
                f"{group}: {variable} is not set, the variable its API key is read from;"
                " nothing was sent to it"
            )
            summary.append({"group": group, "answered": 0, "of": len(prompts)})
            continue
        answers: dict[str, Any] = {g: Exception(FORCED) for g in groups[:position]}
        answers.update({g: Exception(FORCED) for g in groups[position + 1 :]})
        router = _router(litellm, config, answers)
        ids = set(router.registry().names(group, kind="ids"))
        answered = 0
        for prompt in prompts:
            entry = _ask(router, ctx, config, group, ids, prompt, secrets)
            answered += entry["error"] is None
            result.review.append(entry)
        summary.append({"group": group, "answered": answered, "of": len(prompts)})
        if answered < len(prompts):
            result.fail(
                f"{group} ({config.model(group)}) answered {answered} of {len(prompts)} prompts"
                " with live credentials"
            )
    result.measurements["live"] = {
        "prompts": len(prompts),
        "eval_file": ctx.workload.vendor_eval,
        "alternates": summary,
        "verdict": "needs review: a person judges every answer below",
    }


def _ask(
    router: Any,
    ctx: Context,
    config: GatewayConfig,
    group: str,
    ids: set[str],
    prompt: Prompt,
    secrets: list[str],
) -> dict[str, Any]:
    ctx.record("litellm", "Router.completion", f"{_target(config, group)} ({prompt.id})", "prompt")
    entry: dict[str, Any] = {
        "prompt": prompt.id,
        # The last question asked, for the person judging the answer.
        "asked": _short(prompt.messages[-1][1], PROMPT_MAX_CHARS),
        "group": group,
        "model": config.model(group),
        "reference": prompt.reference,
        "verdict": "needs review",
        "answer": None,
        "error": None,
    }
    started = time.monotonic()
    try:
        response = router.completion(
            model=config.primary,
            messages=[{"role": role, "content": content} for role, content in prompt.messages],
            max_tokens=prompt.max_tokens,
            timeout=min(REQUEST_TIMEOUT, ctx.remaining()),
        )
    except DrillError:
        raise
    except Exception as error:
        entry["seconds"] = round(time.monotonic() - started, 3)
        entry["error"] = _short(_redacted(f"{type(error).__name__}: {error}", secrets), 500)
        return entry
    # What a caller waits during the outage: the forced failures' retries, then the answer.
    entry["seconds"] = round(time.monotonic() - started, 3)
    hidden = getattr(response, "_hidden_params", None) or {}
    own = hidden.get("_response_ms")
    if isinstance(own, int | float):
        entry["alternate_seconds"] = round(own / 1000, 3)
    if hidden.get("model_id") not in ids:
        entry["error"] = f"answered by another model group than {group}"
        return entry
    content = response.choices[0].message.content
    if not isinstance(content, str) or not content.strip():
        entry["error"] = "an empty answer"
        return entry
    answer = _redacted(content, secrets)
    entry["answer"] = _short(answer, ANSWER_MAX_CHARS)
    entry["answer_chars"] = len(answer)
    entry["served_model"] = getattr(response, "model", None)
    return entry


def _target(config: GatewayConfig, group: str) -> str:
    params = config.entry(group)["litellm_params"]
    where = params.get("api_base") or params.get("aws_region_name") or params.get("vertex_location")
    return f"{group} {config.model(group)}" + (f" at {where}" if where else "")


def _router(litellm: Any, config: GatewayConfig, answers: dict[str, Any]) -> Any:
    """A Router over the config's model list and router settings, with `mock_response` set
    on the groups in `answers` (a text answers, an Exception fails)."""
    model_list = []
    for entry in config.model_list:
        params = dict(entry["litellm_params"])
        if entry["model_name"] in answers:
            params["mock_response"] = answers[entry["model_name"]]
        model_list.append({"model_name": entry["model_name"], "litellm_params": params})
    return litellm.Router(model_list=model_list, **config.router_settings)


def _litellm() -> Any:
    # The bundled price list instead of a download at import: the drill needs no prices, and
    # offline it must not reach the network at all.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.suppress_debug_info = True
    # The router logs every forced failure at ERROR with the request; the report has them.
    for name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    return litellm


def _redacted(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    return text


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + f" [... {len(text) - limit} more]"


def require(plan: DrPlan, workload: Workload, workload_dir: Path, live: bool) -> None:
    """Refuse, before anything runs or is sent, a vendor drill that cannot run here."""
    if not plan.vendors:
        raise DrgenError(f"--component vendors: {plan.workload} declares no vendors")
    missing = litellm_missing()
    if missing is not None:
        raise DrgenError(missing)
    if not live:
        return
    if not any(v.role != "primary" for v in plan.vendors):
        raise DrgenError("--live: no alternate or degraded model to send the prompts to")
    try:
        read_prompts(workload, workload_dir)
    except DrillError as problem:
        raise DrgenError(str(problem)) from None
