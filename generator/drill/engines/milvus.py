"""Milvus: the newest milvus-backup backup restored under suffixed collection names.

The stacks ask milvus-backup's REST server for `POST /api/v1/create` with the run's name
(hyphens as underscores); it writes `<root>/<name>/meta/backup_meta.json` and the binlogs
under it. The drill asks the scratch deployment's milvus-backup server (`--scratch-url`) for
`POST /api/v1/restore` of that backup from the recovery bucket (`bucket_name`, `path`) with a
`collection_suffix` and `restore_index`, and polls `GET /api/v1/get_restore?id=` with the task
id the POST answered (`data.id`; RestoreBackupRequest has no id of the caller's) until the
task's `state_code` is SUCCESS (2) or FAIL (3) (milvus-backup's README and
core/proto/backup.proto: RestoreBackupRequest, RestoreBackupResponse, RestoreTaskStateCode).
Minimum milvus-backup: v0.4.0 (its README's compatibility table for Milvus 2.3 and later; the
bucket_name/path override of RestoreBackupRequest is in its proto); older servers ignore
`restore_index`. A restore cannot be cancelled: at cleanup the drill waits for the task to end
(within CLEANUP_SECONDS), then lists the scratch Milvus's collections and drops every one that
carries this run's suffix. Counting, searching and dropping go to the
scratch Milvus's RESTful API v2 (`--scratch-search-url`): collections/load, get_load_state,
get_stats, entities/search, collections/drop (https://milvus.io/api-reference/restful/v2.5.x).
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from drgen.drill.base import Call, Context, DrillError, Effect
from drgen.drill.engines import Restored, RestoreFailedError, Snapshot, http, newest_under
from drgen.drill.engines.http import EngineApi, api_key, quote
from drgen.drill.evalset import EvalQuery
from drgen.drill.store import ObjectStore
from drgen.plan import ComponentPlan

META_MAX_BYTES = 64 * 1024 * 1024
"""Bound on a backup's collection or segment metadata file read into memory."""

MARKER = "meta/backup_meta.json"
"""The backup's metadata file, written when milvus-backup finishes a backup."""

SUCCESS, FAIL, TIMEOUT = 2, 3, 4
"""milvus-backup's RestoreTaskStateCode values (INITIAL 0 and EXECUTING 1 are still running)."""

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")
"""Milvus collection names: letters, digits and underscores, not starting with a digit."""


