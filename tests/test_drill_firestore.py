"""`drgen drill` for a Firestore feature store, against the Firestore APIs' documented contract.

The Firestore emulator needs the gcloud SDK and has no backups or admin API, so the real
google-cloud-firestore clients talk over gRPC to a loopback stand-in (tests/grpc_fake.py) that
decodes each request with its proto type and answers as the API reference describes:
- GetDatabase, ListBackups, RestoreDatabase (database_id 4-63 of [a-z0-9-], a letter first, a
  letter or digit last, not UUID-like; the database is created in the backup's location; no
  encryption_config means the backup's), DeleteDatabase:
  https://cloud.google.com/firestore/docs/reference/rest/v1/projects.databases/restore,
  https://cloud.google.com/firestore/docs/reference/rpc/google.firestore.admin.v1
- ListCollectionIds, ListDocuments, GetDocument:
  https://cloud.google.com/firestore/docs/reference/rpc/google.firestore.v1
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.cloud.firestore_admin_v1 import types as admin
from google.cloud.firestore_v1 import types as data
from google.longrunning.operations_pb2 import Operation

from drgen.drill import firestore
from drgen.drill.base import Context
from tests.conftest import ROOT
from tests.drill_servers import gcs_endpoint_fixture, gcs_fixture  # noqa: F401 (fixtures)
from tests.grpc_fake import FakeApi, PendingOperation

PROJECT = "drgen-test"
TRIAGE = ROOT / "examples/patient-triage/workload.yaml"
NOTEBOOKS = ROOT / "examples/lab-notebooks/workload.yaml"
ADMIN = "/google.firestore.admin.v1.FirestoreAdmin/"
DATA = "/google.firestore.v1.Firestore/"
DATABASE_ID = re.compile(r"[a-z][a-z0-9-]{2,61}[a-z0-9]")
UUID_LIKE = re.compile(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}")
KEY = f"projects/{PROJECT}/locations/europe/keyRings/drgen-patient-triage/cryptoKeys/data"

Documents = dict[str, dict[str, data.Value]]


class FakeFirestore:
    """Databases, their backups, restores and documents as the Firestore APIs keep them."""

    def __init__(self) -> None:
        self.api = FakeApi()
        self.databases: dict[str, admin.Database] = {}
        self.documents: dict[str, Documents] = {}
        self.backups: dict[str, tuple[admin.Backup, Documents, str]] = {}
        self.restore_polls = 2
        self.delete_polls = 1
        self.delete_error: tuple[grpc.StatusCode, str] | None = None
        """How the deletion's operation ends, if not with the deleted database."""
        self.restores: dict[str, str] = {}
        """The restore operation of each restored database."""
        self.deleted_while_restoring: list[str] = []
        api = self.api
        api.unary(ADMIN + "GetDatabase", admin.GetDatabaseRequest, admin.Database, self.get)
        api.unary(
            ADMIN + "ListBackups", admin.ListBackupsRequest, admin.ListBackupsResponse, self.list
        )
        api.unary(ADMIN + "RestoreDatabase", admin.RestoreDatabaseRequest, Operation, self.restore)
        api.unary(ADMIN + "DeleteDatabase", admin.DeleteDatabaseRequest, Operation, self.delete)
        api.unary(
            DATA + "ListCollectionIds",
            data.ListCollectionIdsRequest,
            data.ListCollectionIdsResponse,
            self.collections,
        )
        api.unary(
            DATA + "ListDocuments",
            data.ListDocumentsRequest,
            data.ListDocumentsResponse,
            self.list_documents,
        )
        api.unary(DATA + "GetDocument", data.GetDocumentRequest, data.Document, self.get_document)

    def database(self, name: str, location: str, key: str, documents: Documents) -> None:
        self.databases[name] = admin.Database(
            name=name, location_id=location, uid=name[-8:], cmek_config={"kms_key_name": key}
        )
        self.documents[name] = documents

    def backup(
        self, location: str, backup_id: str, database: str, age_hours: int, **extra: Any
    ) -> None:
        name = f"projects/{PROJECT}/locations/{location}/backups/{backup_id}"
        backup = admin.Backup(
            name=name,
            database=database,
            snapshot_time=datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=age_hours),
            state=extra.get("state", admin.Backup.State.READY),
            stats={"size_bytes": 2_000_000 + age_hours, "document_count": 12},
        )
        key = extra.get("key", self.databases[database].cmek_config.kms_key_name)
        self.backups[name] = (backup, _documents(12), key)

    def _known(self, name: str, held: dict[str, Any], context: grpc.ServicerContext) -> None:
        if name not in held:
            context.abort(grpc.StatusCode.NOT_FOUND, f"{name} not found")

    def get(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._known(request.name, self.databases, context)
        return self.databases[request.name]

    def list(self, request: Any, context: grpc.ServicerContext) -> Any:
        if not re.fullmatch(rf"projects/{PROJECT}/locations/[^/]+", request.parent):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"bad parent {request.parent}")
        prefix = request.parent + "/backups/"
        found = [b for name, (b, _, _) in self.backups.items() if name.startswith(prefix)]
        return admin.ListBackupsResponse(backups=found)

    def restore(self, request: Any, context: grpc.ServicerContext) -> Any:
        if request.parent != f"projects/{PROJECT}":
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"bad parent {request.parent}")
        database_id = request.database_id
        if not DATABASE_ID.fullmatch(database_id) or UUID_LIKE.fullmatch(database_id):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"bad database_id {database_id}")
        self._known(request.backup, self.backups, context)
        name = f"projects/{PROJECT}/databases/{database_id}"
        if name in self.databases:
            context.abort(grpc.StatusCode.ALREADY_EXISTS, f"{name} exists")
        _, documents, key = self.backups[request.backup]
        encryption = request.encryption_config
        if "customer_managed_encryption" in encryption:
            key = encryption.customer_managed_encryption.kms_key_id
        elif "google_default_encryption" in encryption:
            key = ""
        location = request.backup.split("/")[3]  # created in the backup's location
        self.database(name, location, key, {p: dict(f) for p, f in documents.items()})
        metadata = admin.RestoreDatabaseMetadata(database=name, backup=request.backup)
        self.restores[name] = f"operations/restore-{database_id}"
        return self.api.operation(
            f"operations/restore-{database_id}",
            PendingOperation(self.restore_polls, self.databases[name], metadata),
        )

    def delete(self, request: Any, context: grpc.ServicerContext) -> Any:
        """DeleteDatabase answers with an operation whose response is the deleted Database
        (DeleteDatabaseMetadata as its metadata); what it does to a database whose restore
        still runs is not documented, so that is only noted for the tests to refuse."""
        self._known(request.name, self.databases, context)
        restoring = self.api.operations.get(self.restores.get(request.name, ""))
        if restoring is not None and restoring.polls_left > 0:
            self.deleted_while_restoring.append(request.name)
        deleted = self.databases[request.name]
        if self.delete_error is None:
            del self.databases[request.name], self.documents[request.name]
        return self.api.operation(
            f"operations/delete-{request.name.rsplit('/', 1)[1]}",
            PendingOperation(
                self.delete_polls, deleted, admin.DeleteDatabaseMetadata(), self.delete_error
            ),
        )

    def _database(self, path: str, context: grpc.ServicerContext) -> tuple[str, Documents]:
        database = path.split("/documents")[0]
        if database not in self.documents:
            context.abort(grpc.StatusCode.NOT_FOUND, f"database {database} not found")
        return database, self.documents[database]

    def collections(self, request: Any, context: grpc.ServicerContext) -> Any:
        _, documents = self._database(request.parent, context)
        return data.ListCollectionIdsResponse(
            collection_ids=sorted({path.split("/")[0] for path in documents})
        )

    def list_documents(self, request: Any, context: grpc.ServicerContext) -> Any:
        database, documents = self._database(request.parent, context)
        paths = sorted(p for p in documents if p.split("/")[0] == request.collection_id)
        return data.ListDocumentsResponse(
            documents=[
                data.Document(name=f"{database}/documents/{p}", fields=documents[p])
                for p in paths[: request.page_size or None]
            ]
        )

    def get_document(self, request: Any, context: grpc.ServicerContext) -> Any:
        _, documents = self._database(request.name, context)
        path = request.name.split("/documents/", 1)[1]
        if path not in documents:
            context.abort(grpc.StatusCode.NOT_FOUND, f"document {request.name} not found")
        return data.Document(name=request.name, fields=documents[path])


