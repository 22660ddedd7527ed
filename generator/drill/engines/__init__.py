"""Snapshot engines restored into a scratch engine through their own APIs.

One module per engine, each with an `Engine` class of the shape below: a new engine is one
module and one line in `ENGINES`. The snapshot drill (drgen.drill.snapshots) finds the newest
snapshot in the recovery bucket and verifies its files; the engine then restores it into the
scratch engine (`--scratch-url`) under scratch names, counts what came back, answers the
evaluation set's queries, and removes what it restored.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Protocol

from drgen.drill.base import Call, Context, DrillError
from drgen.drill.evalset import EvalQuery
from drgen.drill.store import ObjectStore, StoredObject
from drgen.plan import ComponentPlan

ENGINES = {
    "qdrant": "drgen.drill.engines.qdrant",
    "weaviate": "drgen.drill.engines.weaviate",
    "milvus": "drgen.drill.engines.milvus",
    "opensearch": "drgen.drill.engines.opensearch",
}


class RestoreFailedError(DrillError):
    """The engine ran the restore and reported it failed, or what came back is wrong."""


@dataclass(frozen=True)
class Snapshot:
    """The recovery bucket's copy: every current object, and those of the newest run."""

    bucket: str
    objects: tuple[StoredObject, ...]
    """Current objects, newest first."""
    newest_run: tuple[StoredObject, ...]


@dataclass
class Restored:
    """What a restore put into the scratch engine, named before each request is sent so that a
    restore failing half-way is still removed."""

    names: dict[str, str] = field(default_factory=dict)
    """Production collection (class, index) -> its scratch name in the scratch engine."""
    snapshot: str = ""
    """Which snapshot (file, backup id, backup name) was restored."""
    bytes: int | None = None
    """Bytes the engine restored, when it reports them (else the snapshot's files' size)."""
    extra: list[str] = field(default_factory=list)
    """Other scratch resources to remove (a registered repository), as `kind name`."""
    recorded: dict[str, int] = field(default_factory=dict)
    """Production collection -> the points the snapshot itself records it held, for engines
    that record them (milvus-backup's segment row counts); the restored count must match."""


class Engine(Protocol):
    def calls(self, bucket: str) -> list[Call]:
        """Every request the restore, checks and cleanup make (for --dry-run)."""
        ...

    def restore(self, snapshot: Snapshot, restored: Restored) -> None:
        """Restore the newest snapshot into the scratch engine and wait until it completes."""
        ...

    def count(self, name: str) -> int:
        """Points (objects, entities, documents) in the restored collection `name`."""
        ...

    def search(self, name: str, query: EvalQuery) -> list[str]:
        """Ids of the `query.k` nearest neighbours of `query` in the restored `name`."""
        ...

    def remove(self, restored: Restored) -> list[str]:
        """Delete everything restored; what was removed, one line each."""
        ...


def engine_for(ctx: Context, component: ComponentPlan, store: ObjectStore | None) -> Engine:
    """The engine module for the component's engine; `store` is None for --dry-run."""
    module = ENGINES.get(component.engine or "")
    if module is None:
        raise DrillError(f"{component.engine}: no scratch restore in this drgen")
    engine: Engine = importlib.import_module(module).Engine(ctx, component, store)
    return engine


def newest_under(objects: tuple[StoredObject, ...], marker: str) -> tuple[str, str]:
    """(prefix, folder) of the newest object whose key ends with `/marker`: the folder that
    holds it names the backup (Weaviate's backup id, milvus-backup's backup name)."""
    for obj in objects:
        if obj.key.endswith("/" + marker):
            path = obj.key[: -len("/" + marker)]
            prefix, _, folder = path.rpartition("/")
            if folder:
                return prefix, folder
    raise DrillError(f"no {marker} in the bucket: no complete backup to restore")
