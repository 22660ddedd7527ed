"""OpenSearch Service: the newest snapshot of the stacks' repository restored under scratch names.

The stacks register the snapshot bucket as the S3 repository `drgen` and name each snapshot
`drgen-<scheduled time>`. The drill registers the recovery bucket on the scratch domain as a
read-only repository of its own (`readonly: true`, so it can never write or retire the
stacks' snapshots), picks the newest snapshot whose state is SUCCESS, and restores its indices
with `rename_pattern`/`rename_replacement` to `drgen-drill-vectors-<run>-<index>`, without the
global state or aliases (POST _snapshot/{repository}/{snapshot}/_restore:
https://docs.opensearch.org/latest/api-reference/snapshots/restore-snapshot/). Progress is
read from `GET {indices}/_recovery` until every shard's stage is DONE. Requests are signed
with SigV4 (service `es`) from boto3's credential chain.
"""

from __future__ import annotations

import time
from typing import Any

from drgen.drill.base import Call, Context, DrillError
from drgen.drill.engines import Restored, RestoreFailedError, Snapshot, http
from drgen.drill.engines.http import EngineApi, Signer, quote
from drgen.drill.evalset import EvalQuery
from drgen.drill.store import ObjectStore
from drgen.plan import ComponentPlan

MISSING_SECONDS = 60.0
"""How long _recovery may answer 404 for the indices of an accepted restore."""

SNAPSHOT_PREFIX = "drgen-"
"""Snapshots the stacks' trigger takes; others in the repository are not theirs."""


