"""Weaviate: the newest backup restored through the scratch engine's backup module.

The stacks start `POST /v1/backups/{backend}` with the scheduled run's name as the backup id
(backend `s3` on AWS, `gcs` on GCP); Weaviate writes `<id>/backup_config.json` and the
nodes' files under it. The restore is `POST /v1/backups/{backend}/{id}/restore`, followed by
`GET` on the same path until its status is SUCCESS, FAILED or CANCELED, and `DELETE` on it
cancels a restore still running (https://weaviate.io/developers/weaviate/api/rest/backups).
The restore names the recovery bucket and path of the backup drgen verified (`config.Bucket`,
`config.Path`) and the classes its descriptor lists (`include`). Weaviate restores classes
under their own names and refuses one that already exists, so the scratch engine must be a
Weaviate of its own whose backup module can read the recovery bucket; the drill refuses one
that already holds any of the classes and removes only the classes this restore created.
"""

from __future__ import annotations

import json
import re
from typing import Any

from drgen.drill.base import Call, Context, DrillError
from drgen.drill.engines import Restored, RestoreFailedError, Snapshot, http, newest_under
from drgen.drill.engines.http import EngineApi, api_key, quote
from drgen.drill.evalset import EvalQuery
from drgen.drill.store import ObjectStore, StoredObject
from drgen.plan import ComponentPlan

DESCRIPTOR_MAX_BYTES = 16 * 1024 * 1024
"""A backup's descriptor lists classes and shards; anything larger is not one."""

MARKER = "backup_config.json"
"""The file Weaviate writes into a backup's folder when the backup completes."""

_CLASS = re.compile(r"^[A-Z][_0-9A-Za-z]{0,254}$")
"""Weaviate class names (its schema's rule); nothing else is put into a GraphQL query."""


def identity(api: EngineApi) -> frozenset[str]:
    """The cluster's node names (GET /v1/nodes: https://weaviate.io/developers/weaviate/api/rest#tag/nodes).
    Names are not unique across clusters (two StatefulSets both have weaviate-0): a scratch
    cluster named like production is refused, the safe side; give it its own node names."""
    return frozenset(f"weaviate node {n['name']}" for n in api.call("GET", "/v1/nodes")["nodes"])


def _backup_descriptors(snapshot: Snapshot) -> tuple[StoredObject, ...]:
    """The newest run's objects without the nodes' own descriptors: each node writes
    `<id>/<node>/backup_config.json` beside the backup's `<id>/backup_config.json`, and the
    node's folder is not a backup id."""
    keys = {o.key for o in snapshot.objects if o.key.endswith("/" + MARKER)}

    def node_level(key: str) -> bool:
        parent = key.rsplit("/", 2)[0] if key.count("/") >= 2 else ""
        return bool(parent) and f"{parent}/{MARKER}" in keys

    return tuple(o for o in snapshot.newest_run if not node_level(o.key))


