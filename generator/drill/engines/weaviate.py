"""Weaviate: the newest backup restored through the scratch engine's backup module.

The stacks start `POST /v1/backups/{backend}` with the scheduled run's name as the backup id
(backend `s3` on AWS, `gcs` on GCP); Weaviate writes `<id>/backup_config.json` and the
nodes' files under it. The restore is `POST /v1/backups/{backend}/{id}/restore`, followed by
`GET` on the same path until its status is SUCCESS, FAILED or CANCELED, and `DELETE` on it
cancels a restore still running (https://weaviate.io/developers/weaviate/api/rest/backups).
Weaviate restores classes under their own names and refuses one that already exists, so the
scratch engine must be a Weaviate of its own whose backup module reads the recovery bucket;
the drill removes only the classes this restore created.
"""

from __future__ import annotations

import json
import re
from typing import Any

from drgen.drill.base import Call, Context, DrillError
from drgen.drill.engines import Restored, RestoreFailedError, Snapshot, newest_under
from drgen.drill.engines.http import EngineApi, api_key, pause, quote
from drgen.drill.evalset import EvalQuery
from drgen.drill.store import ObjectStore
from drgen.plan import ComponentPlan

MARKER = "backup_config.json"
"""The file Weaviate writes into a backup's folder when the backup completes."""

_CLASS = re.compile(r"^[A-Z][_0-9A-Za-z]{0,254}$")
"""Weaviate class names (its schema's rule); nothing else is put into a GraphQL query."""


class Engine:
    def __init__(self, ctx: Context, component: ComponentPlan, store: ObjectStore | None) -> None:
        assert ctx.scratch_engine is not None
        self.ctx = ctx
        self.backend = "s3" if ctx.plan.cloud == "aws" else "gcs"
        key = api_key(ctx.scratch_engine.key_env)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.api = EngineApi(ctx, "weaviate", ctx.scratch_engine.url, headers)
        self.running: str | None = None
        """The backup id of a restore started and not yet finished (cancelled at cleanup)."""

    def calls(self, bucket: str) -> list[Call]:
        restore = self.api.target(f"/v1/backups/{self.backend}/<newest backup id>/restore")
        return [
            Call("weaviate", "GET /v1/schema", self.api.target("/v1/schema")),
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

    def restore(self, snapshot: Snapshot, restored: Restored) -> None:
        _, backup = newest_under(snapshot.newest_run, MARKER)
        restored.snapshot = backup
        restored.bytes = sum(o.size for o in snapshot.objects if f"/{backup}/" in f"/{o.key}")
        schema = self.api.call("GET", "/v1/schema")
        existing = {c["class"] for c in schema.get("classes") or []}
        path = f"/v1/backups/{self.backend}/{quote(backup)}/restore"
        started = self.api.call("POST", path, {}, "scratch", refusal=RestoreFailedError)
        self.running = backup
        clashing = sorted(existing & set(started.get("classes") or []))
        if clashing:
            raise DrillError(f"weaviate: the scratch engine already holds {', '.join(clashing)}")
        for name in started.get("classes") or []:
            if not _CLASS.fullmatch(str(name)):
                raise DrillError(f"weaviate: the restore names a class {name!r} it cannot have")
            restored.names[name] = name
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
            pause(self.ctx)

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
            self.api.call("DELETE", path, None, "scratch", missing_ok=True, cleanup=True)
            done.append(f"weaviate restore of {self.running} cancelled")
        for name in restored.names.values():
            self.api.call(
                "DELETE",
                f"/v1/schema/{quote(name)}",
                None,
                "scratch",
                missing_ok=True,
                cleanup=True,
            )
            done.append(f"weaviate class {name} deleted")
        return done