class Engine:
    def __init__(self, ctx: Context, component: ComponentPlan, store: ObjectStore | None) -> None:
        scratch = ctx.scratch_engine
        assert scratch is not None
        self.ctx = ctx
        self.role_arn = scratch.role_arn
        self.repository = ctx.scratch_name("repository")
        self.prefix = ctx.scratch_name("vectors")
        self.api = EngineApi(ctx, "opensearch", scratch.url, signer=_sigv4(ctx.region))

    def calls(self, bucket: str) -> list[Call]:
        repo = self.api.target(f"/_snapshot/{self.repository}")
        indices = self.api.target(f"/{self.prefix}-<index>")
        return [
            Call("opensearch", "PUT /_snapshot/{repository} (s3, readonly)", repo, "scratch"),
            Call("opensearch", "GET /_snapshot/{repository}/_all", repo),
            Call(
                "opensearch", "POST /_snapshot/{repository}/{snapshot}/_restore", indices, "scratch"
            ),
            Call("opensearch", "GET /{indices}/_recovery", indices),
            Call("opensearch", "GET /{index}/_count; POST /{index}/_search (knn)", indices),
            Call("opensearch", "DELETE /{index}", indices, "scratch"),
            Call("opensearch", "DELETE /_snapshot/{repository}", repo, "scratch"),
        ]

    def restore(self, snapshot: Snapshot, restored: Restored) -> None:
        if not self.role_arn:
            raise DrillError(
                "opensearch: --scratch-role-arn must name the role the scratch domain reads the"
                " recovery bucket as (the stack's vector_store_snapshot_role output)"
            )
        repo = f"/_snapshot/{quote(self.repository)}"
        restored.extra.append(f"repository {self.repository}")
        settings = {
            "bucket": snapshot.bucket,
            "region": self.ctx.region,
            "role_arn": self.role_arn,
            "readonly": True,
        }
        self.api.call("PUT", repo, {"type": "s3", "settings": settings}, "scratch")
        every = self.api.call("GET", f"{repo}/_all").get("snapshots") or []
        ours = [s for s in every if str(s.get("snapshot", "")).startswith(SNAPSHOT_PREFIX)]
        done = [s for s in ours if s.get("state") == "SUCCESS"]
        if not done:
            raise DrillError(f"no successful drgen snapshot in {snapshot.bucket}'s repository")
        newest = max(done, key=lambda s: int(s.get("start_time_in_millis", 0)))
        restored.snapshot = str(newest["snapshot"])
        indices = sorted(i for i in newest.get("indices") or [] if not str(i).startswith("."))
        if not indices:
            raise DrillError(f"opensearch snapshot {restored.snapshot} holds no index to restore")
        for index in indices:
            restored.names[index] = f"{self.prefix}-{index}"
        answer = self.api.call(
            "POST",
            f"{repo}/{quote(restored.snapshot)}/_restore",
            {
                "indices": ",".join(indices),
                "include_global_state": False,
                "include_aliases": False,
                "rename_pattern": "(.+)",
                "rename_replacement": f"{self.prefix}-$1",
            },
            "scratch",
            refusal=RestoreFailedError,
            names=", ".join(restored.names.values()),
        )
        # Without wait_for_completion the restore answers {"accepted": true} once it has started
        # (https://docs.opensearch.org/latest/api-reference/snapshots/restore-snapshot/).
        if answer.get("accepted") is not True:
            raise RestoreFailedError(
                f"opensearch did not accept the restore of {restored.snapshot}: {answer}"
            )
        restored.bytes = self._wait(list(restored.names.values()))

    def _wait(self, names: list[str]) -> int:
        """Poll the restored indices' recovery until every shard is DONE; bytes recovered.
        The indices exist as soon as an accepted restore starts, so a 404 that persists for
        MISSING_SECONDS means the restore never created them."""
        missing_since = time.monotonic()
        while True:
            recovery = self.api.call("GET", f"/{','.join(names)}/_recovery", missing_ok=True)
            if recovery:
                missing_since = time.monotonic()
            elif time.monotonic() - missing_since > MISSING_SECONDS:
                raise RestoreFailedError(
                    f"opensearch: the restored indices {', '.join(names)} did not appear within"
                    f" {MISSING_SECONDS:.0f} s of an accepted restore (_recovery answers 404)"
                )
            shards = [s for n in names for s in recovery.get(n, {}).get("shards", [])]
            present = all(n in recovery for n in names) and shards
            if present and all(s.get("stage") == "DONE" for s in shards):
                return sum(
                    int(s.get("index", {}).get("size", {}).get("recovered_in_bytes", 0))
                    for s in shards
                )
            self.ctx.pause(http.POLL_SECONDS)

    def count(self, name: str) -> int:
        return int(self.api.call("GET", f"/{quote(name)}/_count")["count"])

    def search(self, name: str, query: EvalQuery) -> list[str]:
        body: dict[str, Any] = {
            "size": query.k,
            "_source": [query.id_column] if query.id_column != "id" else False,
            "query": {"knn": {query.column: {"vector": list(query.query), "k": query.k}}},
        }
        hits = self.api.call("POST", f"/{quote(name)}/_search", body)["hits"]["hits"]
        if query.id_column == "id":
            return [str(hit["_id"]) for hit in hits]
        return [str(hit["_source"][query.id_column]) for hit in hits]

    def remove(self, restored: Restored) -> list[str]:
        done = []
        for name in restored.names.values():
            self.api.call(
                "DELETE", f"/{quote(name)}", None, "scratch", missing_ok=True, cleanup=True
            )
            done.append(f"opensearch index {name} deleted")
        if restored.extra:
            repo = f"/_snapshot/{quote(self.repository)}"
            self.api.call("DELETE", repo, None, "scratch", missing_ok=True, cleanup=True)
            done.append(f"opensearch repository {self.repository} unregistered")
        return done


def identity(api: EngineApi) -> frozenset[str]:
    """The cluster's cluster_uuid (GET /: https://docs.opensearch.org/latest/api-reference/),
    unique to a cluster; "_na_" before the cluster has elected a manager."""
    uuid = str(api.call("GET", "/")["cluster_uuid"])
    return frozenset() if uuid in ("", "_na_") else frozenset({f"opensearch cluster {uuid}"})


def _sigv4(region: str) -> Signer:
    """Sign each request for OpenSearch Service with the chain's credentials, resolved once."""
    frozen: list[Any] = []

    def sign(method: str, url: str, body: bytes | None, headers: dict[str, str]) -> dict[str, str]:
        try:
            import boto3
            from botocore.auth import SigV4Auth
            from botocore.awsrequest import AWSRequest
        except ImportError as error:
            raise DrillError("the drill needs boto3: pip install 'drgen[drill]'") from error
        if not frozen:
            credentials = boto3.session.Session().get_credentials()
            if credentials is None:
                raise DrillError(
                    "no AWS credentials found (environment, ~/.aws, or an instance or task role)"
                )
            frozen.append(credentials.get_frozen_credentials())
        request = AWSRequest(method=method, url=url, data=body, headers=headers)
        SigV4Auth(frozen[0], "es", region).add_auth(request)
        return dict(request.headers.items())

    return sign