class Engine:
    def __init__(self, ctx: Context, component: ComponentPlan, store: ObjectStore | None) -> None:
        scratch = ctx.scratch_engine
        assert scratch is not None
        self.ctx = ctx
        self.backup = EngineApi(ctx, "milvus-backup", scratch.url)
        key = api_key(scratch.key_env)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.milvus = (
            EngineApi(ctx, "milvus", scratch.search_url, headers) if scratch.search_url else None
        )
        self.suffix = "_" + ctx.scratch_name("vectors").replace("-", "_")
        self.store = store
        self.task = ""
        """milvus-backup's id of the restore task (from its answer to the POST)."""
        self.restoring = False
        """Whether that task may still be creating collections."""

    def _search_api(self) -> EngineApi:
        if self.milvus is None:
            raise DrillError(
                "milvus: --scratch-search-url must name the scratch Milvus's REST endpoint"
                " (--scratch-url is its milvus-backup server)"
            )
        return self.milvus

    def calls(self, bucket: str) -> list[Call]:
        where = self.milvus.base_url if self.milvus else "<--scratch-search-url>"
        collection = f"{where} <collection>{self.suffix}"
        restore, status = (self.backup.target(f"/api/v1/{p}") for p in ("restore", "get_restore"))
        return [
            Call("milvus-backup", f"POST /api/v1/restore (from {bucket})", restore, "scratch"),
            Call("milvus-backup", "GET /api/v1/get_restore", status),
            Call("milvus", "POST /v2/vectordb/collections/load", collection, "scratch"),
            Call("milvus", "POST /v2/vectordb/collections/get_load_state", collection),
            Call("milvus", "POST /v2/vectordb/collections/get_stats", collection),
            Call("milvus", "POST /v2/vectordb/entities/search", collection),
            Call("milvus", "POST /v2/vectordb/collections/list", where),
            Call("milvus", "POST /v2/vectordb/collections/drop", collection, "scratch"),
        ]

    def restore(self, snapshot: Snapshot, restored: Restored) -> None:
        self._search_api()
        root, name = newest_under(snapshot.newest_run, MARKER)
        restored.snapshot = name
        restored.bytes = sum(o.size for o in snapshot.objects if f"/{name}/" in f"/{o.key}")
        restored.recorded = self._recorded_rows(snapshot, f"{root}/{name}" if root else name)
        started = self._backup_call(
            "POST",
            "/api/v1/restore",
            {
                "async": True,
                "backup_name": name,
                "bucket_name": snapshot.bucket,
                "path": root,
                "collection_suffix": self.suffix,
                "restore_index": True,
            },
            names=f"collections *{self.suffix}",
        )
        self.restoring = True
        self._note(started, restored)
        task = str((started.get("data") or {}).get("id") or "")
        if not task:
            raise RestoreFailedError(
                "milvus-backup answered the restore without a task id (data.id): an async"
                " restore needs milvus-backup v0.4.0 or later"
            )
        self.task = task
        # Cleanup runs for the task even before any answer names a collection it created.
        restored.extra.append(f"restore task {task} (collections *{self.suffix})")
        while True:
            status = self._backup_call("GET", f"/api/v1/get_restore?id={quote(task)}", read=True)
            self._note(status, restored)
            state = status.get("data", {}).get("state_code")
            if state in (SUCCESS, FAIL, TIMEOUT):
                self.restoring = False
            if state == SUCCESS:
                break
            if state in (FAIL, TIMEOUT):
                reason = status["data"].get("errorMessage") or status.get("msg")
                raise RestoreFailedError(f"milvus-backup restore of {name} failed: {reason}")
            self.ctx.pause(http.POLL_SECONDS)
        for target in restored.names.values():
            self._load(target)

    def _recorded_rows(self, snapshot: Snapshot, folder: str) -> dict[str, int]:
        """Rows per collection as the backup records them: meta/collection_meta.json names
        each collection_id, meta/segment_meta.json gives each segment's num_of_rows
        (core/proto/backup.proto: CollectionBackupInfo, SegmentBackupInfo). {} when absent."""
        collections = self._meta(snapshot, f"{folder}/meta/collection_meta.json")
        segments = self._meta(snapshot, f"{folder}/meta/segment_meta.json")
        if not collections or not segments:
            return {}
        names = {c.get("collection_id"): str(c.get("collection_name")) for c in collections}
        rows: dict[str, int] = {}
        for segment in segments:
            name = names.get(segment.get("collection_id"))
            if name is not None:
                rows[name] = rows.get(name, 0) + int(segment.get("num_of_rows") or 0)
        return rows

    def _meta(self, snapshot: Snapshot, key: str) -> list[dict[str, Any]]:
        obj = next((o for o in snapshot.objects if o.key == key), None)
        if obj is None or self.store is None or obj.size > META_MAX_BYTES:
            return []
        reading = self.store.read(snapshot.bucket, obj)
        try:
            data = json.loads(b"".join(reading.chunks))
        except ValueError:
            raise DrillError(f"milvus: {key} is not JSON") from None
        finally:
            reading.close()
        infos = data.get("infos") if isinstance(data, dict) else None
        return [i for i in infos or [] if isinstance(i, dict)]

    def _note(self, answer: dict[str, Any], restored: Restored) -> None:
        for task in answer.get("data", {}).get("collection_restore_tasks") or []:
            target = str(task.get("target_collection_name", ""))
            if not target.endswith(self.suffix) or not _NAME.fullmatch(target):
                continue  # only collections carrying this run's suffix are the drill's
            restored.names[target[: -len(self.suffix)]] = target

    def _backup_call(
        self,
        method: str,
        path: str,
        body: object = None,
        read: bool = False,
        names: str = "",
        cleanup: bool = False,
    ) -> dict[str, Any]:
        effect: Effect = "read" if read else "scratch"
        answer = self.backup.call(
            method, path, body, effect, refusal=RestoreFailedError, names=names, cleanup=cleanup
        )
        if answer.get("code") not in (0, None):
            # milvus-backup answers a refused restore (no such backup, ...) with a code.
            raise RestoreFailedError(f"milvus-backup {path.split('?')[0]}: {answer.get('msg')}")
        return answer

    def _milvus(
        self, path: str, body: dict[str, Any], effect: Effect = "read", cleanup: bool = False
    ) -> dict[str, Any]:
        name = str(body.get("collectionName", ""))
        answer = self._search_api().call("POST", path, body, effect, cleanup=cleanup, names=name)
        if answer.get("code") not in (0, None):
            raise DrillError(f"milvus {path}: {answer.get('message')}")
        data: dict[str, Any] = answer.get("data") or {}
        return data if isinstance(data, dict) else {"items": data}

    def _load(self, name: str) -> None:
        body = {"collectionName": name}
        self._milvus("/v2/vectordb/collections/load", body, "scratch")
        while (
            self._milvus("/v2/vectordb/collections/get_load_state", body).get("loadState")
            != "LoadStateLoaded"
        ):
            self.ctx.pause(http.POLL_SECONDS)

    def count(self, name: str) -> int:
        stats = self._milvus("/v2/vectordb/collections/get_stats", {"collectionName": name})
        return int(stats["rowCount"])

    def search(self, name: str, query: EvalQuery) -> list[str]:
        hits = self._milvus(
            "/v2/vectordb/entities/search",
            {
                "collectionName": name,
                "data": [list(query.query)],
                "annsField": query.column,
                "limit": query.k,
                "outputFields": [query.id_column],
            },
        )["items"]
        return [str(hit[query.id_column]) for hit in hits]

    def remove(self, restored: Restored) -> list[str]:
        done = []
        if self.restoring and self.task:
            done.append(self._wait_for_task_end())
        names = set(restored.names.values())
        if self.milvus is not None:
            # Collections the task created that no answer named yet (it ran past --timeout).
            listed = self._milvus("/v2/vectordb/collections/list", {}, cleanup=True)
            names |= {
                str(n)
                for n in listed.get("items") or []
                if str(n).endswith(self.suffix) and _NAME.fullmatch(str(n))
            }
        for name in sorted(names):
            drop = {"collectionName": name}
            self._milvus("/v2/vectordb/collections/drop", drop, "scratch", cleanup=True)
            done.append(f"milvus collection {name} dropped")
        return done

    def _wait_for_task_end(self) -> str:
        """milvus-backup cannot cancel a restore: wait (bounded) until it stops creating."""
        deadline = time.monotonic() + http.CLEANUP_SECONDS
        while time.monotonic() < deadline:
            status = self._backup_call(
                "GET", f"/api/v1/get_restore?id={quote(self.task)}", read=True, cleanup=True
            )
            if status.get("data", {}).get("state_code") in (SUCCESS, FAIL, TIMEOUT):
                self.restoring = False
                return f"milvus-backup restore task {self.task} ended"
            time.sleep(http.POLL_SECONDS)
        return (
            f"milvus-backup restore task {self.task} still running after"
            f" {http.CLEANUP_SECONDS:.0f} s: drop collections ending in {self.suffix} once it ends"
        )
