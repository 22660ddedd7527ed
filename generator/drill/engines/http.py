"""One small JSON-over-HTTP client for the scratch engines' APIs (stdlib only).

Every request is recorded in the run's calls before it is sent (the write guard sees it), is
bounded by what is left of --timeout, and turns an engine's refusal into a `DrillError` that
quotes the engine's own message.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

from drgen.drill.base import Context, DrillError, Effect, ProductionWriteError

REQUEST_SECONDS = 120.0
"""No single request waits longer than this (or than what is left of --timeout)."""

POLL_SECONDS = 5.0
"""Pause between two status requests while a restore runs."""

CLEANUP_SECONDS = 120.0
"""How long cleanup waits for a restore the engine cannot cancel to stop creating things."""

Signer = Callable[[str, str, bytes | None, dict[str, str]], dict[str, str]]
"""(method, url, body, headers) -> headers to send: SigV4 for OpenSearch Service."""


class EngineApi:
    """The scratch engine at `base_url`, as one service of the drill's calls."""

    def __init__(
        self,
        ctx: Context,
        service: str,
        base_url: str,
        headers: dict[str, str] | None = None,
        signer: Signer | None = None,
        request_seconds: float = REQUEST_SECONDS,
    ) -> None:
        self.ctx = ctx
        self.service = service
        self.base_url = base_url.rstrip("/")
        self.headers = headers or {}
        self.signer = signer
        self.request_seconds = request_seconds

    def target(self, path: str) -> str:
        return self.base_url + path.split("?", 1)[0]

    def call(
        self,
        method: str,
        path: str,
        body: object = None,
        effect: Effect = "read",
        missing_ok: bool = False,
        long: bool = False,
        refusal: type[DrillError] = DrillError,
        cleanup: bool = False,
        names: str = "",
        run_named: bool = True,
    ) -> dict[str, Any]:
        """The engine's JSON answer; {} for a 404 when `missing_ok` (a delete of something gone).
        A `long` request (one that answers when the engine is done) may use all of --timeout.
        An HTTP error status raises `refusal` (RestoreFailedError when it starts a restore).
        A `cleanup` request is sent even after --timeout: scratch resources are always removed.
        `names` (the collections, indices or classes the body names) join the recorded target;
        a write's target must carry the run id unless `run_named` is False (Weaviate restores
        classes under their own names; its engine checks them against what it created)."""
        operation = f"{method} {path.split('?', 1)[0]}"
        target = self.target(path) + (f" [{names}]" if names else "")
        if effect == "scratch" and run_named and self.ctx.run_id not in target:
            raise ProductionWriteError(
                f"refused {self.service} {operation} on {target}: names nothing of this run"
            )
        self.ctx.record(self.service, operation, target, effect)
        url = self.base_url + path
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        headers.update(self.headers)
        if self.signer is not None:
            headers = self.signer(method, url, data, headers)
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        if cleanup:
            timeout = self.request_seconds
        else:
            left = self.ctx.remaining()
            timeout = left if long else min(left, self.request_seconds)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                payload = response.read()
        except urllib.error.HTTPError as error:
            if missing_ok and error.code == 404:
                return {}
            raise refusal(
                f"{self.service} {method} {path.split('?', 1)[0]}: HTTP {error.code}"
                f" {_message(error.read())}"
            ) from None
        except TimeoutError:
            raise DrillError(
                f"{self.service} {method} {path.split('?', 1)[0]}: no answer within --timeout"
            ) from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise DrillError(f"{self.service}: cannot reach {self.base_url}: {reason}") from None
        if not payload:
            return {}
        try:
            answer = json.loads(payload)
        except ValueError:
            raise DrillError(f"{self.service} {method} {path}: not a JSON answer") from None
        return answer if isinstance(answer, dict) else {"result": answer}


def _message(payload: bytes) -> str:
    """The engine's error text: its JSON error field when there is one, else the raw body."""
    text = payload.decode("utf-8", "replace").strip()
    try:
        body = json.loads(text)
    except ValueError:
        return text[:300]
    if isinstance(body, dict):
        for key in ("error", "status", "msg", "message"):
            value = body.get(key)
            if isinstance(value, dict):
                value = value.get("reason") or value.get("error") or value
            if value:
                return str(value)[:300]
    return text[:300]


def quote(name: str) -> str:
    """A name as one URL path segment."""
    return urllib.parse.quote(name, safe="")


def api_key(env: str) -> str | None:
    """The scratch engine's API key from the environment variable the CLI names."""
    return os.environ.get(env) or None
