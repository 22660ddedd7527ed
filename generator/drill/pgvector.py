"""Vector store on pgvector: a logical dump of the recovery copy restored into a scratch database.

The source is read in one read-only, repeatable-read transaction whose snapshot `pg_dump` shares,
so the row counts taken there are exactly what the dump holds. The scratch database is created
on the server `--scratch-dsn` names (never the source's server), commented with the run, and
dropped at the end unless --keep. HNSW indexes are left out of the restore and rebuilt one by one
afterwards, so their build time, which dominates large restores, is measured on its own. Then
recall@k is measured on the workload's evaluation set.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from drgen.drill.base import Call, Context, DrillError, Result
from drgen.drill.evalset import DISTANCES, EvalQuery, judge_recall, read_eval
from drgen.plan import ComponentPlan

_HNSW = re.compile(r"\bUSING\s+hnsw\b", re.IGNORECASE)


def calls(ctx: Context, component: ComponentPlan) -> list[Call]:
    scratch = _scratch_database(ctx)
    return [
        Call("postgresql", "BEGIN READ ONLY; pg_export_snapshot; count(*) per table", "source"),
        Call("postgresql", "pg_dump --format=custom --snapshot", "source"),
        Call("postgresql", "CREATE DATABASE", scratch, "scratch"),
        Call("postgresql", "pg_restore (without HNSW indexes)", scratch, "scratch"),
        Call("postgresql", "CREATE INDEX ... USING hnsw (timed)", scratch, "scratch"),
        Call("postgresql", "count(*) per table; recall@k queries", scratch),
        Call("postgresql", "DROP DATABASE", scratch, "scratch"),
    ]


def _scratch_database(ctx: Context) -> str:
    return ctx.scratch_name("vectors").replace("-", "_")


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError as error:
        raise DrillError("the pgvector drill needs psycopg: pip install 'drgen[drill]'") from error
    return psycopg


def run(ctx: Context, component: ComponentPlan, result: Result) -> None:
    if ctx.scratch_dsn is None:
        result.outcome = "skipped"
        result.failures.append(
            "no --scratch-dsn: the logical restore needs a scratch PostgreSQL; the cloud restore"
            " (Aurora point-in-time, Cloud SQL backup restore) is not run by this drgen"
        )
        return
    psycopg = _psycopg()
    source = ctx.source_dsn if ctx.source_dsn is not None else ""
    _refuse_same_server(psycopg, source, ctx.scratch_dsn)
    queries: tuple[EvalQuery, ...] = ()
    vectors = ctx.workload.components.vector_store
    if vectors is not None and vectors.eval is not None:
        queries = read_eval(ctx.workload_dir, vectors.eval)
    tools = {name: _tool(name) for name in ("pg_dump", "pg_restore")}
    scratch = _scratch_database(ctx)
    with tempfile.TemporaryDirectory(prefix="drgen-drill-") as work:
        dump = Path(work) / "source.dump"
        facts = _dump(ctx, psycopg, source, tools["pg_dump"], dump, result)
        result.bytes = dump.stat().st_size
        admin = psycopg.connect(
            ctx.scratch_dsn, autocommit=True, connect_timeout=max(int(ctx.remaining()), 2)
        )
        try:
            ctx.record("postgresql", "CREATE DATABASE", scratch, "scratch")
            admin.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(_ident(psycopg, scratch)))
            result.scratch.append(f"postgresql database {scratch}")
            comment = f"drgen drill scratch of {ctx.plan.workload}, run {ctx.run_id}; safe to drop"
            admin.execute(
                psycopg.sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                    _ident(psycopg, scratch), psycopg.sql.Literal(comment)
                )
            )
            target = psycopg.conninfo.make_conninfo(ctx.scratch_dsn, dbname=scratch)
            _restore(ctx, tools["pg_restore"], dump, target, facts["hnsw"], work, result)
            with psycopg.connect(target, autocommit=True) as restored:
                _rebuild_indexes(ctx, restored, scratch, facts["hnsw"], result)
                _verify(ctx, psycopg, restored, facts, result)
                if queries:
                    _recall(ctx, psycopg, restored, queries, result)
                else:
                    result.measurements["recall"] = (
                        "no evaluation set (components.vector_store.eval)"
                    )
        finally:
            try:
                _drop(ctx, psycopg, admin, scratch, result)
            finally:
                admin.close()


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise DrillError(f"{name} is not on PATH: install the PostgreSQL client tools")
    return found


def _refuse_same_server(psycopg: Any, source: str, scratch: str) -> None:
    def where(dsn: str) -> tuple[str, str]:
        parts = psycopg.conninfo.conninfo_to_dict(dsn)
        host = parts.get("host") or os.environ.get("PGHOST", "")
        port = parts.get("port") or os.environ.get("PGPORT", "5432")
        return str(host), str(port)

    if where(source) == where(scratch):
        raise DrillError(
            "--scratch-dsn names the source's server: the drill creates its scratch database"
            " on another server only, never next to the data it restores"
        )


def _split_password(psycopg: Any, dsn: str) -> tuple[str, dict[str, str]]:
    """The DSN without its password, and an environment carrying it: never on a command line."""
    parts = psycopg.conninfo.conninfo_to_dict(dsn)
    password = parts.pop("password", None)
    env = dict(os.environ)
    if password:
        env["PGPASSWORD"] = str(password)
    return psycopg.conninfo.make_conninfo(**parts), env


def _dump(
    ctx: Context, psycopg: Any, source: str, pg_dump: str, dump: Path, result: Result
) -> dict[str, Any]:
    ctx.record("postgresql", "BEGIN READ ONLY; pg_export_snapshot; count(*) per table", "source")
    with psycopg.connect(source, connect_timeout=max(int(ctx.remaining()), 2)) as conn:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        # Counting waits on locks like any reader: bound it by what is left of --timeout.
        conn.execute(f"SET LOCAL statement_timeout = {int(ctx.remaining() * 1000)}")
        snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
        tables = [
            f"{schema}.{name}"
            for schema, name in conn.execute(
                "SELECT schemaname, tablename FROM pg_tables WHERE schemaname NOT IN"
                " ('pg_catalog', 'information_schema') ORDER BY 1, 2"
            ).fetchall()
        ]
        counts = {table: _count(psycopg, conn, table) for table in tables}
        extension = conn.execute(
            "SELECT extversion FROM pg_extension WHERE extname = 'vector'"
        ).fetchone()
        hnsw = [
            (name, definition)
            for name, definition in conn.execute(
                "SELECT schemaname || '.' || indexname, indexdef FROM pg_indexes"
                " WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1"
            ).fetchall()
            if _HNSW.search(definition)
        ]
        lag = conn.execute(
            "SELECT CASE WHEN pg_is_in_recovery()"
            " THEN extract(epoch FROM now() - pg_last_xact_replay_timestamp()) ELSE 0 END"
        ).fetchone()[0]
        ctx.record("postgresql", "pg_dump --format=custom --snapshot", "source")
        conninfo, env = _split_password(psycopg, source)
        started = time.monotonic()
        _run(
            ctx,
            [pg_dump, "--format=custom", f"--snapshot={snapshot}", f"--file={dump}", conninfo],
            env,
        )
        result.measurements["dump_seconds"] = round(time.monotonic() - started, 3)
        conn.rollback()
    result.data_age_seconds = float(lag) if lag is not None else None
    if extension is None:
        result.fail("the source has no vector extension: this is not a pgvector database")
    return {
        "counts": counts,
        "extension": extension[0] if extension else None,
        "hnsw": hnsw,
    }


def _count(psycopg: Any, conn: Any, table: str) -> int:
    schema, name = table.split(".", 1)
    query = psycopg.sql.SQL("SELECT count(*) FROM {}.{}").format(
        psycopg.sql.Identifier(schema), psycopg.sql.Identifier(name)
    )
    return int(conn.execute(query).fetchone()[0])


def _restore(
    ctx: Context,
    pg_restore: str,
    dump: Path,
    target: str,
    hnsw: list[tuple[str, str]],
    work: str,
    result: Result,
) -> None:
    """Everything but the HNSW indexes, timed as the restore."""
    import psycopg

    listing = subprocess.run(
        [pg_restore, "--list", str(dump)],
        capture_output=True,
        text=True,
        check=True,
        timeout=ctx.remaining(),
    ).stdout
    left_out = {name.split(".", 1)[1] for name, _ in hnsw}
    kept = [
        line
        for line in listing.splitlines()
        if not (" INDEX " in line and line.split()[-2] in left_out)
    ]
    entries = Path(work) / "restore.list"
    entries.write_text("\n".join(kept) + "\n", encoding="utf-8")
    ctx.record("postgresql", "pg_restore (without HNSW indexes)", target_name(target), "scratch")
    conninfo, env = _split_password(psycopg, target)
    started = time.monotonic()
    _run(
        ctx,
        [
            pg_restore,
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            f"--use-list={entries}",
            f"--dbname={conninfo}",
            str(dump),
        ],
        env,
    )
    result.restore_seconds = round(time.monotonic() - started, 3)
    result.measure_rate()


def target_name(conninfo: str) -> str:
    import psycopg

    return str(psycopg.conninfo.conninfo_to_dict(conninfo).get("dbname", ""))


def _rebuild_indexes(
    ctx: Context, conn: Any, scratch: str, hnsw: list[tuple[str, str]], result: Result
) -> None:
    builds: dict[str, float] = {}
    for name, definition in hnsw:
        ctx.record("postgresql", "CREATE INDEX ... USING hnsw (timed)", scratch, "scratch")
        started = time.monotonic()
        conn.execute(f"SET statement_timeout = {int(ctx.remaining() * 1000)}")
        conn.execute(definition)
        builds[name] = round(time.monotonic() - started, 3)
    result.measurements["hnsw_build_seconds"] = builds
    if result.restore_seconds is not None:
        result.measurements["restore_without_index_seconds"] = result.restore_seconds
        result.restore_seconds = round(result.restore_seconds + sum(builds.values()), 3)
        result.measure_rate()
    if not hnsw:
        result.measurements["hnsw"] = "the source has no HNSW index"


def _verify(ctx: Context, psycopg: Any, conn: Any, facts: dict[str, Any], result: Result) -> None:
    ctx.record("postgresql", "count(*) per table; recall@k queries", target_name(conn.info.dsn))
    extension = conn.execute(
        "SELECT extversion FROM pg_extension WHERE extname = 'vector'"
    ).fetchone()
    restored = {table: _count(psycopg, conn, table) for table in facts["counts"]}
    differ = {
        table: {"source": facts["counts"][table], "restored": restored[table]}
        for table in restored
        if restored[table] != facts["counts"][table]
    }
    result.integrity = {
        "vector_extension": extension[0] if extension else None,
        "source_vector_extension": facts["extension"],
        "row_counts": restored,
        "row_count_mismatches": differ,
    }
    if extension is None:
        result.fail("the restored database has no vector extension")
    if differ:
        result.fail(f"row counts differ from the dump's snapshot: {differ}")


def _recall(
    ctx: Context, psycopg: Any, conn: Any, queries: tuple[EvalQuery, ...], result: Result
) -> None:
    sql = psycopg.sql

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
        except psycopg.Error as error:
            raise DrillError(f"recall query on {query.table} failed: {error}") from None

    judge_recall(result, queries, search, ctx.remaining)


def _drop(ctx: Context, psycopg: Any, admin: Any, scratch: str, result: Result) -> None:
    if not result.scratch:
        return
    if ctx.keep:
        result.cleanup.append(f"kept postgresql database {scratch} (--keep)")
        return
    ctx.record("postgresql", "DROP DATABASE", scratch, "scratch")
    try:
        admin.execute(
            psycopg.sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                _ident(psycopg, scratch)
            )
        )
        result.cleanup.append(f"dropped postgresql database {scratch}")
    except psycopg.Error as error:
        message = f"could not drop scratch database {scratch}: {error}; drop it by hand"
        result.cleanup.append(message)
        result.error(message)


def _ident(psycopg: Any, name: str) -> Any:
    return psycopg.sql.Identifier(name)


def _run(ctx: Context, command: list[str], env: dict[str, str]) -> None:
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, env=env, timeout=ctx.remaining()
        )
    except subprocess.TimeoutExpired:
        raise DrillError(f"{Path(command[0]).name} timed out (--timeout)") from None
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        raise DrillError(
            f"{Path(command[0]).name} failed: {lines[-1] if lines else done.returncode}"
        )