def _documents(count: int) -> Documents:
    return {
        f"encounters/e{n:03}": {"acuity": data.Value(integer_value=n % 5)} for n in range(count)
    }


@pytest.fixture(name="fs")
def fs_fixture(gcs: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeFirestore]:
    fake = FakeFirestore()
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", fake.api.start())
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", PROJECT)
    monkeypatch.setattr(firestore, "POLL_SECONDS", 0.05)
    try:
        yield fake
    finally:
        fake.api.stop()


PRODUCTION = f"projects/{PROJECT}/databases/patient-triage-features"


def _triage_deployed(fake: FakeFirestore, backups: bool = True) -> None:
    """patient-triage (tier 0): the eur3 database, its daily backups, production changed since."""
    documents = _documents(12)
    documents["encounters/e004"] = {"acuity": data.Value(integer_value=1)}
    fake.database(PRODUCTION, "eur3", KEY, documents)
    fake.database(f"projects/{PROJECT}/databases/other", "eur3", KEY, {})
    if backups:
        fake.backup("eur3", "daily-30", PRODUCTION, 30)
        fake.backup("eur3", "daily-6", PRODUCTION, 6)
        fake.backup("eur3", "creating", PRODUCTION, 0, state=admin.Backup.State.CREATING)
        fake.backup("eur3", "other-1", f"projects/{PROJECT}/databases/other", 1)


