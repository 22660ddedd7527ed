"""`drgen drill` for a Bigtable feature store, against the Bigtable APIs' documented contract.

No server that restores Bigtable backups can run here (the emulator needs the gcloud SDK and has
no backups), so the real google-cloud-bigtable clients talk over gRPC to a loopback stand-in
(tests/grpc_fake.py) that decodes each request with its proto type and answers as the API
reference describes, errors included:
- RestoreTable, CreateBackup, ListBackups, GetTable, DeleteTable, DeleteBackup, CreateInstance
  (ids, display name, clusters, labels as CreateInstanceRequest, Instance and Cluster define
  them), DeleteInstance (deletes the instance and all its tables):
  https://cloud.google.com/bigtable/docs/reference/admin/rpc/google.bigtable.admin.v2
- ReadRows (rows_limit, row_keys; chunked cells with commit_row):
  https://cloud.google.com/bigtable/docs/reference/data/rpc/google.bigtable.v2
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.cloud.bigtable_admin_v2 import types as admin
from google.cloud.bigtable_v2.types import ReadRowsRequest, ReadRowsResponse
from google.longrunning.operations_pb2 import Operation
from google.protobuf import empty_pb2

from drgen.drill import bigtable
from drgen.drill.base import Context
from tests.conftest import ROOT
from tests.drill_servers import gcs_endpoint_fixture, gcs_fixture  # noqa: F401 (fixtures)
from tests.grpc_fake import FakeApi, PendingOperation

# The data client announces the emulator variable on every connection.
pytestmark = pytest.mark.filterwarnings("ignore:Connecting to Bigtable emulator:RuntimeWarning")

PROJECT = "drgen-test"
CATALOG = ROOT / "examples/catalog-search/workload.yaml"
RECS = ROOT / "examples/recommendations/workload.yaml"
P = f"projects/{PROJECT}/instances"
ADMIN = "/google.bigtable.admin.v2.BigtableTableAdmin/"
INSTANCES = "/google.bigtable.admin.v2.BigtableInstanceAdmin/"
ID = re.compile(r"[_a-zA-Z0-9][-_.a-zA-Z0-9]{0,49}")
"""Table and backup ids (CreateTableRequest.table_id, CreateBackupRequest.backup_id)."""
INSTANCE_ID = re.compile(r"[a-z][a-z0-9-]+[a-z0-9]")
"""CreateInstanceRequest.instance_id: `[a-z][a-z0-9\\-]+[a-z0-9]`, 6-33 characters long;
CreateClusterRequest.cluster_id: the same, 6-30 characters."""
LABEL = re.compile(r"[a-z][a-z0-9_-]{0,62}")
"""Instance.labels keys (values: [a-z0-9_-]{0,63}); at most 64 labels."""

Rows = dict[bytes, dict[tuple[str, bytes], bytes]]


class FakeBigtable:
    """Instances, tables, backups and restores as the Bigtable Admin and Data APIs keep them."""

    def __init__(self) -> None:
        self.api = FakeApi()
        self.clusters: set[str] = set()
        self.tables: dict[str, Rows] = {}
        self.backups: dict[str, tuple[admin.Backup, Rows]] = {}
        self.restore_polls = 2
        self.backup_polls = 1
        self.instance_polls = 1
        self.keys: dict[str, str] = {}
        """The customer-managed key of each cluster (`projects/../clusters/<id>`)."""
        self.encryption: admin.EncryptionInfo.EncryptionType | None = None
        """Overrides what GetTable reports (a table under Google's default encryption)."""
        api = self.api
        api.unary(
            INSTANCES + "CreateInstance", admin.CreateInstanceRequest, Operation, self.new_instance
        )
        api.unary(
            INSTANCES + "DeleteInstance",
            admin.DeleteInstanceRequest,
            empty_pb2.Empty,
            self.delete_instance,
        )
        api.unary(
            ADMIN + "ListBackups",
            admin.ListBackupsRequest,
            admin.ListBackupsResponse,
            self.list_backups,
        )
        api.unary(ADMIN + "CreateBackup", admin.CreateBackupRequest, Operation, self.create_backup)
        api.unary(ADMIN + "RestoreTable", admin.RestoreTableRequest, Operation, self.restore)
        api.unary(ADMIN + "GetTable", admin.GetTableRequest, admin.Table, self.get_table)
        api.unary(ADMIN + "DeleteTable", admin.DeleteTableRequest, empty_pb2.Empty, self.delete)
        api.unary(ADMIN + "DeleteBackup", admin.DeleteBackupRequest, empty_pb2.Empty, self.delete)
        api.stream(
            "/google.bigtable.v2.Bigtable/ReadRows",
            ReadRowsRequest,
            ReadRowsResponse,
            self.read_rows,
        )

    def instance_exists(self, instance: str) -> bool:
        return any(c.startswith(instance + "/clusters/") for c in self.clusters)

    def new_instance(self, request: Any, context: grpc.ServicerContext) -> Any:
        if not re.fullmatch(r"projects/[^/]+", request.parent):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"bad parent {request.parent}")
        name = f"{request.parent}/instances/{request.instance_id}"
        if not (6 <= len(request.instance_id) <= 33 and INSTANCE_ID.fullmatch(request.instance_id)):
            context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, f"bad instance_id {request.instance_id}"
            )
        if not 4 <= len(request.instance.display_name) <= 30:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "display_name must be 4-30 characters")
        labels = request.instance.labels
        if len(labels) > 64 or not all(
            LABEL.fullmatch(k) and re.fullmatch(r"[a-z0-9_-]{0,63}", v) for k, v in labels.items()
        ):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"bad labels {dict(labels)}")
        if not request.clusters:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "at least one cluster is required")
        if self.instance_exists(name):
            context.abort(grpc.StatusCode.ALREADY_EXISTS, f"instance {name} exists")
        for cluster_id, cluster in request.clusters.items():
            if not (6 <= len(cluster_id) <= 30 and INSTANCE_ID.fullmatch(cluster_id)):
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"bad cluster_id {cluster_id}")
            if not re.fullmatch(rf"{request.parent}/locations/[a-z0-9-]+", cluster.location):
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"bad location {cluster.location}")
        for cluster_id, cluster in request.clusters.items():
            self.clusters.add(f"{name}/clusters/{cluster_id}")
            self.keys[f"{name}/clusters/{cluster_id}"] = cluster.encryption_config.kms_key_name
        return self.api.operation(
            f"operations/instance-{request.instance_id}",
            PendingOperation(self.instance_polls, admin.Instance(name=name)),
        )

    def delete_instance(self, request: Any, context: grpc.ServicerContext) -> Any:
        if not self.instance_exists(request.name):
            context.abort(grpc.StatusCode.NOT_FOUND, f"instance {request.name} not found")
        inside = request.name + "/"
        self.clusters = {c for c in self.clusters if not c.startswith(inside)}
        self.tables = {t: rows for t, rows in self.tables.items() if not t.startswith(inside)}
        self.backups = {b: kept for b, kept in self.backups.items() if not b.startswith(inside)}
        return empty_pb2.Empty()

    def list_backups(self, request: Any, context: grpc.ServicerContext) -> Any:
        instance, _, cluster = request.parent.partition("/clusters/")
        if not self.instance_exists(instance) or (
            cluster != "-" and request.parent not in self.clusters
        ):
            context.abort(grpc.StatusCode.NOT_FOUND, f"{request.parent} not found")
        prefix = instance + "/clusters/" + ("" if cluster == "-" else cluster + "/")
        found = [b for name, (b, _) in self.backups.items() if name.startswith(prefix)]
        return admin.ListBackupsResponse(backups=found)

    def create_backup(self, request: Any, context: grpc.ServicerContext) -> Any:
        if request.parent not in self.clusters:
            context.abort(grpc.StatusCode.NOT_FOUND, f"cluster {request.parent} not found")
        if not ID.fullmatch(request.backup_id):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"bad backup_id {request.backup_id}")
        source = request.backup.source_table
        if source not in self.tables or not source.startswith(
            request.parent.split("/clusters/")[0] + "/"
        ):
            context.abort(grpc.StatusCode.NOT_FOUND, f"table {source} not in the instance")
        received = datetime.datetime.now(datetime.UTC)
        if request.backup.expire_time < received + datetime.timedelta(hours=6):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "expire_time under 6 hours away")
        name = f"{request.parent}/backups/{request.backup_id}"
        backup = admin.Backup(
            name=name,
            source_table=source,
            start_time=datetime.datetime.now(datetime.UTC),
            end_time=datetime.datetime.now(datetime.UTC),
            expire_time=request.backup.expire_time,
            size_bytes=4096,
            state=admin.Backup.State.READY,
        )
        self.backups[name] = (backup, {k: dict(v) for k, v in self.tables[source].items()})
        return self.api.operation(
            f"operations/backup-{request.backup_id}",
            # Cancelling stops the creation and deletes the backup (backups.create reference).
            PendingOperation(
                self.backup_polls, backup, on_cancel=lambda: self.backups.pop(name, None)
            ),
        )

    def restore(self, request: Any, context: grpc.ServicerContext) -> Any:
        if not re.fullmatch(rf"{P}/[^/]+", request.parent) or not self.instance_exists(
            request.parent
        ):
            context.abort(grpc.StatusCode.NOT_FOUND, f"instance {request.parent} not found")
        if not ID.fullmatch(request.table_id):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"bad table_id {request.table_id}")
        if request.backup not in self.backups:
            context.abort(grpc.StatusCode.NOT_FOUND, f"backup {request.backup} not found")
        name = f"{request.parent}/tables/{request.table_id}"
        if name in self.tables:
            context.abort(grpc.StatusCode.ALREADY_EXISTS, f"table {name} exists")
        self.tables[name] = {k: dict(v) for k, v in self.backups[request.backup][1].items()}
        metadata = admin.RestoreTableMetadata(name=name, source_type=admin.RestoreSourceType.BACKUP)
        return self.api.operation(
            f"operations/restore-{request.table_id}",
            PendingOperation(self.restore_polls, admin.Table(name=name), metadata),
        )

    def get_table(self, request: Any, context: grpc.ServicerContext) -> Any:
        if request.name not in self.tables:
            context.abort(grpc.StatusCode.NOT_FOUND, f"table {request.name} not found")
        assert request.view == admin.Table.View.ENCRYPTION_VIEW
        instance = request.name.split("/tables/")[0]
        states = {}
        for cluster in (c for c in self.clusters if c.startswith(instance + "/")):
            key = self.keys.get(cluster, "")
            cmek = admin.EncryptionInfo.EncryptionType.CUSTOMER_MANAGED_ENCRYPTION
            default = admin.EncryptionInfo.EncryptionType.GOOGLE_DEFAULT_ENCRYPTION
            info = admin.EncryptionInfo(
                encryption_type=self.encryption or (cmek if key else default),
                kms_key_version=f"{key}/cryptoKeyVersions/1" if key and not self.encryption else "",
            )
            states[cluster.rsplit("/", 1)[1]] = admin.Table.ClusterState(encryption_info=[info])
        return admin.Table(name=request.name, cluster_states=states)

    def delete(self, request: Any, context: grpc.ServicerContext) -> Any:
        held: dict[str, Any] = self.tables if "/tables/" in request.name else self.backups
        if request.name not in held:
            context.abort(grpc.StatusCode.NOT_FOUND, f"{request.name} not found")
        del held[request.name]
        return empty_pb2.Empty()

    def read_rows(self, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        if request.table_name not in self.tables:
            context.abort(grpc.StatusCode.NOT_FOUND, f"table {request.table_name} not found")
        rows = self.tables[request.table_name]
        keys = sorted(set(request.rows.row_keys) & set(rows) if request.rows.row_keys else rows)
        if request.rows_limit:
            keys = keys[: request.rows_limit]
        for key in keys:
            cells = sorted(rows[key].items())
            chunks = [
                ReadRowsResponse.CellChunk(
                    row_key=key,
                    family_name=family,
                    qualifier=qualifier,
                    timestamp_micros=1000,
                    value=value,
                    commit_row=n == len(cells) - 1,
                )
                for n, ((family, qualifier), value) in enumerate(cells)
            ]
            yield ReadRowsResponse(chunks=chunks)


def _rows(count: int, value: bytes = b"0.5") -> Rows:
    return {f"user#{n:03}".encode(): {("f", b"ctr_7d"): value} for n in range(count)}


@pytest.fixture(name="bt")
def bt_fixture(gcs: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeBigtable]:
    fake = FakeBigtable()
    monkeypatch.setenv("BIGTABLE_EMULATOR_HOST", fake.api.start())
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", PROJECT)
    monkeypatch.setattr(bigtable, "POLL_SECONDS", 0.05)
    try:
        yield fake
    finally:
        fake.api.stop()


def _catalog_deployed(fake: FakeBigtable, copies: bool = True) -> None:
    """catalog-search (tier 2): daily backups in the primary, copies in the secondary's DR
    instance, and production changed since (one row updated)."""
    fake.clusters |= {
        f"{P}/catalog-search-features/clusters/catalog-search-pri",
        f"{P}/catalog-search-dr/clusters/catalog-search-dr",
    }
    table = f"{P}/catalog-search-features/tables/features"
    now = datetime.datetime.now(datetime.UTC)
    fake.tables[table] = _rows(30)
    fake.tables[table][b"user#007"] = {("f", b"ctr_7d"): b"0.9"}
    for age_hours, cluster in ((2, "catalog-search-pri"), (26, "catalog-search-pri")):
        _backup(
            fake,
            f"{P}/catalog-search-features/clusters/{cluster}/backups/daily-{age_hours}",
            age_hours,
            table,
            now,
        )
    if copies:
        for age_hours in (8, 32):
            _backup(
                fake,
                f"{P}/catalog-search-dr/clusters/catalog-search-dr/backups/copy-{age_hours}",
                age_hours,
                table,
                now,
                copied_from=f"daily-{age_hours}",
            )


def _backup(
    fake: FakeBigtable,
    name: str,
    age_hours: int,
    table: str,
    now: datetime.datetime,
    copied_from: str = "",
) -> None:
    start = now - datetime.timedelta(hours=age_hours)
    backup = admin.Backup(
        name=name,
        source_table=table,
        source_backup=copied_from,
        start_time=start,
        end_time=start + datetime.timedelta(minutes=3),
        expire_time=now + datetime.timedelta(days=10),
        size_bytes=(30 + age_hours) * 1024 * 1024,  # older backups are larger
        state=admin.Backup.State.READY,
    )
    fake.backups[name] = (backup, _rows(30))


def _drill(run_cli: Any, workload: Path, folder: Path, *extra: str) -> dict[str, Any]:
    result = run_cli(
        "drill", str(workload), "--component", "feature_store", "--evidence", str(folder), *extra
    )
    assert "Traceback" not in result.output
    [path] = [p for p in folder.glob("*.json") if not p.name.endswith(".receipt.json")]
    report = json.loads(path.read_text())
    return dict(next(c for c in report["components"] if c["component"] == "feature_store"))


def _scratch(fake: FakeBigtable) -> str:
    [create] = fake.api.called("CreateInstance")
    return f"{create.parent}/instances/{create.instance_id}"


def _written(fake: FakeBigtable) -> set[str]:
    """Every resource a request created or deleted (or would have)."""
    names = {f"{r.parent}/tables/{r.table_id}" for r in fake.api.called("RestoreTable")}
    names |= {f"{r.parent}/backups/{r.backup_id}" for r in fake.api.called("CreateBackup")}
    names |= {f"{r.parent}/instances/{r.instance_id}" for r in fake.api.called("CreateInstance")}
    for method in ("DeleteTable", "DeleteBackup", "DeleteInstance"):
        names |= {r.name for r in fake.api.called(method)}
    return names


def test_tier2_restores_the_newest_copy_into_a_scratch_instance(
    bt: FakeBigtable, run_cli: Any, tmp_path: Path
) -> None:
    _catalog_deployed(bt)
    production = set(bt.clusters)
    features = _drill(run_cli, CATALOG, tmp_path)
    assert features["outcome"] == "pass", features["failures"]
    [listed] = bt.api.called("ListBackups")[:1]
    assert listed.parent == f"{P}/catalog-search-dr/clusters/catalog-search-dr"
    # A one-cluster instance of the drill's own, in the drilled region under its key.
    [create] = bt.api.called("CreateInstance")
    assert create.instance_id.startswith("drgen-drill-") and len(create.instance_id) <= 33
    [(cluster_id, cluster)] = create.clusters.items()
    assert cluster.location == f"projects/{PROJECT}/locations/asia-northeast1-b"
    assert cluster.encryption_config.kms_key_name == (
        f"projects/{PROJECT}/locations/asia-northeast1/keyRings/drgen-catalog-search"
        "/cryptoKeys/data"
    )
    assert create.instance.labels["drgen-drill"] in create.instance_id
    [restore] = bt.api.called("RestoreTable")
    assert restore.parent == _scratch(bt) and restore.table_id == "features"
    assert restore.backup == f"{P}/catalog-search-dr/clusters/catalog-search-dr/backups/copy-8"
    # Polled until done (one poll for the instance, two for the restore), then measured.
    assert len(bt.api.called("GetOperation")) == 3
    assert features["restore_seconds"] is not None
    assert 8 * 3600 <= features["data_age_seconds"] < 8 * 3600 + 300
    assert features["bytes"] == 38 * 1024 * 1024 and features["throughput_mb_s"] > 0
    assert features["measurements"]["copy_behind_primary_seconds"] == 6 * 3600
    assert features["integrity"]["sampled"] == 25
    assert features["integrity"]["changed_since_backup"] == ["user#007"]
    assert features["integrity"]["identical"] == 24
    assert features["integrity"]["encryption"] == {cluster_id: ["CUSTOMER_MANAGED_ENCRYPTION"]}
    # Production was only read: nothing was created or deleted outside the scratch instance,
    # which is gone with its table.
    [production_read] = [
        r for r in bt.api.called("ReadRows") if "catalog-search-features" in r.table_name
    ]
    assert len(production_read.rows.row_keys) == 25
    assert all(name.startswith(_scratch(bt)) for name in _written(bt))
    assert [d.name for d in bt.api.called("DeleteInstance")] == [_scratch(bt)]
    assert bt.clusters == production
    assert set(bt.tables) == {f"{P}/catalog-search-features/tables/features"}


def _recommendations_deployed(fake: FakeBigtable, backed_up: bool = True) -> str:
    instance = f"{P}/recommendations-features"
    fake.clusters |= {
        f"{instance}/clusters/recommendations-pri",
        f"{instance}/clusters/recommendations-sec",
    }
    fake.tables[f"{instance}/tables/features"] = _rows(30)
    if backed_up:  # automated backups, taken in every cluster of the instance
        now = datetime.datetime.now(datetime.UTC)
        for role in ("pri", "sec"):
            cluster = f"{instance}/clusters/recommendations-{role}"
            _backup(fake, f"{cluster}/backups/auto-1", 5, f"{instance}/tables/features", now)
    return instance


def test_tier1_replicated_instance_restores_its_recovery_clusters_backup_and_takes_none(
    bt: FakeBigtable, run_cli: Any, tmp_path: Path
) -> None:
    instance = _recommendations_deployed(bt)
    backups = set(bt.backups)
    features = _drill(run_cli, RECS, tmp_path)
    assert features["outcome"] == "pass", features["failures"]
    assert bt.api.called("CreateBackup") == []  # a backup would be a write into production
    [restore] = bt.api.called("RestoreTable")
    assert restore.backup == f"{instance}/clusters/recommendations-sec/backups/auto-1"
    assert restore.parent == _scratch(bt)
    [create] = bt.api.called("CreateInstance")
    [cluster] = create.clusters.values()
    assert cluster.location == f"projects/{PROJECT}/locations/us-east1-b"  # the secondary
    assert features["integrity"]["identical"] == 25
    assert 5 * 3600 <= features["data_age_seconds"] < 5 * 3600 + 300
    assert all(name.startswith(_scratch(bt)) for name in _written(bt))
    assert set(bt.backups) == backups and set(bt.tables) == {f"{instance}/tables/features"}


def test_a_replicated_instance_without_backups_is_reported_not_backed_up_by_the_drill(
    bt: FakeBigtable, run_cli: Any, tmp_path: Path
) -> None:
    _recommendations_deployed(bt, backed_up=False)
    features = _drill(run_cli, RECS, tmp_path)
    assert features["outcome"] == "error"
    assert "no READY backup of features" in features["failures"][0]
    assert "enable automated backups" in features["failures"][0]
    assert _written(bt) == set() and features["cleanup"] == []


def test_no_backup_in_the_recovery_region_is_reported(
    bt: FakeBigtable, run_cli: Any, tmp_path: Path
) -> None:
    _catalog_deployed(bt, copies=False)
    features = _drill(run_cli, CATALOG, tmp_path)
    assert features["outcome"] == "error"
    assert "no READY backup of features in instances/catalog-search-dr" in features["failures"][0]
    assert _written(bt) == set() and features["cleanup"] == []


def test_a_restore_past_the_timeout_is_cancelled_and_its_instance_removed(
    bt: FakeBigtable, run_cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _catalog_deployed(bt)
    production = set(bt.clusters)
    bt.restore_polls = 10**6
    monkeypatch.setattr(bigtable, "POLL_SECONDS", 0.2)
    features = _drill(run_cli, CATALOG, tmp_path, "--timeout", "1")
    assert features["outcome"] == "error"
    assert "timed out" in features["failures"][0]
    # The restore's operation is cancelled, then the instance holding its table deleted.
    assert [c.name for c in bt.api.called("CancelOperation")] == ["operations/restore-features"]
    assert [d.name for d in bt.api.called("DeleteInstance")] == [_scratch(bt)]
    assert features["cleanup"] == [
        "cancelled the restore",
        f"deleted bigtable instance {_scratch(bt).split('/', 2)[2]} and the table restored in it",
    ]
    assert bt.clusters == production
    assert set(bt.tables) == {f"{P}/catalog-search-features/tables/features"}


def test_a_restore_that_completes_despite_its_cancellation_is_reported_and_removed(
    bt: FakeBigtable, run_cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cancellation is best effort: the report says the restore finished, not that it was
    cancelled, and its table goes with the instance all the same."""
    _catalog_deployed(bt)
    bt.restore_polls = 10**6
    restore = bt.restore

    def late(request: Any, context: grpc.ServicerContext) -> Any:
        started = restore(request, context)
        bt.api.operations[started.name].cancellable = False
        return started

    bt.api.unary(ADMIN + "RestoreTable", admin.RestoreTableRequest, Operation, late)
    monkeypatch.setattr(bigtable, "POLL_SECONDS", 0.2)
    features = _drill(run_cli, CATALOG, tmp_path, "--timeout", "1")
    assert features["outcome"] == "error" and "timed out" in features["failures"][0]
    assert len(bt.api.called("CancelOperation")) == 1
    assert features["cleanup"][0] == "the restore completed despite its cancellation"
    assert [d.name for d in bt.api.called("DeleteInstance")] == [_scratch(bt)]
    assert set(bt.tables) == {f"{P}/catalog-search-features/tables/features"}


def test_a_scratch_instance_that_failed_to_create_is_not_deleted(
    bt: FakeBigtable, run_cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A CreateInstance whose operation ends in an error (e.g. the key is not usable) leaves no
    instance: cleanup says so rather than reporting a failed delete."""
    _catalog_deployed(bt)
    create = bt.new_instance

    def refused(request: Any, context: grpc.ServicerContext) -> Any:
        started = create(request, context)
        bt.delete_instance(admin.DeleteInstanceRequest(name=f"{P}/{request.instance_id}"), context)
        pending = bt.api.operations[started.name]
        pending.error = (grpc.StatusCode.FAILED_PRECONDITION, "key not usable")
        return started

    monkeypatch.setattr(bt, "new_instance", refused)
    bt.api.unary(INSTANCES + "CreateInstance", admin.CreateInstanceRequest, Operation, refused)
    features = _drill(run_cli, CATALOG, tmp_path)
    assert features["outcome"] == "error" and "key not usable" in features["failures"][0]
    assert bt.api.called("DeleteInstance") == [] and bt.api.called("RestoreTable") == []
    assert features["cleanup"] == [
        f"bigtable instance {_scratch(bt).split('/', 2)[2]} was never created: nothing to delete"
    ]


def test_a_stack_not_deployed_is_a_message(bt: FakeBigtable, run_cli: Any, tmp_path: Path) -> None:
    features = _drill(run_cli, CATALOG, tmp_path)
    assert features["outcome"] == "error"
    assert "not found" in features["failures"][0] and "deployed" in features["failures"][0]


def test_missing_credentials_are_a_message(
    gcs: str, run_cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("BIGTABLE_EMULATOR_HOST", "GOOGLE_APPLICATION_CREDENTIALS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", PROJECT)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    monkeypatch.setenv("NO_GCE_CHECK", "True")  # google.auth skips the metadata server
    features = _drill(run_cli, CATALOG, tmp_path / "e")
    assert features["outcome"] == "error"
    assert features["failures"] == [
        "no Google credentials found (gcloud auth application-default login)"
    ]


def test_keep_leaves_the_scratch_instance(bt: FakeBigtable, run_cli: Any, tmp_path: Path) -> None:
    _catalog_deployed(bt)
    features = _drill(run_cli, CATALOG, tmp_path, "--keep")
    assert features["outcome"] == "pass"
    assert features["cleanup"][0].startswith("kept bigtable instance instances/drgen-drill-")
    assert bt.api.called("DeleteInstance") == [] and len(bt.tables) == 2


def test_a_table_not_under_a_customer_managed_key_fails(
    bt: FakeBigtable, run_cli: Any, tmp_path: Path
) -> None:
    _catalog_deployed(bt)
    bt.encryption = admin.EncryptionInfo.EncryptionType.GOOGLE_DEFAULT_ENCRYPTION
    features = _drill(run_cli, CATALOG, tmp_path)
    assert features["outcome"] == "fail"
    assert "not under the region's key" in features["failures"][0]
    assert len(bt.api.called("DeleteInstance")) == 1


def test_the_guard_refuses_a_restore_or_delete_outside_the_scratch(
    bt: FakeBigtable, run_cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A drill whose scratch name came out as the production instance's: nothing is sent."""
    _catalog_deployed(bt)
    monkeypatch.setattr(Context, "scratch_name", lambda self, kind="": "catalog-search-features")
    features = _drill(run_cli, CATALOG, tmp_path)
    assert features["outcome"] == "error"
    assert "refused bigtableadmin CreateInstance" in features["failures"][0]
    assert _written(bt) == set()


def test_dry_run_lists_every_call_the_real_run_makes(
    bt: FakeBigtable, run_cli: Any, tmp_path: Path
) -> None:
    _catalog_deployed(bt)
    dry = run_cli("drill", str(CATALOG), "--component", "feature_store", "--dry-run")
    assert dry.exit_code == 0
    listed = {tuple(line.split()[:2]) for line in dry.output.splitlines() if line.startswith("  ")}
    assert bt.api.requests == []
    _drill(run_cli, CATALOG, tmp_path)
    made = json.loads(
        next(p for p in tmp_path.glob("*.json") if "receipt" not in p.name).read_text()
    )
    for call in made["calls"]:
        if call.startswith(("bigtable", "storage")):
            assert tuple(call.split()[:2]) in listed, f"{call} was not listed by --dry-run"


@pytest.mark.parametrize("example", ["catalog-search", "recommendations"])
def test_the_drill_names_what_the_stacks_create(example: str) -> None:
    """Instance, DR instance and cluster ids as the rendered feature_store.py names them."""
    from drgen.loader import load_workload
    from drgen.plan import resolve

    sourced = load_workload(ROOT / f"examples/{example}/workload.yaml")
    plan = resolve(sourced)
    rendered = (ROOT / f"stacks/{example}/feature_store.py").read_text()
    constants = dict(re.findall(r'^([A-Z_]+) = "([^"]+)"$', rendered, re.MULTILINE))
    assert plan.secondary is not None
    ctx = Context(plan, sourced.workload, ROOT, plan.secondary.region, "r1", 0.0)
    where = bigtable.layout(ctx, plan.component("feature_store"))  # type: ignore[arg-type]
    assert where.instance == constants["INSTANCE"]
    assert f'name="{bigtable.TABLE}"' in rendered
    settings = (ROOT / f"stacks/{example}/settings.py").read_text()
    [ring] = re.findall(r'^KEY_RING = "([^"]+)"$', settings, re.MULTILINE)
    assert f"/keyRings/{ring}/cryptoKeys/data" in bigtable.key_name(ctx, "p")
    assert 'f"projects/{project}/locations/{location}/keyRings/{KEY_RING}/cryptoKeys/data"' in (
        settings
    )
    assert f'ZONE_SUFFIX = "{bigtable.ZONE_SUFFIX}"' in rendered
    if "DR_INSTANCE" in constants:
        assert where.backup_cluster == (
            f"instances/{constants['DR_INSTANCE']}/clusters/{constants['DR_CLUSTER']}"
        )
    else:
        assert where.backup_cluster.endswith(f"/clusters/{example[:20]}-sec")
        assert 'f"{settings.WORKLOAD[:20]}-{role}"' in rendered


def test_check_uses_the_measured_restore_of_an_untimed_table(
    bt: FakeBigtable, run_cli: Any, tmp_path: Path
) -> None:
    """The plan cannot time a Bigtable restore (the table's size is not declared); a drill that
    restored in the secondary can, and `drgen check --evidence` takes its measurement."""
    from drgen.check import check
    from drgen.drill.evidence import read_evidence
    from drgen.loader import load_workload
    from drgen.plan import resolve

    plan = resolve(load_workload(CATALOG))
    today = datetime.date.today()
    [before] = [f for f in check(plan, today).findings if f.subject.startswith("feature_store")]
    assert before.rto is not None and before.rto.seconds is None
    _catalog_deployed(bt)
    features = _drill(run_cli, CATALOG, tmp_path)
    assert features["region"] == "asia-northeast1"
    evidence = read_evidence(tmp_path)
    [after] = [
        f
        for f in check(plan, today, evidence=evidence).findings
        if f.subject.startswith("feature_store")
    ]
    assert after.rto is not None and after.rto.seconds == round(features["restore_seconds"])
    assert "restore measured by drill" in after.basis
    # A drill in the primary does not time a recovery from the primary's loss.
    moved = [dataclasses.replace(r, region="asia-southeast1") for r in evidence]
    [primary] = [
        f
        for f in check(plan, today, evidence=moved).findings
        if f.subject.startswith("feature_store")
    ]
    assert primary.rto is not None and primary.rto.seconds is None
    shown = run_cli("check", str(CATALOG), "--evidence", str(tmp_path))
    assert "restore measured by drill" in shown.output
