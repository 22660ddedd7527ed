"""Google Cloud's admin APIs for the drills that restore a database: clients, project, operations.

Credentials come from Application Default Credentials. The clients' emulator variables
(`BIGTABLE_EMULATOR_HOST`, `FIRESTORE_EMULATOR_HOST`) point them at a local gRPC server over an
insecure channel, as the Bigtable client library itself does for its emulator; the admin clients
do not read them on their own.
"""

from __future__ import annotations

import os
import time
from typing import Any

from drgen.drill.base import Context, DrillError


def project() -> str:
    """The project the stacks are deployed in: GOOGLE_CLOUD_PROJECT, else ADC's project."""
    named = os.environ.get("GOOGLE_CLOUD_PROJECT")
    if named:
        return named
    import google.auth

    found = google.auth.default()[1]
    if not found:
        raise DrillError(
            "no Google Cloud project: set GOOGLE_CLOUD_PROJECT to the project the stacks use"
        )
    return str(found)


def gapic(client_class: Any, emulator_variable: str) -> Any:
    """A generated (GAPIC) client: on ADC, or on the emulator variable's host when it is set."""
    host = os.environ.get(emulator_variable)
    if not host:
        return client_class()
    import grpc

    transport = client_class.get_transport_class("grpc")
    return client_class(transport=transport(channel=grpc.insecure_channel(host)))


def need(package: str) -> DrillError:
    return DrillError(f"the drill needs {package}: pip install 'drgen[drill]'")


def wait(ctx: Context, operation: Any, service: str, poll_seconds: float) -> Any:
    """The long-running operation's result, polled until done or until --timeout has passed
    (ctx.remaining() raises then; the operation goes on in the cloud and the caller cleans up)."""
    name = operation.operation.name
    while True:
        if not operation.operation.done:  # done() asks the service only while it is not
            ctx.record(service, "GetOperation", name)
        if operation.done():
            return operation.result()
        time.sleep(min(poll_seconds, ctx.remaining()))


CLEANUP_SECONDS = 600.0
"""How long cleanup waits, past --timeout, for an operation that must end before its resource
can be deleted."""


def settle(ctx: Context, operation: Any, service: str, poll_seconds: float) -> bool:
    """Whether the operation has ended (done, whatever its result), polled for at most
    CLEANUP_SECONDS: cleanup's own budget, which --timeout having passed does not cut short."""
    name = operation.operation.name
    until = time.monotonic() + CLEANUP_SECONDS
    while True:
        if not operation.operation.done:
            ctx.record(service, "GetOperation", name)
        if operation.done():
            return True
        left = until - time.monotonic()
        if left <= 0:
            return False
        time.sleep(min(poll_seconds, left))