def _drill(run_cli: Any, workload: Path, folder: Path, *extra: str) -> dict[str, Any]:
    result = run_cli(
        "drill", str(workload), "--component", "feature_store", "--evidence", str(folder), *extra
    )
    assert "Traceback" not in result.output
    [path] = [p for p in folder.glob("*.json") if not p.name.endswith(".receipt.json")]
    report = json.loads(path.read_text())
    return dict(next(c for c in report["components"] if c["component"] == "feature_store"))


def test_tier0_restores_the_newest_backup_and_compares_a_sample(
    fs: FakeFirestore, run_cli: Any, tmp_path: Path
) -> None:
    _triage_deployed(fs)
    features = _drill(run_cli, TRIAGE, tmp_path)
    assert features["outcome"] == "pass", features["failures"]
    [listed] = fs.api.called("ListBackups")
    assert listed.parent == f"projects/{PROJECT}/locations/eur3"
    [restore] = fs.api.called("RestoreDatabase")
    assert restore.parent == f"projects/{PROJECT}"
    assert restore.backup == f"projects/{PROJECT}/locations/eur3/backups/daily-6"
    assert restore.database_id.startswith("drgen-drill-features-")
    assert "use_source_encryption" in restore.encryption_config
    # The restore polled until done (two polls), then the deletion (one).
    assert [o.name.split("-")[0] for o in fs.api.called("GetOperation")] == [
        "operations/restore",
        "operations/restore",
        "operations/delete",
    ]
    assert 6 * 3600 <= features["data_age_seconds"] < 6 * 3600 + 300
    assert features["bytes"] == 2_000_006 and features["throughput_mb_s"] > 0
    assert features["measurements"]["location"] == "eur3"
    assert features["integrity"]["kms_key"] == KEY
    assert features["integrity"]["sampled"] == 12
    assert features["integrity"]["changed_since_backup"] == ["encounters/e004"]
    assert features["integrity"]["identical"] == 11
    # Production was only read; the scratch database is gone.
    read = {r.name.split("/documents/")[0] for r in fs.api.called("GetDocument")}
    assert read == {PRODUCTION}
    scratch = f"projects/{PROJECT}/databases/{restore.database_id}"
    assert [r.name for r in fs.api.called("DeleteDatabase")] == [scratch]
    assert set(fs.databases) == {PRODUCTION, f"projects/{PROJECT}/databases/other"}


def test_tier3_restores_in_the_primary_region(
    fs: FakeFirestore, run_cli: Any, tmp_path: Path
) -> None:
    production = f"projects/{PROJECT}/databases/lab-notebooks-features"
    fs.database(production, "us-west1", KEY, _documents(12))
    fs.backup("us-west1", "daily", production, 3)
    # lab-notebooks has a secondary since its exports, where the drill runs by default: its
    # Firestore backups stay in us-west1 (its RUNBOOK rebuilds the features in us-east1).
    features = _drill(run_cli, NOTEBOOKS, tmp_path, "--region", "us-west1")
    assert features["outcome"] == "pass", features["failures"]
    assert fs.api.called("ListBackups")[0].parent == f"projects/{PROJECT}/locations/us-west1"
    assert features["integrity"]["identical"] == 12


