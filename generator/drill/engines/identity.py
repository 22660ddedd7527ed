"""Is the scratch engine a production engine? Compared by what the engines say they are.

URL strings are not enough: an IP address, a port-forward on localhost, a Kubernetes service
name or a custom endpoint can all reach the production engine. Before anything is restored the
drill asks the scratch engine and each stack's production engine who they are (each engine
module's `identity`: Qdrant peer or telemetry id, Weaviate node names, OpenSearch cluster_uuid)
and refuses a scratch engine that shares an identity with production. Where an identity cannot
be established (the engine exposes none, as milvus-backup; or production cannot be reached from
here), the drill refuses a scratch URL that resolves to the same address and port as a
production URL.
"""

from __future__ import annotations

import importlib
import socket
import urllib.parse
from collections.abc import Callable

from drgen.drill.base import Context, DrillError
from drgen.drill.engines.http import EngineApi

IDENTITY_SECONDS = 10.0
"""An identity request is a small GET: an engine silent for longer counts as not answering
(production behind a firewall must not hold the drill for the whole --timeout)."""

Identity = Callable[[EngineApi], frozenset[str]]
"""An engine module's `identity`: the ids the engine at the API's URL answers with."""


def identity_of(ctx: Context, engine: str, api: EngineApi) -> frozenset[str] | None:
    """The engine's identity, or None when it exposes none or cannot be asked."""
    from drgen.drill.engines import ENGINES

    module = importlib.import_module(ENGINES[engine])
    ask: Identity | None = getattr(module, "identity", None)
    if ask is None:
        return None
    try:
        found = ask(api)
    except (DrillError, KeyError, TypeError, ValueError, AttributeError):
        return None
    return found or None


def addresses(url: str) -> frozenset[tuple[str, int]]:
    """Every (IP address, port) the URL's host resolves to; empty if it does not resolve."""
    parts = urllib.parse.urlsplit(url.strip())
    try:
        port = parts.port or {"https": 443, "http": 80}.get(parts.scheme.lower(), 0)
    except ValueError:
        return frozenset()
    if not parts.hostname:
        return frozenset()
    try:
        found = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return frozenset()
    return frozenset((str(info[4][0]), port) for info in found)


def refuse_same_engine(
    ctx: Context,
    engine: str,
    scratch: list[tuple[str, EngineApi]],
    production: dict[str, EngineApi],
) -> list[str]:
    """Raise if any scratch URL is a production engine; the comparisons made, one line each.
    `scratch` pairs each scratch URL with its API (None-identity engines answer None)."""
    notes = []
    for url, api in scratch:
        mine = identity_of(ctx, engine, api)
        where = addresses(url)
        for region, prod in production.items():
            theirs = identity_of(ctx, engine, prod)
            if mine is not None and theirs is not None:
                shared = sorted(mine & theirs)
                if shared:
                    raise DrillError(
                        f"--scratch-url {url} is {region}'s production {engine} (both answer"
                        f" as {', '.join(shared)}): the drill restores only into a scratch engine"
                    )
                notes.append(f"{url}: {engine} identity differs from {region}'s production")
                continue
            if where & addresses(prod.base_url):
                raise DrillError(
                    f"--scratch-url {url} resolves to the address of {region}'s production"
                    f" {engine} ({prod.base_url}) and the {engine} identity of"
                    f" {'production' if mine is not None else 'the scratch engine'} cannot be"
                    " established: the drill restores only into an engine it can tell apart"
                )
            notes.append(
                f"{url}: {engine} identity not established"
                f" ({'production' if mine is not None else 'scratch'} unanswered);"
                f" address differs from {region}'s production"
            )
    return notes


def engine_api(ctx: Context, engine: str, url: str, region: str, scratch: bool) -> EngineApi:
    """A read-only API to ask `identity`; the scratch engine's key only goes to the scratch URL."""
    from drgen.drill.engines.http import api_key

    key = api_key(ctx.scratch_engine.key_env) if scratch and ctx.scratch_engine else None
    if engine == "opensearch":
        from drgen.drill.engines.opensearch import _sigv4

        return EngineApi(ctx, engine, url, signer=_sigv4(region), request_seconds=IDENTITY_SECONDS)
    headers: dict[str, str] = {}
    if key:
        headers = {"api-key": key} if engine == "qdrant" else {"Authorization": f"Bearer {key}"}
    return EngineApi(ctx, engine, url, headers, request_seconds=IDENTITY_SECONDS)
