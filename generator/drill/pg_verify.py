"""Checks of a restored pgvector database, whichever way it was restored (dump, Aurora, Cloud SQL).

Row counts per table, the `vector` extension, each HNSW index built again with its build time
measured on its own (the cost that dominates a large logical restore), and recall@k on the
workload's evaluation set.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from drgen.drill.base import Call, Context, DrillError, Result
from drgen.drill.evalset import DISTANCES, EvalQuery, judge_recall, read_eval

HNSW = re.compile(r"\bUSING\s+hnsw\b", re.IGNORECASE)
DATABASE = "vectors"
"""The database the generated stacks create (Aurora's `database_name`)."""
_SYSTEM = ("postgres", "rdsadmin", "cloudsqladmin", "template0", "template1")
CONNECT_SECONDS = 30
"""Long enough for a TLS handshake across a region."""


def psycopg() -> Any:
    """psycopg, the `drill` extra's, imported only when a pgvector drill runs."""
    try:
        import psycopg as module
    except ImportError as error:
        raise DrillError("the pgvector drill needs psycopg: pip install 'drgen[drill]'") from error
    return module


def eval_queries(ctx: Context) -> tuple[EvalQuery, ...]:
    """The workload's evaluation set, or none."""
    vectors = ctx.workload.components.vector_store
    if vectors is None or vectors.eval is None:
        return ()
    return read_eval(ctx.workload_dir, vectors.eval)


def facts(pg: Any, conn: Any) -> dict[str, Any]:
    """What a database holds: row counts per user table, the vector extension's version and
    its HNSW indexes (name, definition)."""
    tables = [
        f"{schema}.{name}"
        for schema, name in conn.execute(
            "SELECT schemaname, tablename FROM pg_tables WHERE schemaname NOT IN"
            " ('pg_catalog', 'information_schema') ORDER BY 1, 2"
        ).fetchall()
    ]
    extension = conn.execute(
        "SELECT extversion FROM pg_extension WHERE extname = 'vector'"
    ).fetchone()
    hnsw = [
        (name, definition)
        for name, definition in conn.execute(
            "SELECT schemaname || '.' || indexname, indexdef FROM pg_indexes"
            " WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1"
        ).fetchall()
        if HNSW.search(definition)
    ]
    return {
        "counts": {table: count(pg, conn, table) for table in tables},
        "extension": extension[0] if extension else None,
        "hnsw": hnsw,
    }


def count(pg: Any, conn: Any, table: str) -> int:
    schema, name = table.split(".", 1)
    query = pg.sql.SQL("SELECT count(*) FROM {}.{}").format(
        pg.sql.Identifier(schema), pg.sql.Identifier(name)
    )
    return int(conn.execute(query).fetchone()[0])


def rebuild_indexes(
    ctx: Context,
    pg: Any,
    conn: Any,
    target: str,
    hnsw: list[tuple[str, str]],
    result: Result,
    *,
    existing: bool,
) -> float:
    """Build each HNSW index, timed one by one; return the total seconds. `existing`: the
    restore brought the index back (a physical restore), so it is rebuilt with REINDEX;
    otherwise it was left out of the restore and is created from its definition."""
    builds: dict[str, float] = {}
    for name, definition in hnsw:
        operation = (
            "REINDEX INDEX ... hnsw (timed)" if existing else "CREATE INDEX ... hnsw (timed)"
        )
        ctx.record("postgresql", operation, target, "scratch")
        conn.execute(f"SET statement_timeout = {int(ctx.remaining() * 1000)}")
        started = time.monotonic()
        if existing:
            schema, index = name.split(".", 1)
            conn.execute(
                pg.sql.SQL("REINDEX INDEX {}.{}").format(
                    pg.sql.Identifier(schema), pg.sql.Identifier(index)
                )
            )
        else:
            conn.execute(definition)
        builds[name] = round(time.monotonic() - started, 3)
    result.measurements["hnsw_build_seconds"] = builds
    if not hnsw:
        result.measurements["hnsw"] = "the database has no HNSW index"
    return round(sum(builds.values()), 3)


def verify(
    ctx: Context,
    pg: Any,
    conn: Any,
    target: str,
    expected: dict[str, Any] | None,
    result: Result,
) -> dict[str, Any]:
    """Row counts and the vector extension of the restored database; with `expected` (the facts
    of the snapshot the restore came from), the counts must match. Returns the restored facts."""
    ctx.record("postgresql", "count(*) per table; pg_extension; pg_indexes", target)
    found = facts(pg, conn)
    result.integrity["vector_extension"] = found["extension"]
    result.integrity["row_counts"] = found["counts"]
    if found["extension"] is None:
        result.fail("the restored database has no vector extension")
    if expected is None:
        if not found["counts"]:
            result.fail("the restored database has no tables")
        return found
    differ = {
        table: {"source": want, "restored": found["counts"].get(table)}
        for table, want in expected["counts"].items()
        if found["counts"].get(table) != want
    }
    result.integrity["source_vector_extension"] = expected["extension"]
    result.integrity["row_count_mismatches"] = differ
    if differ:
        result.fail(f"row counts differ from the source's snapshot: {differ}")
    return found


def recall(
    ctx: Context, pg: Any, conn: Any, target: str, queries: tuple[EvalQuery, ...], result: Result
) -> None:
    """Recall@k of the evaluation set's queries against the restored database."""
    if not queries:
        result.measurements["recall"] = "no evaluation set (components.vector_store.eval)"
        return
    ctx.record("postgresql", "recall@k queries", target)
    sql = pg.sql

    def search(query: EvalQuery) -> list[str]:
        table = sql.SQL(".").join(sql.Identifier(part) for part in query.table.split("."))
        statement = sql.SQL(
            "SELECT {id}::text FROM {table} ORDER BY {column} "
            + DISTANCES[query.distance]
            + " {vector}::vector LIMIT {k}"
        ).format(
            id=sql.Identifier(query.id_column),
            table=table,
            column=sql.Identifier(query.column),
            vector=sql.Literal("[" + ",".join(repr(x) for x in query.query) + "]"),
            k=sql.Literal(query.k),
        )
        try:
            return [row[0] for row in conn.execute(statement).fetchall()]
        except pg.Error as error:
            raise DrillError(f"recall query on {query.table} failed: {error}") from None

    judge_recall(result, queries, search, ctx.remaining)


def check_restored(
    ctx: Context, conninfo: str, server: str, result: Result, database: str | None = None
) -> None:
    """Everything above on a database a cloud restored (its HNSW indexes came back with it):
    counts and extension, each index rebuilt and timed, recall@k. `conninfo` reaches `server`,
    the scratch cluster or instance; the database checked is the stacks' (`vectors`), or the
    only one there, unless the restore named it (`database`: an import into one)."""
    pg = psycopg()
    queries = eval_queries(ctx)
    if database is None:
        database = _database(ctx, pg, conninfo, server)
    target = f"{server}/{database}"
    with _connect(ctx, pg, pg.conninfo.make_conninfo(conninfo, dbname=database)) as conn:
        found = verify(ctx, pg, conn, target, None, result)
        builds = rebuild_indexes(ctx, pg, conn, target, found["hnsw"], result, existing=True)
        result.measurements["hnsw_build_total_seconds"] = builds
        recall(ctx, pg, conn, target, queries, result)


def restored_calls(server: str, database: str | None = None) -> list[Call]:
    """What check_restored asks of the restored server, for --dry-run."""
    target = f"{server}/{database or DATABASE}"
    return [
        *([Call("postgresql", "list databases", f"{server}/postgres")] if database is None else []),
        Call("postgresql", "count(*) per table; pg_extension; pg_indexes", target),
        Call("postgresql", "REINDEX INDEX ... hnsw (timed)", target, "scratch"),
        Call("postgresql", "recall@k queries", target),
    ]


def _database(ctx: Context, pg: Any, conninfo: str, server: str) -> str:
    ctx.record("postgresql", "list databases", f"{server}/postgres")
    with _connect(ctx, pg, pg.conninfo.make_conninfo(conninfo, dbname="postgres")) as conn:
        names = [
            row[0]
            for row in conn.execute(
                "SELECT datname FROM pg_database WHERE NOT datistemplate ORDER BY 1"
            ).fetchall()
            if row[0] not in _SYSTEM
        ]
    if DATABASE in names:
        return DATABASE
    if len(names) == 1:
        return str(names[0])
    raise DrillError(
        f"the restored server holds {', '.join(names) or 'no database of its own'}:"
        f" expected {DATABASE!r} or a single database to check"
    )


def _connect(ctx: Context, pg: Any, conninfo: str) -> Any:
    try:
        return pg.connect(conninfo, autocommit=True, connect_timeout=_connect_timeout(ctx))
    except pg.OperationalError as error:
        first = str(error).strip().splitlines()
        reason = first[0] if first else type(error).__name__
        # libpq quotes the server's FATAL message when the server answered and refused (login,
        # database); a server it never reached leaves only the network error.
        if getattr(error, "sqlstate", None) or "FATAL:" in str(error):
            raise DrillError(f"PostgreSQL refused the connection: {reason}") from None
        raise UnreachableError(reason) from None


def _connect_timeout(ctx: Context) -> int:
    return max(min(CONNECT_SECONDS, int(ctx.remaining())), 2)


def describe(error: Exception, cloud_explain: Callable[[Exception], str]) -> str:
    """An error of a cloud restore as one line, as the runner would record it."""
    if isinstance(error, DrillError):
        return str(error)
    if type(error).__module__.startswith("psycopg"):
        first = str(error).strip().splitlines()
        return f"PostgreSQL: {first[0] if first else type(error).__name__}"
    return cloud_explain(error)


class UnreachableError(DrillError):
    """The restored database could not be connected to from where the drill runs."""