class Engine:
    def __init__(self, ctx: Context, component: ComponentPlan, store: ObjectStore | None) -> None:
        assert ctx.scratch_engine is not None
        self.ctx = ctx
        self.backend = "s3" if ctx.plan.cloud == "aws" else "gcs"
        key = api_key(ctx.scratch_engine.key_env)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.api = EngineApi(ctx, "weaviate", ctx.scratch_engine.url, headers)
        self.store = store
        self.running: str | None = None
        """The backup id of a restore started and not yet finished (cancelled at cleanup)."""

    def calls(self, bucket: str) -> list[Call]:
        restore = self.api.target(f"/v1/backups/{self.backend}/<newest backup id>/restore")
        return [
            Call(self.service_name(), "GetObject", f"{bucket}/<newest backup id>/{MARKER}"),
            Call("weaviate", "GET /v1/schema", self.api.target("/v1/schema")),
            Call("weaviate", "GET /v1/nodes", self.api.target("/v1/nodes")),
            Call("weaviate", "POST /v1/backups/{backend}/{id}/restore", restore, "scratch"),
            Call("weaviate", "GET /v1/backups/{backend}/{id}/restore", restore),
            Call("weaviate", "POST /v1/graphql (Aggregate count, nearVector)", "<classes>"),
            Call(
                "weaviate",
                "DELETE /v1/schema/{class}",
                self.api.target("/v1/schema/<restored class>"),
                "scratch",
            ),
        ]

    def service_name(self) -> str:
        return "s3" if self.backend == "s3" else "storage"

    def restore(self, snapshot: Snapshot, restored: Restored) -> None:
        assert self.store is not None
        prefix, backup = newest_under(_backup_descriptors(snapshot), MARKER)
        restored.snapshot = backup
        restored.bytes = sum(o.size for o in snapshot.objects if f"/{backup}/" in f"/{o.key}")
        descriptor = self._descriptor(snapshot, prefix, backup)
        classes = sorted({c for node in descriptor.values() for c in node})
        for name in classes:
            if not _CLASS.fullmatch(name):
                raise DrillError(f"weaviate: backup {backup} names a class {name!r} it cannot have")
        if not classes:
            raise DrillError(f"weaviate: backup {backup} holds no class to restore")
        # Weaviate restores classes under their own names: one the scratch engine already has
        # is refused before anything is restored, and only classes this restore creates are
        # ever deleted (https://weaviate.io/developers/weaviate/configuration/backups#restore).
        schema = self.api.call("GET", "/v1/schema")
        clashing = sorted({c["class"] for c in schema.get("classes") or []} & set(classes))
        if clashing:
            raise DrillError(
                f"weaviate: the scratch engine already holds {', '.join(clashing)}; the drill"
                " restores only into an engine without the backup's classes"
            )
        # The backup drgen verified, named by bucket and path (RestoreConfig Bucket/Path in
        # Weaviate's OpenAPI: https://weaviate.io/developers/weaviate/api/rest#tag/backups),
        # not whatever bucket the scratch engine's backup module is configured with.
        body: dict[str, Any] = {
            "config": {"Bucket": snapshot.bucket, "Path": prefix},
            "include": classes,
        }
        mapping = self._node_mapping(sorted(descriptor))
        if mapping:
            body["node_mapping"] = mapping
        path = f"/v1/backups/{self.backend}/{quote(backup)}/restore"
        # Recorded before the request: none of them existed a moment ago, so whatever of them
        # the scratch engine holds after a refused or abandoned restore is this restore's.
        for name in classes:
            restored.names[name] = name
        self.running = backup
        self.api.call(
            "POST",
            path,
            body,
            "scratch",
            refusal=RestoreFailedError,
            names=", ".join(classes),
            run_named=False,
        )
        while True:
            status = self.api.call("GET", path)
            state = status.get("status")
            if state == "SUCCESS":
                self.running = None
                return
            if state in ("FAILED", "CANCELED"):
                self.running = None
                reason = status.get("error")
                raise RestoreFailedError(f"weaviate restore of {backup} {state}: {reason}")
            self.ctx.pause(http.POLL_SECONDS)

    def _descriptor(self, snapshot: Snapshot, prefix: str, backup: str) -> dict[str, list[str]]:
        """Node -> classes, from the backup's own backup_config.json (the file drgen verified):
        Weaviate's distributed descriptor keeps `nodes: {name: {classes: [...]}}`."""
        assert self.store is not None
        key = f"{prefix}/{backup}/{MARKER}" if prefix else f"{backup}/{MARKER}"
        obj = next((o for o in snapshot.objects if o.key == key), None)
        if obj is None:
            raise DrillError(f"weaviate: {key} is not in {snapshot.bucket}")
        if obj.size > DESCRIPTOR_MAX_BYTES:
            raise DrillError(f"weaviate: {key} is {obj.size} bytes, not a backup descriptor")
        reading = self.store.read(snapshot.bucket, obj)
        try:
            data = json.loads(b"".join(reading.chunks))
        except ValueError:
            raise DrillError(f"weaviate: {key} is not JSON") from None
        finally:
            reading.close()
        nodes = data.get("nodes") if isinstance(data, dict) else None
        if not isinstance(nodes, dict):
            raise DrillError(f"weaviate: {key} lists no nodes (not a completed backup)")
        return {
            str(node): [str(c) for c in (info or {}).get("classes") or []]
            for node, info in nodes.items()
        }

    def _node_mapping(self, backup_nodes: list[str]) -> dict[str, str]:
        """A one-node backup restored into a one-node scratch engine of another node name
        needs node_mapping (source node -> target node); more nodes are left to Weaviate."""
        try:
            answer = self.api.call("GET", "/v1/nodes")
        except RestoreFailedError:
            raise
        except DrillError:
            return {}  # no node list: Weaviate itself refuses a restore onto missing nodes
        nodes = [n["name"] for n in answer.get("nodes") or []]
        if len(backup_nodes) == 1 and len(nodes) == 1 and backup_nodes != nodes:
            return {backup_nodes[0]: str(nodes[0])}
        return {}

    def _graphql(self, query: str) -> dict[str, Any]:
        answer = self.api.call("POST", "/v1/graphql", {"query": query})
        if answer.get("errors"):
            raise DrillError(f"weaviate: {answer['errors'][0].get('message')}")
        data: dict[str, Any] = answer["data"]
        return data

    def count(self, name: str) -> int:
        data = self._graphql(f"{{ Aggregate {{ {name} {{ meta {{ count }} }} }} }}")
        return int(data["Aggregate"][name][0]["meta"]["count"])

    def search(self, name: str, query: EvalQuery) -> list[str]:
        vector = json.dumps(list(query.query))
        fields = "_additional { id }" if query.id_column == "id" else query.id_column
        data = self._graphql(
            f"{{ Get {{ {name}(nearVector: {{vector: {vector}}}, limit: {query.k})"
            f" {{ {fields} }} }} }}"
        )
        hits = data["Get"][name] or []
        if query.id_column == "id":
            return [str(hit["_additional"]["id"]) for hit in hits]
        return [str(hit[query.id_column]) for hit in hits]

    def remove(self, restored: Restored) -> list[str]:
        done = []
        if self.running is not None:
            path = f"/v1/backups/{self.backend}/{quote(self.running)}/restore"
            self.api.call(
                "DELETE", path, None, "scratch", missing_ok=True, cleanup=True, run_named=False
            )
            done.append(f"weaviate restore of {self.running} cancelled")
        for name in restored.names.values():
            self.api.call(
                "DELETE",
                f"/v1/schema/{quote(name)}",
                None,
                "scratch",
                missing_ok=True,
                cleanup=True,
                run_named=False,
            )
            done.append(f"weaviate class {name} deleted")
        return done
