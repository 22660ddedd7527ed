"""The command line: each command end to end on small inputs."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from drgen.write import MANIFEST
from tests.conftest import MINIMAL, ROOT

Cli = Callable[..., Result]


def test_help_lists_every_command(run_cli: Cli) -> None:
    result = run_cli("--help")

    for command in ("validate", "plan", "schema", "init", "render"):
        assert command in result.output


def test_validate_ok(workload_file: Callable[..., Path], run_cli: Cli) -> None:
    path = workload_file(MINIMAL)

    result = run_cli("validate", str(path))

    assert result.exit_code == 0
    assert result.stdout == "workload.yaml: ok (aws, tier 2, cold-restore)\n"


def test_plan_table_and_json(workload_file: Callable[..., Path], run_cli: Cli) -> None:
    path = workload_file(MINIMAL)

    table = run_cli("plan", str(path))
    as_json = run_cli("plan", str(path), "--json")

    assert "pattern cold-restore (tier default)" in table.output
    assert "demo-workload-models-us-east-1" in table.output
    assert json.loads(as_json.output)["pattern"] == "cold-restore"


def test_schema_is_json_schema_with_descriptions(run_cli: Cli) -> None:
    schema = json.loads(run_cli("schema").output)

    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {"name", "tier", "cloud", "regions"}
    assert all("description" in field for field in schema["properties"].values())


@pytest.mark.parametrize("cloud", ["aws", "gcp"])
@pytest.mark.parametrize("tier", [0, 1, 2, 3])
def test_init_writes_a_valid_starter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli: Cli, tier: int, cloud: str
) -> None:
    monkeypatch.chdir(tmp_path)

    written = run_cli("init", "--tier", str(tier), "--cloud", cloud, "--name", "starter")
    validated = run_cli("validate", "workload.yaml")

    assert written.exit_code == 0
    assert validated.exit_code == 0, validated.stderr


def test_init_gives_each_starter_its_own_bucket_suffix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli: Cli
) -> None:
    # S3 and GCS bucket names are global: two teams' starters must not derive the same names
    # (issue 13, item 10). An explicit --suffix keeps init reproducible.
    monkeypatch.chdir(tmp_path)
    run_cli("init", "-o", "a.yaml")
    run_cli("init", "-o", "b.yaml")
    chosen = run_cli("init", "--cloud", "gcp", "--suffix", "ab12", "-o", "c.yaml")

    suffixes = [
        re.search(r"^  suffix: ([a-z0-9]+)$", Path(name).read_text(), re.M)
        for name in ("a.yaml", "b.yaml", "c.yaml")
    ]
    assert all(suffixes)
    a, b, c = (m[1] for m in suffixes if m)
    assert len(a) == len(b) == 6 and a != b
    assert chosen.exit_code == 0 and c == "ab12"
    refused = run_cli("init", "--suffix", "Bad_Suffix", "-o", "d.yaml")
    assert refused.exit_code == 2 and "--suffix" in refused.stderr
    assert not Path("d.yaml").exists()


def test_init_never_overwrites(workload_file: Callable[..., Path], run_cli: Cli) -> None:
    workload_file("mine\n")

    result = run_cli("init")

    assert result.exit_code == 1
    assert "already exists" in result.stderr
    assert Path("workload.yaml").read_text() == "mine\n"


TIER_3 = "name: sandbox\ntier: 3\ncloud: aws\nregions: {primary: eu-west-1}\n"


def test_render_writes_a_project_and_is_idempotent(
    workload_file: Callable[..., Path], run_cli: Cli
) -> None:
    path = workload_file(TIER_3)

    first = run_cli("render", str(path), "-o", "out")
    second = run_cli("render", str(path), "-o", "out")

    project = Path("out/sandbox")
    assert first.exit_code == 0
    assert {
        "Pulumi.yaml",
        "Pulumi.eu-west-1.yaml",
        "__main__.py",
        "requirements.txt",
        "README.md",
        MANIFEST,
    } <= {p.name for p in project.iterdir()}
    assert "0 written" in second.output


def test_render_keeps_user_files_and_removes_only_its_own(
    workload_file: Callable[..., Path], run_cli: Cli
) -> None:
    path = workload_file(TIER_3 + "components: {prompts: {path: prompts}}\n")
    workload_file("v1\n", "prompts/a.md")
    run_cli("render", str(path), "-o", "out")
    Path("out/sandbox/notes.md").write_text("my notes\n")
    Path("prompts/a.md").rename("prompts/b.md")

    result = run_cli("render", str(path), "-o", "out")

    assert result.exit_code == 0
    assert Path("out/sandbox/notes.md").read_text() == "my notes\n"
    assert not Path("out/sandbox/prompts/a.md").exists()
    assert Path("out/sandbox/prompts/b.md").read_text() == "v1\n"


def test_render_refuses_to_overwrite_files_it_did_not_write(
    workload_file: Callable[..., Path], run_cli: Cli
) -> None:
    path = workload_file(TIER_3)
    Path("out/sandbox").mkdir(parents=True)
    Path("out/sandbox/__main__.py").write_text("print('mine')\n")

    result = run_cli("render", str(path), "-o", "out")

    assert result.exit_code == 1
    assert "files drgen did not write" in result.stderr
    assert Path("out/sandbox/__main__.py").read_text() == "print('mine')\n"


def test_failed_render_writes_nothing(workload_file: Callable[..., Path], run_cli: Cli) -> None:
    good = workload_file(TIER_3)
    bad = workload_file(TIER_3.replace("tier: 3", "tier: 9"), "bad.yaml")

    result = run_cli("render", str(good), str(bad), "-o", "out")

    assert result.exit_code == 1
    assert not Path("out").exists()


def test_render_refuses_two_workloads_with_one_name(
    workload_file: Callable[..., Path], run_cli: Cli
) -> None:
    first = workload_file(TIER_3)
    second = workload_file(TIER_3, "other/workload.yaml")

    result = run_cli("render", str(first), str(second), "-o", "out")

    assert result.exit_code == 1
    assert "workload name 'sandbox' is also used by" in result.stderr


def test_render_writes_a_gcp_project(workload_file: Callable[..., Path], run_cli: Cli) -> None:
    path = workload_file(TIER_3.replace("aws", "gcp").replace("eu-west-1", "europe-west1"))

    result = run_cli("render", str(path), "-o", "out")

    assert result.exit_code == 0, result.output
    assert "pulumi-gcp" in Path("out/sandbox/requirements.txt").read_text()


def test_user_strings_cannot_inject_code(workload_file: Callable[..., Path], run_cli: Cli) -> None:
    path = workload_file(TIER_3 + 'owner: "x\\"\\nimport os  # \\u2028\\\\"\n')

    result = run_cli("render", str(path), "-o", "out")

    settings = Path("out/sandbox/settings.py").read_text()
    namespace: dict[str, object] = {}
    exec(compile(settings, "settings.py", "exec"), namespace)
    assert result.exit_code == 0
    assert namespace["OWNER"] == 'x"\nimport os  # \u2028\\'


def test_readme_inputs_table_is_the_generated_one(run_cli: Callable[..., Result]) -> None:
    readme = (ROOT / "README.md").read_text()

    result = run_cli("schema", "--markdown")

    assert result.exit_code == 0
    assert result.output in readme, "README is stale: paste `drgen schema --markdown` into it"
