"""Qdrant: each collection's newest snapshot recovered from a signed URL into a scratch collection.

The stacks snapshot every collection on its own (POST /collections/{name}/snapshots) into
Qdrant's S3 snapshot storage, one folder per collection. The drill signs a URL for the newest
snapshot of each collection and asks the scratch Qdrant to recover it into a collection of its
own name (PUT /collections/{name}/snapshots/recover creates the collection when it does not
exist: https://api.qdrant.tech/api-reference/snapshots/recover-from-snapshot), passing the
snapshot's SHA-256 so that Qdrant checks what it downloaded.
"""

from __future__ import annotations

import time
from typing import Any

from drgen.drill.base import Call, Context, DrillError
from drgen.drill.engines import Restored, RestoreFailedError, Snapshot, http
from drgen.drill.engines.http import EngineApi, api_key, quote
from drgen.drill.evalset import EvalQuery
from drgen.drill.store import ObjectStore, StoredObject
from drgen.plan import ComponentPlan

NAME_MAX = 255
"""Qdrant refuses collection names over 255 characters (its collection name validation)."""


class Engine:
    def __init__(self, ctx: Context, component: ComponentPlan, store: ObjectStore | None) -> None:
        assert ctx.scratch_engine is not None
        self.ctx = ctx
        self.store = store
        key = api_key(ctx.scratch_engine.key_env)
        self.api = EngineApi(ctx, "qdrant", ctx.scratch_engine.url, {"api-key": key} if key else {})
        self.pending: str | None = None
        """A collection whose recover request went unanswered (--timeout): Qdrant may still be
        recovering it, and has no API to cancel or follow a recovery."""

    def scratch(self, collection: str) -> str:
        return f"{self.ctx.scratch_name('vectors')}-{collection}"[:NAME_MAX]

    def calls(self, bucket: str) -> list[Call]:
        scratch = self.api.target(f"/collections/{self.scratch('<collection>')}")
        service = "s3" if self.ctx.plan.cloud == "aws" else "storage"
        sign = "presign GetObject" if service == "s3" else "signed URL (v4)"
        return [
            Call(service, sign, f"{bucket}/<collection>/<newest>.snapshot"),
            Call("qdrant", "PUT /collections/{scratch}/snapshots/recover", scratch, "scratch"),
            Call("qdrant", "GET /collections/{scratch}", scratch),
            Call("qdrant", "POST /collections/{scratch}/points/count", scratch),
            Call("qdrant", "POST /collections/{scratch}/points/query", scratch),
            Call("qdrant", "DELETE /collections/{scratch}", scratch, "scratch"),
        ]

    def restore(self, snapshot: Snapshot, restored: Restored) -> None:
        assert self.store is not None
        newest = _newest_per_collection(snapshot.newest_run)
        if not newest:
            raise DrillError(
                f"no .snapshot file in {snapshot.bucket}'s newest run: nothing to recover"
            )
        restored.snapshot = ", ".join(obj.key for obj in newest.values())
        restored.bytes = sum(obj.size for obj in newest.values())
        for collection, obj in sorted(newest.items()):
            expires = min(int(self.ctx.remaining()) + 300, 7 * 86400)
            location = self.store.signed_url(snapshot.bucket, obj, expires)
            body: dict[str, Any] = {"location": location, "priority": "snapshot"}
            stored = self.store.checksum(snapshot.bucket, obj)
            if stored is not None and stored.algorithm == "sha256" and not stored.part_sizes:
                body["checksum"] = stored.hex
            name = self.scratch(collection)
            restored.names[collection] = name
            self.pending = name
            # wait=true: Qdrant answers once the collection is recovered, or with the error.
            try:
                self.api.call(
                    "PUT",
                    f"/collections/{quote(name)}/snapshots/recover?wait=true",
                    body,
                    "scratch",
                    long=True,
                    refusal=RestoreFailedError,
                )
            except RestoreFailedError:
                self.pending = None  # Qdrant answered: the recovery is over, failed
                raise
            self.pending = None
            self._wait_usable(name)

    def _wait_usable(self, name: str) -> None:
        while True:
            info = self.api.call("GET", f"/collections/{quote(name)}")
            status = info.get("result", {}).get("status")
            if status in ("green", "yellow"):  # yellow: optimising, and already searchable
                return
            if status == "red":
                raise RestoreFailedError(f"qdrant: the recovered collection {name} is red (failed)")
            self.ctx.pause(http.POLL_SECONDS)

    def count(self, name: str) -> int:
        answer = self.api.call("POST", f"/collections/{quote(name)}/points/count", {"exact": True})
        return int(answer["result"]["count"])

    def search(self, name: str, query: EvalQuery) -> list[str]:
        info = self.api.call("GET", f"/collections/{quote(name)}")
        vectors = info["result"]["config"]["params"].get("vectors", {})
        body: dict[str, Any] = {"query": list(query.query), "limit": query.k, "with_payload": False}
        if "size" not in vectors:  # named vectors: the evaluation set's column names one
            if query.column not in vectors:
                raise DrillError(
                    f"qdrant: {query.table} has no vector named {query.column!r}"
                    f" ({', '.join(sorted(vectors))})"
                )
            body["using"] = query.column
        answer = self.api.call("POST", f"/collections/{quote(name)}/points/query", body)
        return [str(point["id"]) for point in answer["result"]["points"]]

    def remove(self, restored: Restored) -> list[str]:
        done = []
        for name in restored.names.values():
            self.api.call(
                "DELETE",
                f"/collections/{quote(name)}",
                None,
                "scratch",
                missing_ok=True,
                cleanup=True,
            )
            done.append(f"qdrant collection {name} deleted")
        if self.pending is not None:
            done.append(self._outlast(self.pending))
        return done

    def _outlast(self, name: str) -> str:
        """Delete `name` again whenever an abandoned recovery brings it back, until it has
        stayed absent for a while or CLEANUP_SECONDS have passed."""
        deadline = time.monotonic() + http.CLEANUP_SECONDS
        absent_since = time.monotonic()
        while time.monotonic() < deadline:
            path = f"/collections/{quote(name)}"
            if self.api.call("GET", path, missing_ok=True, cleanup=True):
                self.api.call("DELETE", path, None, "scratch", missing_ok=True, cleanup=True)
                absent_since = time.monotonic()
            elif time.monotonic() - absent_since >= http.CLEANUP_SECONDS / 4:
                return f"qdrant collection {name} stayed absent after the abandoned recovery"
            time.sleep(http.POLL_SECONDS)
        return (
            f"qdrant collection {name}: the abandoned recovery kept recreating it for"
            f" {http.CLEANUP_SECONDS:.0f} s; delete it by hand once Qdrant is done"
        )


def identity(api: EngineApi) -> frozenset[str]:
    """Distributed Qdrant: the cluster's peer ids (GET /cluster, status enabled, `peers`);
    a single node: its telemetry id (GET /telemetry, `result.id`)
    (https://api.qdrant.tech/api-reference/distributed/cluster-status,
    https://api.qdrant.tech/api-reference/service/telemetry)."""
    cluster = api.call("GET", "/cluster").get("result") or {}
    if cluster.get("status") == "enabled":
        return frozenset(f"qdrant peer {peer}" for peer in cluster.get("peers") or {})
    return frozenset({f"qdrant instance {api.call('GET', '/telemetry')['result']['id']}"})


def _newest_per_collection(objects: tuple[StoredObject, ...]) -> dict[str, StoredObject]:
    """The newest `.snapshot` file of each collection: its folder is the collection's name."""
    newest: dict[str, StoredObject] = {}
    for obj in objects:  # newest first
        folder, _, file = obj.key.rpartition("/")
        if not file.endswith(".snapshot") or not folder:
            continue
        newest.setdefault(folder.rpartition("/")[2], obj)
    return newest