def test_backups_in_another_region_are_named_not_restored(
    fs: FakeFirestore, run_cli: Any, tmp_path: Path, workload_file: Callable[..., Path]
) -> None:
    workload = workload_file(
        """\
        name: notes
        tier: 2
        cloud: gcp
        regions: {primary: us-central1, secondary: us-east1}
        components:
          feature_store: {engine: firestore}
        """
    )
    production = f"projects/{PROJECT}/databases/notes-features"
    fs.database(production, "us-central1", KEY, _documents(3))
    fs.backup("us-central1", "daily", production, 3)
    features = _drill(run_cli, workload, tmp_path)
    assert features["outcome"] == "error"
    assert "kept in us-central1, not in us-east1" in features["failures"][0]
    assert "--region us-central1" in features["failures"][0]
    assert fs.api.called("RestoreDatabase") == []


def test_no_backup_is_reported(fs: FakeFirestore, run_cli: Any, tmp_path: Path) -> None:
    _triage_deployed(fs, backups=False)
    features = _drill(run_cli, TRIAGE, tmp_path)
    assert features["outcome"] == "error"
    assert "no READY backup of patient-triage-features in eur3" in features["failures"][0]
    assert fs.api.called("RestoreDatabase") == [] and features["cleanup"] == []


def test_a_restore_past_the_timeout_is_waited_for_before_its_database_is_deleted(
    fs: FakeFirestore, run_cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The restored database is not readable or writeable until its restore's operation has
    completed (FirestoreAdmin.RestoreDatabase): cleanup waits for it, within its own budget,
    before sending DeleteDatabase, and waits for the deletion's operation too."""
    _triage_deployed(fs)
    fs.restore_polls = 8
    monkeypatch.setattr(firestore, "POLL_SECONDS", 0.3)
    features = _drill(run_cli, TRIAGE, tmp_path, "--timeout", "1")
    assert features["outcome"] == "error" and "timed out" in features["failures"][0]
    assert fs.deleted_while_restoring == []
    [restore] = fs.api.called("RestoreDatabase")
    scratch = f"projects/{PROJECT}/databases/{restore.database_id}"
    names = [r.name for _, r in fs.api.requests if hasattr(r, "name")]
    assert names.index(scratch) > names.index(f"operations/restore-{restore.database_id}")
    assert f"operations/delete-{restore.database_id}" in names
    assert features["cleanup"] == [f"deleted firestore databases/{restore.database_id}"]
    assert set(fs.databases) == {PRODUCTION, f"projects/{PROJECT}/databases/other"}


def test_a_restore_still_running_after_the_cleanup_budget_is_left_with_a_message(
    fs: FakeFirestore, run_cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from drgen.drill import gcp_admin

    _triage_deployed(fs)
    fs.restore_polls = 10**6
    monkeypatch.setattr(firestore, "POLL_SECONDS", 0.2)
    monkeypatch.setattr(gcp_admin, "CLEANUP_SECONDS", 0.5)
    features = _drill(run_cli, TRIAGE, tmp_path, "--timeout", "1")
    assert fs.api.called("DeleteDatabase") == []
    assert "restore was still running after 0.5 s of cleanup" in features["cleanup"][0]
    assert "delete it by hand" in features["cleanup"][0]


def test_a_deletion_that_fails_is_reported_not_counted_as_done(
    fs: FakeFirestore, run_cli: Any, tmp_path: Path
) -> None:
    _triage_deployed(fs)
    fs.delete_error = (grpc.StatusCode.PERMISSION_DENIED, "datastore.databases.delete denied")
    features = _drill(run_cli, TRIAGE, tmp_path)
    assert features["outcome"] == "error"
    assert len(fs.api.called("DeleteDatabase")) == 1
    assert "datastore.databases.delete denied" in features["cleanup"][0]
    assert "delete it by hand" in features["cleanup"][0]


def test_a_restored_database_under_another_key_fails(
    fs: FakeFirestore, run_cli: Any, tmp_path: Path
) -> None:
    _triage_deployed(fs, backups=False)
    fs.backup("eur3", "before-cmek", PRODUCTION, 2, key="")
    features = _drill(run_cli, TRIAGE, tmp_path)
    assert features["outcome"] == "fail"
    assert f"under Google-managed encryption, not {KEY}" in features["failures"][0]
    assert len(fs.api.called("DeleteDatabase")) == 1


def test_a_stack_not_deployed_is_a_message(fs: FakeFirestore, run_cli: Any, tmp_path: Path) -> None:
    features = _drill(run_cli, TRIAGE, tmp_path)
    assert features["outcome"] == "error"
    assert "not found" in features["failures"][0] and "deployed" in features["failures"][0]


def test_missing_credentials_are_a_message(
    gcs: str, run_cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("FIRESTORE_EMULATOR_HOST", "GOOGLE_APPLICATION_CREDENTIALS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", PROJECT)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    monkeypatch.setenv("NO_GCE_CHECK", "True")  # google.auth skips the metadata server
    features = _drill(run_cli, TRIAGE, tmp_path / "e")
    assert features["failures"] == [
        "no Google credentials found (gcloud auth application-default login)"
    ]


def test_keep_leaves_the_scratch_database(fs: FakeFirestore, run_cli: Any, tmp_path: Path) -> None:
    _triage_deployed(fs)
    features = _drill(run_cli, TRIAGE, tmp_path, "--keep")
    assert features["outcome"] == "pass"
    assert features["cleanup"][0].startswith("kept firestore databases/drgen-drill-features-")
    assert fs.api.called("DeleteDatabase") == [] and len(fs.databases) == 3


def test_the_guard_refuses_a_restore_or_delete_outside_the_scratch(
    fs: FakeFirestore, run_cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A drill whose scratch name came out as the production database's: nothing is sent."""
    _triage_deployed(fs)
    monkeypatch.setattr(Context, "scratch_name", lambda self, kind="": "patient-triage-features")
    features = _drill(run_cli, TRIAGE, tmp_path)
    assert features["outcome"] == "error"
    assert "refused firestore RestoreDatabase" in features["failures"][0]
    assert fs.api.called("RestoreDatabase") == [] and fs.api.called("DeleteDatabase") == []


def test_dry_run_lists_every_call_the_real_run_makes(
    fs: FakeFirestore, run_cli: Any, tmp_path: Path
) -> None:
    _triage_deployed(fs)
    dry = run_cli("drill", str(TRIAGE), "--component", "feature_store", "--dry-run")
    assert dry.exit_code == 0
    listed = {tuple(line.split()[:2]) for line in dry.output.splitlines() if line.startswith("  ")}
    assert fs.api.requests == []
    _drill(run_cli, TRIAGE, tmp_path)
    report = next(p for p in tmp_path.glob("*.json") if "receipt" not in p.name)
    for call in json.loads(report.read_text())["calls"]:
        if call.startswith(("firestore", "storage")):
            assert tuple(call.split()[:2]) in listed, f"{call} was not listed by --dry-run"


def test_the_drill_names_the_database_the_stacks_create() -> None:
    from drgen.loader import load_workload
    from drgen.plan import resolve

    for example in ("patient-triage", "lab-notebooks"):
        plan = resolve(load_workload(ROOT / f"examples/{example}/workload.yaml"))
        rendered = (ROOT / f"stacks/{example}/feature_store.py").read_text()
        component = plan.component("feature_store")
        assert component is not None
        assert f'DATABASE = "{component.global_name}"' in rendered
        assert "name=DATABASE" in rendered


def test_a_restore_that_failed_leaves_nothing_to_delete(
    fs: FakeFirestore, run_cli: Any, tmp_path: Path
) -> None:
    """A restore whose operation ends in an error created no database: DeleteDatabase answers
    NOT_FOUND, and cleanup says there was nothing to delete instead of reporting an error."""
    _triage_deployed(fs)
    restore = fs.restore

    def failing(request: Any, context: grpc.ServicerContext) -> Any:
        started = restore(request, context)
        name = f"projects/{PROJECT}/databases/{request.database_id}"
        del fs.databases[name], fs.documents[name]
        fs.api.operations[started.name].error = (grpc.StatusCode.INTERNAL, "restore failed")
        return started

    fs.api.unary(ADMIN + "RestoreDatabase", admin.RestoreDatabaseRequest, Operation, failing)
    features = _drill(run_cli, TRIAGE, tmp_path)
    assert features["outcome"] == "error" and "restore failed" in features["failures"][0]
    [restore_request] = fs.api.called("RestoreDatabase")
    assert features["cleanup"] == [
        f"firestore databases/{restore_request.database_id} was never created: nothing to delete"
    ]
