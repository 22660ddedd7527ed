"""The retrieval evaluation set (`components.vector_store.eval`): queries and expected neighbours.

One JSON object per line:
`{"table": "passages", "query": [0.1, ...], "expected": [17, 4, 99], "k": 3}`, optionally with
`column` (default `embedding`), `id_column` (default `id`) and `distance` (`l2`, `cosine` or
`ip`, default `l2`). The file is read only from inside the workload's folder, never through a
symbolic link, and only up to `EVAL_MAX_BYTES`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

from drgen.drill.base import DrillError, Result
from drgen.files import read_at_most

EVAL_MAX_BYTES = 16 * 1024 * 1024
"""An evaluation set is a few hundred queries; anything this large is a mistake."""

MIN_RECALL = 0.9
"""Recall@k below this fails the drill: HNSW defaults (pgvector m 16, ef_search 40; the snapshot
engines' similar defaults) reach well above it on typical embeddings, so a lower figure means
the index or the data came back wrong."""

DISTANCES = {"l2": "<->", "cosine": "<=>", "ip": "<#>"}
"""pgvector's distance operators."""

T = TypeVar("T")

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$")


@dataclass(frozen=True)
class EvalQuery:
    table: str
    column: str
    id_column: str
    distance: str
    query: tuple[float, ...]
    expected: tuple[str, ...]
    k: int


def read_eval(workload_dir: Path, relative: str) -> tuple[EvalQuery, ...]:
    """Parse the evaluation set; raise `DrillError` naming the file and line of any problem."""
    queries = tuple(read_jsonl(workload_dir, relative, EVAL_MAX_BYTES, _query))
    if not queries:
        raise DrillError(f"{relative}: no queries")
    return queries


def read_jsonl(
    workload_dir: Path, relative: str, max_bytes: int, parse: Callable[[Any], T]
) -> list[T]:
    """Each non-blank line of a JSON Lines file inside the workload's folder, parsed by `parse`;
    raise `DrillError` naming the file, and the line of any problem (`parse` raises ValueError,
    TypeError or KeyError). Never through a symbolic link, never more than `max_bytes`."""
    path = _inside(workload_dir, relative)
    try:
        data = read_at_most(path, max_bytes)
    except OSError as error:
        raise DrillError(f"{relative}: cannot be read: {error.strerror or error}") from None
    if len(data) > max_bytes:
        raise DrillError(f"{relative}: over {_size(max_bytes)}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise DrillError(f"{relative}: not UTF-8 text") from None
    parsed = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            parsed.append(parse(json.loads(line)))
        except (ValueError, TypeError, KeyError) as error:
            raise DrillError(f"{relative}:{number}: {error}") from None
    return parsed


def _size(limit: int) -> str:
    return f"{limit // 2**20} MiB" if limit >= 2**20 else f"{limit // 2**10} KiB"


def _inside(workload_dir: Path, relative: str) -> Path:
    pure = PurePosixPath(relative)
    if pure.is_absolute() or ".." in pure.parts:
        raise DrillError(f"{relative}: must be inside the workload's folder")
    base = workload_dir.resolve()
    current = base
    for part in pure.parts:
        current = current / part
        if current.is_symlink():
            raise DrillError(f"{relative}: {part} is a symbolic link; name the file itself")
    if not current.is_file():
        raise DrillError(f"{relative}: no such file next to the workload file")
    if not current.resolve().is_relative_to(base):
        raise DrillError(f"{relative}: must be inside the workload's folder")
    return current


def _query(raw: Any) -> EvalQuery:
    if not isinstance(raw, dict):
        raise ValueError("each line must be a JSON object")
    unknown = set(raw) - {"table", "column", "id_column", "distance", "query", "expected", "k"}
    if unknown:
        raise ValueError(f"unknown key(s): {', '.join(sorted(unknown))}")
    names = {
        "table": raw["table"],
        "column": raw.get("column", "embedding"),
        "id_column": raw.get("id_column", "id"),
    }
    for key, value in names.items():
        if not isinstance(value, str) or not _IDENTIFIER.fullmatch(value):
            raise ValueError(f"{key}: {value!r} is not a table or column name")
    distance = raw.get("distance", "l2")
    if distance not in DISTANCES:
        raise ValueError(f"distance: {distance!r} is not one of {', '.join(DISTANCES)}")
    query = raw["query"]
    if not isinstance(query, list) or not query:
        raise ValueError("query: expected a list of numbers")
    if not all(isinstance(x, int | float) and not isinstance(x, bool) for x in query):
        raise ValueError("query: expected a list of numbers")
    expected = raw["expected"]
    if not isinstance(expected, list) or not expected:
        raise ValueError("expected: expected a list of ids")
    k = raw.get("k", len(expected))
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= len(expected):
        raise ValueError(f"k: expected a whole number from 1 to {len(expected)}")
    return EvalQuery(
        table=names["table"],
        column=names["column"],
        id_column=names["id_column"],
        distance=distance,
        query=tuple(float(x) for x in query),
        expected=tuple(str(x) for x in expected),
        k=k,
    )


def judge_recall(
    result: Result,
    queries: Iterable[EvalQuery],
    search: Callable[[EvalQuery], Iterable[str]],
    check_deadline: Callable[[], object] | None = None,
) -> float:
    """Recall@k of `search` (the ids it finds for a query) over the evaluation set, recorded in
    the result's integrity; below MIN_RECALL fails the drill."""
    scores = []
    for query in queries:
        if check_deadline is not None:
            check_deadline()
        found = set(list(search(query))[: query.k])
        wanted = set(query.expected[: query.k])
        scores.append(len(found & wanted) / len(wanted))
    recall = round(sum(scores) / len(scores), 4) if scores else 0.0
    result.integrity["recall_at_k"] = recall
    result.integrity["recall_queries"] = len(scores)
    if recall < MIN_RECALL:
        result.fail(f"recall@k {recall} on the evaluation set is below {MIN_RECALL}")
    return recall
