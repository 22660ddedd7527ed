"""Drill evidence and `drgen check --evidence`: measured restores replace assumed figures, a
component whose last drill is missing, failed or older than its tier's calendar is at-risk, and
a report whose recorded SHA-256 no longer matches is refused."""

from __future__ import annotations

import datetime
import hashlib
from pathlib import Path
from typing import Any

import pytest

from drgen.check import check
from drgen.drill.base import Result
from drgen.drill.evidence import as_json, read_evidence, report_payload
from drgen.errors import DrgenError
from drgen.loader import load_workload
from drgen.plan import resolve
from tests.conftest import ROOT

CONTRACTS = ROOT / "examples/contract-review/workload.yaml"
TODAY = datetime.date(2026, 11, 29)


def _write(folder: Path, finished: datetime.date, **components: dict[str, Any]) -> Path:
    """A drill report for contract-review, as `drgen drill` writes it."""
    results = []
    for name, fields in components.items():
        result = Result(component=name, engine=None, region="ap-southeast-4", **fields)
        result.measure_rate()
        results.append(result)
    meta = {
        "workload": "contract-review",
        "run_id": f"{finished:%Y%m%d}t000000zabcd",
        "finished": f"{finished.isoformat()}T10:00:00+00:00",
    }
    data = as_json(report_payload(meta, results, []))
    folder.mkdir(exist_ok=True)
    path = folder / f"contract-review-{finished}.json"
    path.write_bytes(data)
    path.with_name(path.name + ".sha256").write_text(f"{hashlib.sha256(data).hexdigest()}  x\n")
    return path


def _findings(folder: Path, today: datetime.date = TODAY) -> dict[str, Any]:
    plan = resolve(load_workload(CONTRACTS))
    report = check(plan, today, evidence=read_evidence(folder))
    return {f.subject.split(" ")[0]: f for f in report.findings}


def test_measured_rate_replaces_the_assumed_one(tmp_path: Path) -> None:
    # 2 GB restored in 10 s: 200 MB/s, so the declared 120 GB restore in 600 s.
    _write(
        tmp_path,
        TODAY - datetime.timedelta(days=10),
        vector_store={"restore_seconds": 10.0, "bytes": 2_000_000_000},
        models={"restore_seconds": 1.0, "bytes": 1},
        audit_log={"restore_seconds": 1.0, "bytes": 1},
    )
    vectors = _findings(tmp_path)["vector_store"]
    assert vectors.rto is not None and vectors.rto.seconds == 600 and not vectors.rto.assumed
    assert "measured 200 MB/s" in vectors.basis and "20261119t000000zabcd" in vectors.basis
    assert vectors.cells()[3] == "10m", "a measured estimate carries no ~"


def test_a_slow_measured_restore_makes_the_objective_unmet(tmp_path: Path) -> None:
    # 10 MB in 100 s: 0.1 MB/s, so the declared 120 GB take two weeks against a 3-day RTO.
    _write(
        tmp_path,
        TODAY - datetime.timedelta(days=1),
        vector_store={"restore_seconds": 100.0, "bytes": 10_000_000},
    )
    assert _findings(tmp_path)["vector_store"].verdict == "unmet"


def test_stale_missing_and_failed_drills(tmp_path: Path) -> None:
    _write(
        tmp_path,
        TODAY - datetime.timedelta(days=200),
        vector_store={"restore_seconds": 10.0, "bytes": 2_000_000_000},
        models={"outcome": "fail", "failures": ["checksum mismatch"]},
    )
    findings = _findings(tmp_path)
    assert findings["vector_store"].verdict == "at-risk"
    assert "older than the semi-annual calendar" in findings["vector_store"].basis
    assert findings["models"].verdict == "unmet"
    assert "failed" in findings["models"].basis
    assert findings["audit_log"].verdict == "at-risk"
    assert "never drilled" in findings["audit_log"].basis
    fresh = _findings(tmp_path, TODAY - datetime.timedelta(days=100))["vector_store"]
    assert "older than" not in fresh.basis


def test_an_edited_report_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, TODAY, models={"restore_seconds": 1.0, "bytes": 1})
    path.write_text(path.read_text().replace('"pass"', '"PASS"'))
    with pytest.raises(DrgenError, match="SHA-256 does not match"):
        read_evidence(tmp_path)


def test_check_cli_reads_evidence(tmp_path: Path, run_cli: Any) -> None:
    _write(
        tmp_path / "drills",
        datetime.date.today(),
        vector_store={"restore_seconds": 10.0, "bytes": 2_000_000_000},
    )
    result = run_cli("check", str(CONTRACTS), "--evidence", str(tmp_path / "drills"))
    assert "replaces the assumed figure" in result.output
    assert "never drilled" in result.output
    missing = run_cli("check", str(CONTRACTS), "--evidence", str(tmp_path / "none"))
    assert missing.exit_code == 1 and "no such folder" in missing.stderr


def test_runbook_drill_commands_run(run_cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each partial restore in a generated RUNBOOK names a `drgen drill` that drgen accepts."""
    import re
    import shlex

    monkeypatch.chdir(ROOT)
    runbook = (ROOT / "stacks/fraud-scoring/RUNBOOK.md").read_text()
    commands = re.findall(r"- Run it: `(drgen drill [^`]+)`", runbook)
    components = [shlex.split(c)[shlex.split(c).index("--component") + 1] for c in commands]
    assert components == ["vendors", "models", "vector_store", "feature_store", "audit_log"]
    for command in commands:
        args = shlex.split(command.replace("$RECOVERY_DSN", "x").replace("$SCRATCH_DSN", "y"))
        result = run_cli(*args[1:], "--dry-run")
        assert result.exit_code == 0, result.output
        assert any(f"[{effect}]" in result.output for effect in ("scratch", "read", "mock"))
